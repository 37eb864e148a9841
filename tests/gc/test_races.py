# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Each race between a sweep and a writer, forced in both orders (docs/gc.rst, "No race
loses data"). A Gate freezes one party at the worst moment, the other runs, and the end
state must be consistent: no row without its object, and the writer either succeeded with
everything kept or failed with a clean error."""

from __future__ import annotations

import pytest

from hareg.check.objects import find_missing_objects
from hareg.config import RetentionRule
from hareg.gc import collect
from hareg.registry import uploads
from hareg.registry.errors import ManifestBlobUnknown
from hareg.storage import layout
from tests import oci
from tests.gc.conftest import Env
from tests.gc.races import TIMEOUT, Gate, in_thread, keys_of, wait_until_blocked

REPO = "race/app"


def _image() -> oci.Manifest:
    return oci.image_manifest(oci.config_blob(), [oci.random_blob(700)])


def _pulls_completely(env: Env, repo: str, tag: str, manifest: oci.Manifest) -> None:
    """The tag names ``manifest`` in rows and links, and every object it needs exists."""
    (digest,) = env.query("SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id"
                          " JOIN repositories r ON r.id = t.repository_id"
                          " WHERE r.name = %s AND t.name = %s", repo, tag)[0]
    assert digest == manifest.digest
    link = layout.parse_link(env.storage.get_bytes(layout.tag_current_link(repo, tag)))
    assert link == manifest.digest
    assert env.storage.get_bytes(layout.blob_data(manifest.digest)) == manifest.data
    assert env.exists(layout.revision_link(repo, manifest.digest))
    for blob in manifest.blobs:
        assert env.has_link(repo, blob.digest)
        assert env.storage.get_bytes(layout.blob_data(blob.digest)) == blob.data
    assert find_missing_objects(env.reg) == []


# ------------------------------------------------------------- manifest PUT vs sweep


@pytest.mark.parametrize("frozen_at", ["link", "blob"])
def test_manifest_put_racing_blob_sweep_never_leaves_dangling_reference(
        env: Env, monkeypatch: pytest.MonkeyPatch, frozen_at: str) -> None:
    """Sweep first: it holds the layer's exclusive lock with its rows deleted; the PUT waits,
    then finds no link and fails with MANIFEST_BLOB_UNKNOWN. The client re-pushes."""
    image = _image()
    for blob in image.blobs:  # pushed, never referenced: garbage once old
        env.push_blob(REPO, blob)
    env.age()
    layer = image.blobs[1].digest
    key = layout.layer_link(REPO, layer) if frozen_at == "link" else layout.blob_data(layer)
    gate = Gate(monkeypatch, env.storage, "delete_many", keys_of(key))
    sweep = in_thread(env.gc)
    gate.wait()
    assert not env.has_link(REPO, layer)
    put = in_thread(lambda: env.push_manifest(REPO, image, "v1"))
    wait_until_blocked(env, put)
    gate.open()
    with pytest.raises(ManifestBlobUnknown):
        put.result(TIMEOUT)
    sweep.result(TIMEOUT)
    assert not env.has_manifest(REPO, image.digest)
    assert find_missing_objects(env.reg) == []

    env.push_image(REPO, image, "v1")  # what a client does after MANIFEST_BLOB_UNKNOWN
    _pulls_completely(env, REPO, "v1", image)


def test_manifest_put_holding_its_locks_makes_the_sweep_skip_the_blobs(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """PUT first: frozen inside its transaction, it holds the shared locks of the blobs it
    references; the sweep does not wait for it and leaves those blobs alone."""
    image = _image()
    for blob in image.blobs:
        env.push_blob(REPO, blob)
    env.age()
    gate = Gate(monkeypatch, env.storage, "put_bytes",
                keys_of(layout.tag_current_link(REPO, "v1")))
    put = in_thread(lambda: env.push_manifest(REPO, image, "v1"))
    gate.wait()
    counts = env.gc().summary.counts  # returns although the PUT is frozen
    assert (counts.links, counts.blobs) == (0, 0)
    assert counts.skipped >= 4  # 2 links, 2 blobs
    gate.open()
    put.result(TIMEOUT)
    env.gc()
    _pulls_completely(env, REPO, "v1", image)


# --------------------------------------------------------------- re-upload vs sweep


def test_blob_reupload_racing_its_sweep_ends_with_the_object_present(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweep first: row deleted and committed, object not yet; the upload's completion waits
    for the lock, then finds no row and writes object and row again."""
    data = oci.random_bytes(2000)
    digest = env.push_blob(REPO, data)
    env.age()
    gate = Gate(monkeypatch, env.storage, "delete_many", keys_of(layout.blob_data(digest)))
    sweep = in_thread(env.gc)
    gate.wait()
    assert not env.has_blob(digest) and env.exists(layout.blob_data(digest))
    upload = in_thread(lambda: uploads.upload_whole(env.reg, REPO, digest, [data], len(data)))
    wait_until_blocked(env, upload)
    gate.open()
    assert upload.result(TIMEOUT) == digest
    assert sweep.result(TIMEOUT).summary.counts.blobs == 1
    assert env.has_blob(digest) and env.has_link(REPO, digest)
    assert env.storage.get_bytes(layout.blob_data(digest)) == data
    assert env.exists(layout.layer_link(REPO, digest))
    assert find_missing_objects(env.reg) == []


