# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg check: rows whose object is missing (exit 1), objects no row knows (information).

Links that disagree with the rows: tests/check/test_links.py.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hareg.check.objects import BLOB, LAYER, TAG, UPLOAD, check_storage, find_missing_objects
from hareg.config import RegistryConfig
from hareg.db.pool import Database
from hareg.registry import manifests, uploads
from hareg.registry.context import Registry
from hareg.storage import layout
from hareg.storage.filesystem import FilesystemDriver
from hareg_cli.main import cli
from tests.fixtures.server import to_toml
from tests.oci import digest_of, image_manifest, random_blob


@pytest.fixture
def reg(pg: Any, tmp_path: Path) -> Iterator[Registry]:
    url = pg.migrated_database("hareg_check")
    db = Database(url, size=4)
    yield Registry(db=db, storage=FilesystemDriver(str(tmp_path / "storage")),
                   settings=RegistryConfig())
    db.close()


def _push(reg: Registry, repo: str, tag: str) -> Any:
    image = image_manifest()
    for blob in image.blobs:
        uploads.upload_whole(reg, repo, blob.digest, [blob.data], blob.size)
    manifests.put_manifest(reg, repo, tag, image.data, image.media_type)
    return image


def test_consistent_registry_is_ok(reg: Registry) -> None:
    _push(reg, "a/b", "v1")
    _push(reg, "c", "latest")
    report = check_storage(reg)
    assert report.ok and not report.unknown
    assert report.rows[BLOB] == 6 and report.rows[TAG] == 2
    assert report.objects > 0


def test_missing_objects_are_found_and_stray_ones_reported(reg: Registry) -> None:
    image = _push(reg, "a/b", "v1")
    layer = image.blobs[1]
    reg.storage.delete(layout.blob_data(layer.digest))
    reg.storage.delete(layout.tag_current_link("a/b", "v1"))
    stray = random_blob(100)
    reg.storage.put_bytes(layout.blob_data(stray.digest), stray.data)
    reg.storage.put_bytes(layout.layer_link("a/b", stray.digest), layout.link_content(stray.digest))
    reg.storage.put_bytes(layout.upload_data("a/b", "dead-session"), b"x")

    report = check_storage(reg)
    assert not report.ok
    assert {(m.kind, m.row) for m in report.missing} == {
        (BLOB, layer.digest), (TAG, "a/b:v1")}
    assert report.unknown == {BLOB: 1, LAYER: 1, UPLOAD: 1}
    # rebuild-db would link the stray blob: the layer link is also a problem
    assert [(d.kind, d.key) for d in report.disagreements] == [
        (LAYER, layout.layer_link("a/b", stray.digest))]
    assert find_missing_objects(reg) == report.missing


def test_a_row_deleted_during_the_check_is_not_reported(reg: Registry, monkeypatch: Any) -> None:
    """A sweep deleting row and object between the snapshot and the listing is no problem."""
    image = _push(reg, "a/b", "v1")
    digest = image.blobs[0].digest
    original = reg.storage.list_objects

    def list_after_sweep(prefix: str) -> Iterator[Any]:
        if prefix == layout.blobs_root():
            reg.storage.delete(layout.blob_data(digest))
            with reg.db.transaction() as cur:
                cur.execute("DELETE FROM manifest_blobs WHERE digest = %s", (digest,))
                cur.execute("DELETE FROM repository_blobs WHERE digest = %s", (digest,))
                cur.execute("DELETE FROM blobs WHERE digest = %s", (digest,))
        return original(prefix)

    monkeypatch.setattr(reg.storage, "list_objects", list_after_sweep)
    assert check_storage(reg).missing == []


