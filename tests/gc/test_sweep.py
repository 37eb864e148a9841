# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What a sweep deletes and what it keeps (real PostgreSQL, real storage)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg2
import pytest

from hareg.check.objects import find_missing_objects
from hareg.db import locks
from hareg.gc.collect import GcBusy
from hareg.registry import manifests, uploads
from hareg.storage import FilesystemDriver, layout
from tests import oci
from tests.gc.conftest import Env

REPO = "team/app"


def _image(*layers: oci.Blob) -> oci.Manifest:
    return oci.image_manifest(oci.config_blob(), list(layers) or [oci.random_blob(300)])


def _blob_gone(env: Env, digest: str) -> bool:
    return not env.has_blob(digest) and not env.exists(layout.blob_data(digest))


def test_untagged_manifest_is_collected_only_after_the_grace_period(env: Env) -> None:
    old, new = _image(), _image()
    env.push_image(REPO, old, "v1")
    env.push_image(REPO, new, "v1")  # moves v1: the old manifest is now untagged

    result = env.gc()
    assert result.summary is not None and result.summary.counts.manifests == 0
    assert env.has_manifest(REPO, old.digest)

    env.age()
    counts = env.gc().summary.counts
    assert counts.manifests == 1
    assert not env.has_manifest(REPO, old.digest)
    assert not env.exists(layout.revision_link(REPO, old.digest))
    for blob in old.blobs:  # its config and layer were used by nothing else
        assert _blob_gone(env, blob.digest)
        assert not env.has_link(REPO, blob.digest)
        assert not env.exists(layout.layer_link(REPO, blob.digest))
    assert _blob_gone(env, old.digest)  # the manifest's own payload
    assert env.has_manifest(REPO, new.digest) and env.tags(REPO) == ["v1"]
    for blob in new.blobs:
        assert env.has_blob(blob.digest) and env.exists(layout.blob_data(blob.digest))
    assert counts.bytes_freed == sum(b.size for b in old.blobs) + old.size
    assert find_missing_objects(env.reg) == []


def test_tagged_manifests_and_young_garbage_are_kept(env: Env) -> None:
    tagged = _image()
    env.push_image(REPO, tagged, "stable")
    env.age()
    young = _image()
    env.push_image(REPO, young)  # untagged, but younger than the grace period
    counts = env.gc().summary.counts
    assert (counts.manifests, counts.blobs, counts.links) == (0, 0, 0)
    assert env.has_manifest(REPO, tagged.digest) and env.has_manifest(REPO, young.digest)


def test_children_of_a_tagged_index_are_kept_then_collected_with_it(env: Env) -> None:
    a, b = _image(), _image()
    index = oci.image_index([a, b])
    env.push_image(REPO, index, "multi")
    env.age()
    assert env.gc().summary.counts.manifests == 0
    assert all(env.has_manifest(REPO, m.digest) for m in (index, a, b))

    manifests.delete_manifest(env.reg, REPO, "multi")
    counts = env.gc().summary.counts
    assert counts.manifests == 3  # the index first, then its children in the same sweep
    assert not any(env.has_manifest(REPO, m.digest) for m in (index, a, b))
    assert counts.blobs == 3 + 4  # 3 payloads, 2 configs + 2 layers
    assert find_missing_objects(env.reg) == []


def test_referrers_of_kept_manifests_are_kept(env: Env) -> None:
    image = _image()
    env.push_image(REPO, image, "v1")
    signature = oci.artifact_manifest(image, artifact_type="application/vnd.example.sig")
    sbom = oci.artifact_manifest(signature, artifact_type="application/vnd.example.sbom")
    env.push_image(REPO, signature)
    env.push_image(REPO, sbom)  # a referrer of a referrer
    env.age()
    assert env.gc().summary.counts.manifests == 0
    assert env.has_manifest(REPO, signature.digest) and env.has_manifest(REPO, sbom.digest)

    manifests.delete_manifest(env.reg, REPO, "v1")
    assert env.gc().summary.counts.manifests == 3  # subject, then referrer, then its referrer
    assert find_missing_objects(env.reg) == []