def test_blob_reupload_holding_its_lock_makes_the_sweep_skip_it(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upload first: frozen after inserting its rows, it holds the digest's shared lock; the
    sweep skips the digest instead of deleting the object under it."""
    data = oci.random_bytes(2000)
    digest = env.push_blob("race/other", data)
    env.age()
    gate = Gate(monkeypatch, env.storage, "put_bytes", keys_of(layout.layer_link(REPO, digest)))
    upload = in_thread(lambda: uploads.upload_whole(env.reg, REPO, digest, [data], len(data)))
    gate.wait()
    counts = env.gc().summary.counts
    assert counts.blobs == 0
    gate.open()
    upload.result(TIMEOUT)
    assert env.has_blob(digest) and env.storage.get_bytes(layout.blob_data(digest)) == data
    assert find_missing_objects(env.reg) == []


# ----------------------------------------------------------------- tag move vs sweep


def test_tag_moved_onto_a_manifest_the_sweep_is_deleting_keeps_its_new_target(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweep first: the untagged manifest's row is deleted, its revision link not yet; the
    push that tags it waits for the digest's lock, then records the manifest again."""
    config, layer = oci.config_blob(), oci.random_blob(700)
    target = oci.image_manifest(config, [layer], annotations={"build": "1"})
    other = oci.image_manifest(config, [layer], annotations={"build": "2"})  # same blobs
    env.push_image(REPO, target)
    env.push_image(REPO, other, "v1")
    env.age()
    gate = Gate(monkeypatch, env.storage, "delete_many",
                keys_of(layout.revision_link(REPO, target.digest)))
    sweep = in_thread(env.gc)
    gate.wait()
    assert not env.has_manifest(REPO, target.digest)
    put = in_thread(lambda: env.push_manifest(REPO, target, "v2"))
    wait_until_blocked(env, put)
    gate.open()
    put.result(TIMEOUT)
    counts = sweep.result(TIMEOUT).summary.counts
    assert counts.manifests == 1 and counts.blobs == 0
    _pulls_completely(env, REPO, "v2", target)
    _pulls_completely(env, REPO, "v1", other)


def test_tag_push_racing_the_sweep_of_all_it_needs_either_wins_or_fails_cleanly(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest and its blobs are all garbage: after the gate opens the push and the
    sweep's link phase race for the blobs' locks. Either order is allowed; both must leave a
    consistent registry, and a failed push succeeds when the client pushes again."""
    target = _image()
    env.push_image(REPO, target)
    env.age()
    gate = Gate(monkeypatch, env.storage, "delete_many",
                keys_of(layout.revision_link(REPO, target.digest)))
    sweep = in_thread(env.gc)
    gate.wait()
    put = in_thread(lambda: env.push_manifest(REPO, target, "v1"))
    wait_until_blocked(env, put)
    gate.open()
    try:
        put.result(TIMEOUT)
    except ManifestBlobUnknown:
        sweep.result(TIMEOUT)
        assert find_missing_objects(env.reg) == []
        env.push_image(REPO, target, "v1")
    sweep.result(TIMEOUT)
    _pulls_completely(env, REPO, "v1", target)


def test_tag_moved_after_the_mark_keeps_its_new_target(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan marks an untagged manifest as garbage; a push tags it before the sweep gets
    there: the re-check under the row lock sees the tag and skips it."""
    target, other = _image(), _image()
    env.push_image(REPO, target)
    env.push_image(REPO, other, "v1")
    env.age()
    make_plan = collect.make_plan

    def plan_then_push(*args: object) -> object:
        plan = make_plan(*args)  # type: ignore[arg-type]
        assert [m.digest for m in plan.manifests] == [target.digest]
        env.push_manifest(REPO, target, "v1")
        return plan

    monkeypatch.setattr(collect, "make_plan", plan_then_push)
    counts = env.gc().summary.counts
    assert counts.manifests == 0 and counts.skipped >= 1
    _pulls_completely(env, REPO, "v1", target)
    assert env.has_manifest(REPO, other.digest)  # untagged now; the next sweep takes it


def test_tag_moved_while_retention_deletes_it_keeps_its_new_target(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention dooms an old tag; it is pushed again before the sweep takes its lock: the
    re-check (same manifest, same push time) fails and the tag stays."""
    env = env.with_rules(RetentionRule(repository="race/*", keep_last=1))
    old, newer, moved = _image(), _image(), _image()
    env.push_image(REPO, old, "old")
    env.age(100)
    env.push_image(REPO, newer, "new")
    make_plan = collect.make_plan

    def plan_then_push(*args: object) -> object:
        plan = make_plan(*args)  # type: ignore[arg-type]
        assert [t.tag for t in plan.tags] == ["old"]
        env.push_image(REPO, moved, "old")
        return plan

    monkeypatch.setattr(collect, "make_plan", plan_then_push)
    assert env.gc().summary.counts.tags == 0
    assert env.tags(REPO) == ["new", "old"]
    _pulls_completely(env, REPO, "old", moved)


def test_tag_push_waits_for_retention_and_then_creates_the_tag_again(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention first: it holds the tag's lock between deleting the row and its links; the
    push of that tag waits, and afterwards row and links agree on the new target."""
    env = env.with_rules(RetentionRule(repository="race/*", keep_last=1))
    old, newer, again = _image(), _image(), _image()
    env.push_image(REPO, old, "old")
    env.age(100)
    env.push_image(REPO, newer, "new")
    for blob in again.blobs:
        env.push_blob(REPO, blob)
    gate = Gate(monkeypatch, env.storage, "delete_many",
                keys_of(layout.tag_current_link(REPO, "old")))
    sweep = in_thread(lambda: env.gc())
    gate.wait()
    put = in_thread(lambda: env.push_manifest(REPO, again, "old"))
    wait_until_blocked(env, put)
    gate.open()
    put.result(TIMEOUT)
    assert sweep.result(TIMEOUT).summary.counts.tags == 1
    _pulls_completely(env, REPO, "old", again)


# ------------------------------------------------------------ index PUT vs child sweep


def test_index_push_racing_child_sweep_fails_cleanly(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    child = _image()
    env.push_image(REPO, child)
    env.age()
    index = oci.image_index([child])
    gate = Gate(monkeypatch, env.storage, "delete_many",
                keys_of(layout.revision_link(REPO, child.digest)))
    sweep = in_thread(env.gc)
    gate.wait()
    with pytest.raises(ManifestBlobUnknown):
        env.push_manifest(REPO, index, "multi")
    gate.open()
    sweep.result(TIMEOUT)
    assert find_missing_objects(env.reg) == []


def test_index_push_holding_its_child_makes_the_sweep_keep_it(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    child = _image()
    env.push_image(REPO, child)
    env.age()
    index = oci.image_index([child])
    gate = Gate(monkeypatch, env.storage, "put_bytes",
                keys_of(layout.tag_current_link(REPO, "multi")))
    put = in_thread(lambda: env.push_manifest(REPO, index, "multi"))
    gate.wait()
    assert env.gc().summary.counts.manifests == 0  # the child's row is FOR SHARE locked
    gate.open()
    put.result(TIMEOUT)
    env.gc()
    assert env.has_manifest(REPO, child.digest) and env.has_manifest(REPO, index.digest)
    assert find_missing_objects(env.reg) == []


# -------------------------------------------------------- empty repository vs push


def test_push_into_a_repository_the_sweep_is_deleting_recreates_it(env: Env) -> None:
    """The sweep's statements for an empty repository, held open on a second connection:
    the push waits on the row lock and then creates the repository anew (no foreign key
    error from a repository id that vanished)."""
    digest = env.push_blob(REPO, b"soon gone")
    env.age()
    env.gc()
    env.push_blob(REPO, b"keeps the repository row")  # a fresh link...
    with env.reg.db.transaction() as cur:  # ... removed by hand: an empty, old repository
        cur.execute("DELETE FROM repository_blobs")
        cur.execute("UPDATE repositories SET created_at = now() - interval '2 hours'")
    import psycopg2

    sweep = psycopg2.connect(env.url)
    try:
        with sweep.cursor() as cur:
            cur.execute("SELECT id FROM repositories WHERE name = %s FOR UPDATE SKIP LOCKED",
                        (REPO,))
            (repo_id,) = cur.fetchone()
            cur.execute("DELETE FROM repositories WHERE id = %s", (repo_id,))
            data = b"pushed meanwhile"
            push = in_thread(lambda: env.push_blob(REPO, data))
            wait_until_blocked(env, push)
            sweep.commit()
        assert push.result(TIMEOUT) == oci.digest_of(data)
    finally:
        sweep.close()
    (new_id,) = env.query("SELECT id FROM repositories WHERE name = %s", REPO)[0]
    assert new_id != repo_id
    assert env.has_link(REPO, oci.digest_of(data))
    assert not env.has_blob(digest)
    assert find_missing_objects(env.reg) == []