def test_cli_exit_status(reg: Registry, tmp_path: Path) -> None:
    _push(reg, "x", "1")
    config = tmp_path / "hareg.toml"
    config.write_text(to_toml({
        "database": {"url": reg.db.url},
        "storage": {"driver": "filesystem", "root": str(reg.storage.root)}}))
    runner = CliRunner()
    ok = runner.invoke(cli, ["check", "--config", str(config), "--no-progress"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines()[-1] == "ok: every row's object exists"
    assert ok.stdout.startswith("checked 3 blobs, 2 layer links, 1 revision link, 1 tag"
                                " against 8 objects in ")
    digest = next(iter(reg.storage.list_objects(layout.blobs_root()))).key
    reg.storage.delete(digest)
    bad = runner.invoke(cli, ["check", "--config", str(config), "--no-progress"])
    assert bad.exit_code == 1, bad.output
    assert bad.stdout.splitlines()[-1] == ("problems: 1 row points at an object that does"
                                           " not exist")


@pytest.mark.ha
@pytest.mark.timeout(300)
def test_ten_thousand_blobs_one_listing_not_one_request_each(pg: Any, s3_server: Any) -> None:
    """What makes ``hareg check`` fast on a big bucket: it lists the bucket in pages and
    stats only the objects that look missing, never one request per row."""
    url = pg.migrated_database("hareg_check10k")
    driver = s3_server.make_driver()
    digests = [digest_of(f"blob {i}".encode()) for i in range(10_000)]
    started = time.monotonic()
    client = s3_server.client
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda d: client.put_object(
            Bucket=driver.bucket, Key=layout.blob_data(d), Body=b"x"), digests))
    db = Database(url, size=2)
    with db.transaction() as cur:
        cur.execute("INSERT INTO blobs (digest, size) SELECT unnest(%s::text[]), 1", (digests,))
    print(f"\nsetup: 10,000 objects and rows in {time.monotonic() - started:.1f} s")
    reg = Registry(db=db, storage=driver, settings=RegistryConfig())
    client.delete_object(Bucket=driver.bucket, Key=layout.blob_data(digests[1234]))
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    driver.client.meta.events.register("before-call.s3", count)
    started = time.monotonic()
    report = check_storage(reg)
    took = time.monotonic() - started
    db.close()
    print(f"hareg check: {report.rows[BLOB]} blobs, {report.objects} objects in {took:.1f} s, "
          f"S3 requests {dict(calls)}")
    assert [m.row for m in report.missing] == [digests[1234]]
    assert report.rows[BLOB] == 10_000 and report.objects == 9_999
    # 9,999 blob objects in pages of 1,000 plus the (empty) repositories/ listing; one
    # HEAD for the one suspect; nothing else.
    assert set(calls) <= {"ListObjectsV2", "HeadObject"}, calls
    assert calls["ListObjectsV2"] <= 12 and calls["HeadObject"] == 1, calls


@pytest.mark.ha
@pytest.mark.timeout(300)
def test_a_thousand_tags_one_read_each(pg: Any, s3_server: Any) -> None:
    """Tag and revision links are read (one GET each, several at a time); only a link that
    disagrees is read a second time, to confirm it under its tag's lock."""
    url = pg.migrated_database("hareg_check_tags")
    driver = s3_server.make_driver()
    client = s3_server.client
    payload = b'{"schemaVersion": 2}'
    digest, other = digest_of(payload), digest_of(b"other")
    tags = [f"t{i}" for i in range(1_000)]
    objects = {layout.blob_data(digest): payload,
               layout.revision_link("r", digest): layout.link_content(digest)}
    objects.update({layout.tag_current_link("r", t): layout.link_content(digest) for t in tags})
    objects[layout.tag_current_link("r", "t7")] = layout.link_content(other)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: client.put_object(Bucket=driver.bucket, Key=kv[0],
                                                   Body=kv[1]), objects.items()))
    db = Database(url, size=2)
    with db.transaction() as cur:
        cur.execute("INSERT INTO repositories (name) VALUES ('r')")
        cur.execute("INSERT INTO blobs (digest, size) VALUES (%s, %s)", (digest, len(payload)))
        cur.execute("INSERT INTO manifests (repository_id, digest, media_type, payload)"
                    " SELECT id, %s, 'application/vnd.oci.image.manifest.v1+json', %s"
                    " FROM repositories", (digest, payload))
        cur.execute("INSERT INTO tags (repository_id, name, manifest_id)"
                    " SELECT r.id, unnest(%s::text[]), m.id FROM repositories r, manifests m",
                    (tags,))
    reg = Registry(db=db, storage=driver, settings=RegistryConfig())
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    driver.client.meta.events.register("before-call.s3", count)
    started = time.monotonic()
    report = check_storage(reg)
    took = time.monotonic() - started
    db.close()
    print(f"\nhareg check: {report.rows[TAG]} tags, {report.links_read} links read in"
          f" {took:.1f} s, S3 requests {dict(calls)}")
    assert [(d.row, d.link, d.database) for d in report.disagreements] == [
        ("r:t7", other, digest)]
    assert report.links_read == 1_001 and report.missing == []
    assert set(calls) <= {"ListObjectsV2", "GetObject"}, calls
    assert calls["GetObject"] == 1_002 and calls["ListObjectsV2"] <= 4, calls


