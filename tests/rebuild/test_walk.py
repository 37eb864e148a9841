# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""rebuild-db's domain API against a filesystem bucket written through the layout."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg2
import pytest

from hareg.db import locks
from hareg.db.pool import Database
from hareg.rebuild import RebuildBusy, RebuildFailed
from hareg.storage import FilesystemDriver, layout
from tests.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    Blob,
    artifact_manifest,
    image_index,
    image_manifest,
    random_blob,
)
from tests.rebuild.bucket import BucketWriter

Run = Callable[..., dict[str, Any]]


def rows(db: Database, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.read() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def tags_of(db: Database, repo: str) -> dict[str, str]:
    return dict(rows(db, "SELECT t.name, m.digest FROM tags t JOIN manifests m"
                         " ON m.id = t.manifest_id JOIN repositories r ON r.id = t.repository_id"
                         " WHERE r.name = %s", repo))


def manifests_of(db: Database, repo: str) -> set[str]:
    return {r[0] for r in rows(db, "SELECT m.digest FROM manifests m JOIN repositories r"
                                   " ON r.id = m.repository_id WHERE r.name = %s", repo)}


def test_rebuilds_repositories_blobs_manifests_and_tags(bucket: BucketWriter, db: Database,
                                                        storage: FilesystemDriver,
                                                        run: Run) -> None:
    image = image_manifest()
    docker = image_manifest(media_type=DOCKER_MANIFEST)
    index = image_index([image_manifest(), image_manifest()])
    docker_list = image_index([docker], media_type=DOCKER_MANIFEST_LIST)
    sbom = artifact_manifest(image, annotations={"org.example": "sbom"})
    bucket.manifest("a/b/c", image, "latest", "v1")
    bucket.manifest("a/b/c", sbom)  # untagged referrer
    bucket.manifest("a", index, "multi")
    bucket.manifest("docker/app", docker_list, "stable")
    bucket.blob("a", random_blob(100))  # a blob with no manifest
    bucket.blob("unlinked", random_blob(10), link=False)

    summary = run()

    assert summary["status"] == "ok", summary
    assert summary["error_count"] == 0 and summary["warning_count"] == 0
    assert {r[0] for r in rows(db, "SELECT name FROM repositories")} == {"a", "a/b/c",
                                                                         "docker/app"}
    assert tags_of(db, "a/b/c") == {"latest": image.digest, "v1": image.digest}
    assert tags_of(db, "a") == {"multi": index.digest}
    assert manifests_of(db, "a/b/c") == {image.digest, sbom.digest}
    assert manifests_of(db, "docker/app") == {docker_list.digest, docker.digest}
    # media types, subject and artifact type as a push records them
    [(media_type, subject, artifact_type, notes)] = rows(
        db, "SELECT media_type, subject, artifact_type, annotations FROM manifests"
            " WHERE digest = %s", sbom.digest)
    assert (media_type, subject) == (sbom.media_type, image.digest)
    assert artifact_type == "application/vnd.example.artifact.v1"
    assert notes == {"org.example": "sbom"}
    assert rows(db, "SELECT DISTINCT media_type FROM manifests WHERE digest = %s",
                docker_list.digest) == [(DOCKER_MANIFEST_LIST,)]
    # every child of every index is linked
    assert rows(db, "SELECT count(*) FROM manifest_children WHERE child_id IS NULL") == [(0,)]
    assert rows(db, "SELECT count(*) FROM manifest_children") == [(3,)]
    # blob sizes come from the listing; every blob object has a row, links only where linked
    sizes = dict(rows(db, "SELECT digest, size FROM blobs"))
    for info in storage.list_objects(layout.blobs_root()):
        assert sizes[layout.parse_blob_data_key(info.key)] == info.size
    assert len(sizes) == summary["counts"]["blobs"]["found"] == summary["counts"]["blobs"]["added"]
    linked = rows(db, "SELECT count(*) FROM repository_blobs rb JOIN repositories r"
                      " ON r.id = rb.repository_id WHERE r.name = 'a/b/c'")
    assert linked == [(len({b.digest for b in (*image.blobs, *sbom.blobs)}),)]
    assert rows(db, "SELECT count(*) FROM manifest_blobs mb JOIN manifests m"
                    " ON m.id = mb.manifest_id WHERE m.digest = %s", image.digest) == [(2,)]
    counts = summary["counts"]
    assert counts["manifests"]["added"] == summary["manifests_parsed"] == 7
    assert counts["tags"] == {"found": 4, "added": 4}


def test_times_come_from_the_link_objects(bucket: BucketWriter, db: Database,
                                          storage: FilesystemDriver, run: Run) -> None:
    image = image_manifest()
    bucket.manifest("app", image, "v1")
    run()
    tag_link = storage.stat(layout.tag_current_link("app", "v1")).modified
    revision = storage.stat(layout.revision_link("app", image.digest)).modified
    assert rows(db, "SELECT updated_at FROM tags") == [(tag_link,)]
    assert rows(db, "SELECT created_at FROM manifests") == [(revision,)]


def test_bad_objects_are_reported_and_skipped(bucket: BucketWriter, db: Database,
                                              storage: FilesystemDriver, run: Run) -> None:
    good = image_manifest()
    bucket.manifest("repo", good, "good")
    not_json = bucket.payload("repo", b"\x00not json")
    schema1 = bucket.payload("repo", json.dumps({"schemaVersion": 1, "name": "x"}).encode())
    no_layers = bucket.payload("repo", json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": good.json["config"]}).encode())
    # content under a digest it does not have
    liar = Blob(b"lie").digest
    storage.put_bytes(layout.blob_data(liar), good.data)
    storage.put_bytes(layout.revision_link("repo", liar), layout.link_content(liar))
    # a revision link whose payload is gone
    lost = Blob(b"lost").digest
    storage.put_bytes(layout.revision_link("repo", lost), layout.link_content(lost))
    bucket.tag("repo", "dangling", Blob(b"never pushed").digest)
    storage.put_bytes(layout.tag_current_link("repo", "garbled"), b"sha256:zz")
    bucket.tag("repo", "bad", not_json)

    summary = run()

    assert summary["status"] == "errors"
    errors = {(e["kind"], e.get("digest") or e.get("tag")): e["error"]
              for e in summary["errors"]}
    assert set(errors) == {("manifest", not_json), ("manifest", schema1),
                           ("manifest", no_layers), ("manifest", liar), ("manifest", lost),
                           ("tag", "dangling"), ("tag", "garbled"), ("tag", "bad")}
    assert "cannot parse" in errors["manifest", not_json]
    assert "does not match its digest" in errors["manifest", liar]
    assert "payload missing" in errors["manifest", lost]
    assert manifests_of(db, "repo") == {good.digest}  # nothing half-written
    assert tags_of(db, "repo") == {"good": good.digest}


def test_manifest_whose_blobs_vanished_is_recorded_and_reported(
        bucket: BucketWriter, db: Database, storage: FilesystemDriver, run: Run) -> None:
    image = image_manifest(layers=[random_blob(10), random_blob(20)])
    gone = image.blobs[2].digest
    index = image_index([image, {"mediaType": image.media_type, "digest": Blob(b"x").digest,
                                 "size": 1}])
    bucket.manifest("repo", index, "v1")
    storage.delete(layout.blob_data(gone))

    summary = run()

    assert summary["status"] == "ok"
    warnings = {w["digest"]: w for w in summary["warnings"]}
    assert warnings[image.digest]["missing_blobs"] == [gone]
    assert warnings[index.digest]["missing_children"] == [Blob(b"x").digest]
    assert summary["counts"]["manifests"]["incomplete"] == 2
    assert summary["counts"]["repository_blobs"]["dangling"] == 1
    assert tags_of(db, "repo") == {"v1": index.digest}
    recorded = {r[0] for r in rows(db, "SELECT mb.digest FROM manifest_blobs mb JOIN manifests"
                                       " m ON m.id = mb.manifest_id WHERE m.digest = %s",
                                   image.digest)}
    assert recorded == {image.blobs[0].digest, image.blobs[1].digest}


def test_index_recorded_before_its_children_ends_linked(bucket: BucketWriter, db: Database,
                                                       run: Run) -> None:
    child = image_manifest()
    index = image_index([child])
    bucket.manifest("repo", index, "v1", blobs=False)  # the child is not in storage yet
    first = run()
    assert first["warnings"][0]["missing_children"] == [child.digest]
    assert rows(db, "SELECT child_id FROM manifest_children") == [(None,)]

    bucket.manifest("repo", child)
    second = run()

    assert second["counts"]["manifests"] == {"found": 2, "existing": 1, "added": 1}
    [(child_id,)] = rows(db, "SELECT child_id FROM manifest_children")
    assert rows(db, "SELECT digest FROM manifests WHERE id = %s", child_id) == [(child.digest,)]


class Crash(Exception):
    pass


def test_interrupted_run_resumes_and_reruns_change_nothing(bucket: BucketWriter, db: Database,
                                                           run: Run) -> None:
    expected = {}
    for i in range(6):
        image = image_manifest()
        bucket.manifest(f"team/app{i}", image_index([image]), "v1")
        expected[f"team/app{i}"] = image
    done: list[str] = []

    def crash_after_two(name: str) -> None:
        done.append(name)
        if len(done) == 2:
            raise Crash

    with pytest.raises(RebuildFailed) as failed:
        run(jobs=1, after_repository=crash_after_two)
    assert isinstance(failed.value.__cause__, Crash)
    assert failed.value.summary["status"] == "failed"
    assert len(rows(db, "SELECT name FROM tags")) == 2

    resumed = run()
    assert resumed["status"] == "ok"
    assert resumed["counts"]["manifests"]["existing"] == 4  # not read again
    assert resumed["manifests_parsed"] == 8
    for repo, image in expected.items():
        assert len(manifests_of(db, repo)) == 2
        assert tags_of(db, repo)["v1"] != image.digest  # the index is tagged
    assert rows(db, "SELECT count(*) FROM manifest_children WHERE child_id IS NULL") == [(0,)]

    again = run()
    assert again["manifests_parsed"] == 0
    assert again["counts"]["tags"] == {"found": 6, "unchanged": 6}
    assert again["counts"]["manifests"] == {"found": 12, "existing": 12}
    assert again["counts"]["blobs"] == {"found": 24}


def test_prune_removes_rows_whose_objects_are_gone(bucket: BucketWriter, db: Database,
                                                  storage: FilesystemDriver, run: Run) -> None:
    keep, drop = image_manifest(), image_manifest()
    bucket.manifest("repo", keep, "keep")
    bucket.manifest("repo", drop, "drop", "moved")
    bucket.manifest("gone/entirely", image_manifest(), "v1")
    run()
    storage.delete(layout.revision_link("repo", drop.digest))
    storage.delete_prefix(layout.tag_dir("repo", "drop"))
    bucket.tag("repo", "moved", keep.digest)
    storage.delete(layout.layer_link("repo", drop.blobs[1].digest))
    storage.delete_prefix(layout.repository_dir("gone/entirely"))
    storage.delete(layout.blob_data(drop.blobs[0].digest))

    plain = run()  # reconciles (moves the tag) but removes nothing
    assert plain["counts"]["tags"]["updated"] == 1
    assert manifests_of(db, "repo") == {keep.digest, drop.digest}
    assert "gone/entirely" in {r[0] for r in rows(db, "SELECT name FROM repositories")}

    pruned = run(prune=True)

    assert pruned["status"] == "ok"
    assert pruned["counts"]["repositories"]["pruned"] == 1
    assert pruned["counts"]["blobs"]["pruned"] == 1
    assert manifests_of(db, "repo") == {keep.digest}
    assert tags_of(db, "repo") == {"keep": keep.digest, "moved": keep.digest}
    assert {r[0] for r in rows(db, "SELECT name FROM repositories")} == {"repo"}
    assert rows(db, "SELECT count(*) FROM blobs WHERE digest = %s",
                drop.blobs[0].digest) == [(0,)]
    linked = {r[0] for r in rows(db, "SELECT digest FROM repository_blobs")}
    assert linked == {b.digest for b in keep.blobs}


def test_dry_run_writes_nothing(bucket: BucketWriter, db: Database, run: Run) -> None:
    bucket.manifest("repo", image_index([image_manifest()]), "v1")
    summary = run(dry_run=True, from_scratch=True)
    assert summary["counts"]["manifests"]["added"] == 2
    assert summary["counts"]["tags"]["added"] == 1
    assert summary["emptied"]["repositories"] == 0
    for table in ("repositories", "blobs", "manifests", "tags"):
        assert rows(db, f"SELECT count(*) FROM {table}") == [(0,)]


def test_from_scratch_forgets_what_storage_does_not_have(bucket: BucketWriter, db: Database,
                                                        run: Run) -> None:
    image = image_manifest()
    bucket.manifest("repo", image, "v1")
    with db.transaction() as cur:
        cur.execute("INSERT INTO repositories (name) VALUES ('ghost')")
        cur.execute("INSERT INTO blobs (digest, size) VALUES (%s, 1)", (Blob(b"g").digest,))
    summary = run(from_scratch=True)
    assert summary["emptied"]["repositories"] == 1
    assert {r[0] for r in rows(db, "SELECT name FROM repositories")} == {"repo"}
    assert rows(db, "SELECT count(*) FROM blobs") == [(3,)]


def test_repository_pattern_limits_the_walk(bucket: BucketWriter, db: Database,
                                           run: Run) -> None:
    for repo in ("library/a", "library/b/c", "other/x", "libraryx"):
        bucket.manifest(repo, image_manifest(), "v1")
    summary = run(repository="library/*")
    assert summary["counts"]["repositories"]["found"] == 2
    assert {r[0] for r in rows(db, "SELECT name FROM repositories")} == {"library/a",
                                                                         "library/b/c"}


def test_refuses_to_run_beside_a_gc_sweep(db: Database, run: Run) -> None:
    conn = psycopg2.connect(db.url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            assert locks.try_session_lock(cur, locks.GC, locks.GC_NAME)
            with pytest.raises(RebuildBusy):
                run()
            assert run(dry_run=True)["status"] == "ok"  # a dry run writes nothing: allowed
    finally:
        conn.close()