def test_keep_referrers_false_collects_untagged_referrers_of_tagged_images(env: Env) -> None:
    image = _image()
    env.push_image(REPO, image, "v1")
    signature = oci.artifact_manifest(image)
    env.push_image(REPO, signature)
    env.age()
    assert env.gc(keep_referrers=False).summary.counts.manifests == 1
    assert env.has_manifest(REPO, image.digest)
    assert not env.has_manifest(REPO, signature.digest)


def test_delete_untagged_false_keeps_untagged_manifests(env: Env) -> None:
    env.push_image(REPO, _image())
    env.age()
    assert env.gc(delete_untagged=False).summary.counts.manifests == 0


def test_shared_layer_is_kept_until_its_last_reference_goes(env: Env) -> None:
    shared = oci.random_blob(1000)
    first, second = _image(shared), _image(shared)
    env.push_image("team/a", first, "v1")
    env.push_image("team/b", second, "v1")
    env.age()

    manifests.delete_manifest(env.reg, "team/a", "v1")
    counts = env.gc().summary.counts
    assert counts.manifests == 1
    assert not env.has_link("team/a", shared.digest)
    assert not env.exists(layout.layer_link("team/a", shared.digest))
    assert env.has_link("team/b", shared.digest)
    assert env.has_blob(shared.digest) and env.exists(layout.blob_data(shared.digest))

    manifests.delete_manifest(env.reg, "team/b", "v1")
    env.gc()
    assert _blob_gone(env, shared.digest)
    assert find_missing_objects(env.reg) == []


def test_unreferenced_blob_and_link_are_collected_and_the_empty_repository_with_them(
        env: Env) -> None:
    digest = env.push_blob("lonely/repo", b"nobody references me")
    env.age()
    counts = env.gc().summary.counts
    assert (counts.links, counts.blobs, counts.repositories) == (1, 1, 1)
    assert _blob_gone(env, digest)
    assert not env.query("SELECT 1 FROM repositories WHERE name = 'lonely/repo'")
    assert not env.exists(layout.layer_link("lonely/repo", digest))


def test_abandoned_upload_is_collected_and_its_multipart_upload_aborted(any_env: Env) -> None:
    env = any_env
    data = os.urandom(5 * 1024 * 1024 + 10)  # one full part goes to a storage multipart upload
    stale = uploads.start_upload(env.reg, REPO)
    uploads.append_chunk(env.reg, REPO, stale.id, [data], len(data), None)
    env.age(48 * 3600)
    fresh = uploads.start_upload(env.reg, REPO)
    (upload_id,) = env.query("SELECT storage_upload_id FROM uploads WHERE id = %s", stale.id)[0]
    assert upload_id
    if isinstance(env.storage, FilesystemDriver):
        assert [p for p in Path(env.storage.root).rglob("*") if upload_id in p.name]

    counts = env.gc(upload_max_age="24h").summary.counts
    assert counts.uploads == 1
    assert not env.query("SELECT 1 FROM uploads WHERE id = %s", stale.id)
    assert env.query("SELECT 1 FROM uploads WHERE id = %s", fresh.id)
    if isinstance(env.storage, FilesystemDriver):  # its parts live in one hidden file
        leftovers = [p for p in Path(env.storage.root).rglob("*") if upload_id in p.name]
        assert leftovers == []
    else:
        listed = env.storage.client.list_multipart_uploads(Bucket=env.storage.bucket)
        assert [u for u in listed.get("Uploads", []) if u["UploadId"] == upload_id] == []


def _plant_orphans(env: Env) -> list[str]:
    digest = oci.fake_digest()
    keys = [
        layout.blob_data(digest),
        layout.layer_link("ghost/repo", digest),
        layout.revision_link("ghost/repo", digest),
        layout.tag_current_link("ghost/repo", "latest"),
        layout.tag_index_link("ghost/repo", "latest", digest),
    ]
    for key in keys:
        env.storage.put_bytes(key, layout.link_content(digest))
    return keys