def _check_cli(reg: Registry, tmp_path: Path, *args: str) -> Any:
    config = tmp_path / "hareg.toml"
    config.write_text(to_toml({
        "database": {"url": reg.db.url},
        "storage": {"driver": "filesystem", "root": str(reg.storage.root)}}))
    return CliRunner().invoke(cli, ["check", "--config", str(config), "--no-progress", *args])


def test_cli_verdict_is_the_last_line_after_info(reg: Registry, tmp_path: Path) -> None:
    _push(reg, "x", "1")
    stray = random_blob(10)
    reg.storage.put_bytes(layout.blob_data(stray.digest), stray.data)
    out = _check_cli(reg, tmp_path)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[1] == ("info: 1 object no row knows, garbage collection removes it (1 blob);"
                        " e.g.:")
    assert lines[2] == f"  {layout.blob_data(stray.digest)}"
    assert lines[-1] == "ok: every row's object exists"

    reg.storage.delete(layout.tag_current_link("x", "1"))
    image = _push(reg, "y", "2")
    reg.storage.delete(layout.revision_link("y", image.digest))
    out = _check_cli(reg, tmp_path)
    assert out.exit_code == 1, out.output
    lines = out.stdout.splitlines()
    assert lines[1].startswith("info: 1 object no row knows")
    assert f"  revision link y@{image.digest}: {layout.revision_link('y', image.digest)}" in lines
    assert "  tag x:1: " + layout.tag_current_link("x", "1") in lines
    assert lines[-1] == "problems: 2 rows point at objects that do not exist"


def test_cli_json(reg: Registry, tmp_path: Path) -> None:
    image = _push(reg, "a/b", "v1")
    out = _check_cli(reg, tmp_path, "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["status"] == "ok" and doc["ok"] is True and doc["error"] is None
    assert doc["rows"] == {"blobs": 3, "layer_links": 2, "revision_links": 1, "tags": 1,
                           "uploads": 0}
    assert doc["objects"] == 8 and isinstance(doc["duration_seconds"], float)
    assert (doc["missing_count"], doc["missing"]) == (0, [])
    assert doc["unknown_count"] == 0 and doc["unknown_examples"] == []
    assert doc["unknown"] == dict.fromkeys(doc["rows"], 0)

    layer = image.blobs[1]
    reg.storage.delete(layout.blob_data(layer.digest))
    reg.storage.put_bytes(layout.upload_data("a/b", "dead-session"), b"x")
    out = _check_cli(reg, tmp_path, "--json")
    assert out.exit_code == 1, out.output
    doc = json.loads(out.stdout)  # stdout is the document alone
    assert doc["status"] == "problems" and doc["ok"] is False
    assert doc["missing_count"] == 1
    assert doc["missing"] == [{"kind": "blobs", "row": layer.digest,
                               "key": layout.blob_data(layer.digest)}]
    assert doc["unknown_count"] == 1 and doc["unknown"]["uploads"] == 1
    assert doc["unknown_examples"] == [layout.upload_data("a/b", "dead-session")]


def test_cli_json_when_the_check_fails(reg: Registry, tmp_path: Path, monkeypatch: Any) -> None:
    def broken(prefix: str) -> Iterator[Any]:
        raise OSError("the bucket is gone")

    monkeypatch.setattr(FilesystemDriver, "list_objects", lambda self, prefix: broken(prefix))
    out = _check_cli(reg, tmp_path, "--json")
    assert out.exit_code == 2
    doc = json.loads(out.stdout)
    assert doc["status"] == "failed" and doc["error"] == "OSError: the bucket is gone"
    assert out.stderr == "hareg: check failed: OSError: the bucket is gone\n"