def test_orphans_are_removed_only_with_the_flag_and_only_after_the_grace_period(
        env: Env) -> None:
    kept = _image()
    env.push_image(REPO, kept, "v1")
    env.age()
    orphans = _plant_orphans(env)

    env.gc()
    assert all(env.exists(k) for k in orphans), "without --orphans nothing is listed"
    assert env.gc(orphans=True).summary.counts.orphans == 0, "younger than the grace period"
    assert all(env.exists(k) for k in orphans)

    past = time.time() - 7200
    for key in orphans:
        os.utime(env.storage.local_path(key), (past, past))
    counts = env.gc(orphans=True).summary.counts
    assert counts.orphans == len(orphans)
    assert not any(env.exists(k) for k in orphans)
    # what rows know stays
    assert env.exists(layout.blob_data(kept.digest))
    assert env.exists(layout.tag_current_link(REPO, "v1"))
    assert find_missing_objects(env.reg) == []


def test_orphans_on_s3_with_no_grace(any_env: Env) -> None:
    env = any_env
    env.push_image(REPO, _image(), "v1")
    orphans = _plant_orphans(env)
    upload_key = layout.upload_data(REPO, "6d1e4c1e-0000-4000-8000-000000000000")
    env.storage.put_bytes(upload_key, b"half an upload")
    counts = env.gc(orphans=True, grace_period="0", upload_max_age="0").summary.counts
    assert counts.orphans == len(orphans) + 1
    assert not any(env.exists(k) for k in [*orphans, upload_key])
    assert find_missing_objects(env.reg) == []


def test_dry_run_deletes_nothing_and_reports_sizes(env: Env) -> None:
    old = _image()
    env.push_image(REPO, old, "v1")
    env.push_image(REPO, _image(), "v1")
    env.push_blob("lonely/repo", b"x" * 123)
    env.age()
    before = {t: env.query(f"SELECT count(*) FROM {t}")[0][0]
              for t in ("blobs", "repository_blobs", "manifests", "tags", "repositories")}
    files = {o.key for o in env.storage.list_objects("")}

    result = env.gc(dry_run=True)
    counts = result.summary.counts
    assert result.summary.dry_run
    assert (counts.manifests, counts.blobs, counts.links, counts.repositories) == (1, 4, 3, 1)
    assert counts.bytes_freed == sum(b.size for b in old.blobs) + old.size + 123
    assert {m.digest for m in result.plan.manifests} == {old.digest}
    after = {t: env.query(f"SELECT count(*) FROM {t}")[0][0] for t in before}
    assert after == before
    assert {o.key for o in env.storage.list_objects("")} == files


def test_history_records_every_run(env: Env) -> None:
    env.push_image(REPO, _image())
    env.age()
    env.gc(dry_run=True)
    env.gc()
    from hareg.gc import runs

    with env.reg.db.read() as cur:
        rows = runs.history(cur, 10)
    assert [(r["dry_run"], r["status"]) for r in rows] == [(False, "ok"), (True, "ok")]
    assert rows[0]["manifests_deleted"] == 1 and rows[1]["manifests_deleted"] == 1
    assert rows[0]["finished_at"] >= rows[0]["started_at"]


def test_a_second_concurrent_sweep_is_refused(env: Env) -> None:
    other = psycopg2.connect(env.url)
    other.autocommit = True
    try:
        with other.cursor() as cur:
            assert locks.try_session_lock(cur, locks.GC, locks.GC_NAME)
        with pytest.raises(GcBusy, match="another garbage collection is running"):
            env.gc()
        env.gc(dry_run=True)  # a dry run only reads: it may run meanwhile
    finally:
        other.close()
    env.gc()  # the lock went with the connection


def test_batches_adapt_to_the_time_their_locks_are_held() -> None:
    from hareg.gc.sweep import BatchSizer

    sizer = BatchSizer(1000, target=0.05)
    for _ in range(10):  # a quick storage: batches grow to the maximum
        sizer.observe(sizer.size, 0.001)
    assert sizer.size == 1000
    sizer.observe(1000, 0.5)  # a slow one: shrink so the next takes about the target
    assert sizer.size == 100
    slow = BatchSizer(1000, target=0.05)  # every call costs 0.2 s plus 1 ms per key
    for _ in range(20):
        slow.observe(slow.size, 0.2 + 0.001 * slow.size)
    assert 100 <= slow.size <= 400  # not shrunk to nothing: the fixed cost dominates
