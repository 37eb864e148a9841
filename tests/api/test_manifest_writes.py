# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A refused manifest PUT or promotion writes nothing to storage (invariant 6 of
docs/architecture.rst), through a real ``hareg serve`` on both storage drivers.

Each test lists the whole bucket (key and bytes of every object) before and after the refused
requests and asserts the two listings are equal: no payload, no revision link, no tag link, no
layer link, and no overwritten link either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from click.testing import CliRunner

from hareg.config import StorageConfig
from hareg.storage import create_driver, layout
from hareg.storage.base import StorageDriver
from hareg_cli.main import cli
from tests.conftest import unique_name
from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.oci import (
    OCI_INDEX,
    Manifest,
    assert_error,
    fake_digest,
    image_index,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
    random_blob,
    with_query,
)

RETENTION = """
[[retention]]
repository = "**"
immutable_tags = 'v\\d+'
"""


@pytest.fixture(scope="module", params=["filesystem", "s3"], ids=["fs", "s3"])
def server(request: pytest.FixtureRequest,
           module_server_factory: ServerFactory) -> Iterator[tuple[HaregServer, StorageDriver]]:
    """One server per driver, tags ``v<digits>`` immutable everywhere, and its storage."""
    srv = module_server_factory.create(request.param, start=False, workers=1)
    srv.config_path.write_text(to_toml(srv.config) + RETENTION)
    srv.start()
    yield srv, create_driver(StorageConfig(**srv.storage))


def snapshot(storage: StorageDriver) -> dict[str, bytes | int]:
    """Every object of the bucket: links by content, payloads by size."""
    out: dict[str, bytes | int] = {}
    for info in storage.list_objects(""):
        out[info.key] = storage.get_bytes(info.key) if info.size <= 200 else info.size
    return out


def _repo() -> str:
    return f"{unique_name('w')}/img"


def _put(session: requests.Session, url: str, repo: str, reference: str, m: Manifest,
         tags: list[str] | None = None) -> requests.Response:
    target = f"{url}/v2/{repo}/manifests/{reference}"
    if tags:
        target = with_query(target, [("tag", t) for t in tags])
    return session.put(target, data=m.data, headers={"Content-Type": m.media_type})


def _padded(layers: list[Any], size: int) -> Manifest:
    """An image manifest of about ``size`` bytes (annotations), over ``layers``."""
    return image_manifest(layers=layers, annotations={"pad": "x" * size})


def _pull_digest(session: requests.Session, url: str, repo: str, tag: str) -> str:
    resp = session.head(f"{url}/v2/{repo}/manifests/{tag}")
    assert resp.status_code == 200
    return resp.headers["Docker-Content-Digest"]


# ----------------------------------------------------------------------- immutable tags


def _tagged_latest_and_immutable_v1(session: requests.Session, url: str
                                    ) -> tuple[str, Manifest, Manifest]:
    """A new repository whose ``latest`` and immutable ``v1`` name ``old``, and the blobs of
    ``new`` pushed, ready for a manifest PUT that moves the tags to ``new``."""
    repo = _repo()
    old, new = image_manifest(), image_manifest()
    push_image(session, url, repo, old, "latest")
    push_manifest(session, url, repo, "v1", old)
    for blob in new.blobs:
        push_blob(session, url, repo, blob.data)
    return repo, old, new


@pytest.mark.parametrize(("reference", "tags"), [
    ("digest", ["latest", "v1"]),
    ("digest", ["v1", "latest"]),
    ("latest", ["v1"]),
    ("v1", ["latest"]),
    ("digest", ["latest", "fresh", "v1"]),
], ids=["latest-then-v1", "v1-then-latest", "by-latest", "by-v1", "new-tag-too"])
def test_a_refused_immutable_tag_move_writes_nothing(
        server: tuple[HaregServer, StorageDriver], session: requests.Session,
        reference: str, tags: list[str]) -> None:
    srv, storage = server
    repo, old, new = _tagged_latest_and_immutable_v1(session, srv.url)
    before = snapshot(storage)

    resp = _put(session, srv.url, repo, new.digest if reference == "digest" else reference,
                new, tags)
    assert_error(resp, 403, "DENIED")

    assert snapshot(storage) == before
    current = storage.get_bytes(layout.tag_current_link(repo, "latest"))
    assert layout.parse_link(current) == old.digest
    assert not storage.exists(layout.blob_data(new.digest))
    assert not storage.exists(layout.revision_link(repo, new.digest))
    assert not storage.exists(layout.tag_index_link(repo, "latest", new.digest))
    assert not storage.exists(layout.tag_dir(repo, "fresh") + "current/link")
    for tag in ("latest", "v1"):
        assert _pull_digest(session, srv.url, repo, tag) == old.digest
    assert session.head(f"{srv.url}/v2/{repo}/manifests/{new.digest}").status_code == 404
    assert session.head(f"{srv.url}/v2/{repo}/manifests/fresh").status_code == 404


def test_after_a_refused_move_rebuild_db_and_check_agree_with_the_api(
        server: tuple[HaregServer, StorageDriver], session: requests.Session, pg: Any,
        tmp_path: Path) -> None:
    """Issue 14, finding 1, end to end: after the 403, ``hareg check`` on the live registry is
    clean and a database rebuilt from the bucket by ``hareg rebuild-db`` serves the old
    manifest for ``latest`` (before the fix it served the refused one)."""
    srv, _ = server
    repo, old, new = _tagged_latest_and_immutable_v1(session, srv.url)
    assert_error(_put(session, srv.url, repo, new.digest, new, ["latest", "v1"]), 403,
                 "DENIED")

    checked = CliRunner().invoke(cli, ["check", "--config", str(srv.config_path),
                                       "--no-progress"])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[-1].startswith("ok"), checked.output

    url = pg.migrated_database("hareg_rebuilt")
    config = tmp_path / "rebuild.toml"
    config.write_text(to_toml({"database": {"url": url}, "storage": srv.storage}))
    rebuilt = CliRunner().invoke(cli, ["rebuild-db", "--config", str(config),
                                       "--repository", repo, "--jobs", "2"])
    assert rebuilt.exit_code == 0, rebuilt.output
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT t.name, m.digest FROM tags t"
                    " JOIN manifests m ON m.id = t.manifest_id"
                    " JOIN repositories r ON r.id = t.repository_id WHERE r.name = %s", (repo,))
        tags = dict(cur.fetchall())
        cur.execute("SELECT m.digest FROM manifests m"
                    " JOIN repositories r ON r.id = m.repository_id WHERE r.name = %s", (repo,))
        digests = {row[0] for row in cur.fetchall()}
    conn.close()
    assert tags == {"latest": old.digest, "v1": old.digest}
    assert digests == {old.digest}
    pg.release(url)


# ----------------------------------------------------------------- missing references


def test_refused_manifests_with_unknown_blobs_leave_nothing(
        server: tuple[HaregServer, StorageDriver], session: requests.Session) -> None:
    srv, storage = server
    repo, elsewhere = _repo(), _repo()
    pushed = random_blob(300)
    push_blob(session, srv.url, repo, pushed.data)
    foreign = random_blob(300)  # known to the registry, but not linked in ``repo``
    push_blob(session, srv.url, elsewhere, foreign.data)
    before = snapshot(storage)
    for i in range(20):
        # odd rounds: one layer pushed, one not
        missing = [pushed, random_blob(100)] if i % 2 else [foreign]
        m = _padded(missing, 256 * 1024)
        reference = m.digest if i % 3 else "latest"
        resp = _put(session, srv.url, repo, reference, m, ["v1", f"t{i}"] if i % 4 == 0 else None)
        assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
    # The config blob (never pushed) is missing too: each of the 20 is refused.
    assert snapshot(storage) == before


def test_an_index_with_a_missing_child_writes_nothing(
        server: tuple[HaregServer, StorageDriver], session: requests.Session) -> None:
    srv, storage = server
    repo = _repo()
    present = image_manifest()
    push_image(session, srv.url, repo, present)
    absent = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
              "digest": fake_digest(), "size": 512}
    before = snapshot(storage)
    for reference, tags in (("multi", None), ("digest", ["latest"]), ("digest", None)):
        index = image_index([present, absent], media_type=OCI_INDEX)
        ref = index.digest if reference == "digest" else reference
        assert_error(_put(session, srv.url, repo, ref, index, tags), 400,
                     "MANIFEST_BLOB_UNKNOWN")
    assert snapshot(storage) == before


# ---------------------------------------------------------- refused before any database


def test_requests_refused_by_validation_write_nothing(
        server: tuple[HaregServer, StorageDriver], session: requests.Session) -> None:
    srv, storage = server
    repo = _repo()
    good, fresh = image_manifest(), image_manifest()
    push_image(session, srv.url, repo, good, "latest")
    for blob in fresh.blobs:  # everything a push of ``fresh`` needs is there
        push_blob(session, srv.url, repo, blob.data)
    before = snapshot(storage)
    url = f"{srv.url}/v2/{repo}/manifests"
    bad_json = b'{"schemaVersion": 2, "mediaType": '
    cases: list[tuple[str, bytes, str, int, str]] = [  # target, body, type, status, code
        (f"{url}/{fake_digest()}", good.data, good.media_type, 400, "DIGEST_INVALID"),
        (f"{url}/latest?tag=ok&tag=-bad", good.data, good.media_type, 400, "MANIFEST_INVALID"),
        (f"{url}/latest?tag=" + "x" * 129, good.data, good.media_type, 400, "MANIFEST_INVALID"),
        # issue 14, finding 2: ``$`` matches before a final newline; the tag check must not
        (f"{url}/{fresh.digest}?tag=latest&tag=x%0A", fresh.data, fresh.media_type, 400,
         "MANIFEST_INVALID"),
        (f"{url}/x%0A", fresh.data, fresh.media_type, 400, "MANIFEST_INVALID"),
        (f"{url}/latest?tag=ok&tag=x%0A", fresh.data, fresh.media_type, 400,
         "MANIFEST_INVALID"),
        (f"{url}/{fresh.digest}%0A", fresh.data, fresh.media_type, 400, "DIGEST_INVALID"),
        (f"{url}/latest", bad_json, good.media_type, 400, "MANIFEST_INVALID"),
        (f"{url}/latest", json.dumps({"schemaVersion": 1}).encode(), good.media_type, 400,
         "MANIFEST_INVALID"),
        (f"{srv.url}/v2/{repo.upper()}/manifests/latest", good.data, good.media_type, 400,
         "NAME_INVALID"),
        (f"{url}/latest", b"{" + b" " * (4 * 1024 * 1024 + 1) + b"}", good.media_type, 413,
         "MANIFEST_INVALID"),
    ]
    for target, body, media_type, status, code in cases:
        resp = session.put(target, data=body, headers={"Content-Type": media_type})
        assert resp.status_code == status, (target[:120], resp.status_code, resp.text[:300])
        assert resp.json()["errors"][0]["code"] == code, (target[:120], resp.text[:300])
    assert snapshot(storage) == before
    assert _pull_digest(session, srv.url, repo, "latest") == good.digest
    assert session.head(f"{url}/{fresh.digest}").status_code == 404


# ------------------------------------------------------------------------- promotion


def test_a_refused_promotion_writes_nothing(
        server: tuple[HaregServer, StorageDriver], session: requests.Session) -> None:
    srv, storage = server
    src_a, src_b, dst = _repo(), _repo(), _repo()
    first = image_manifest(layers=[random_blob(400), random_blob(500)])
    second = image_index([image_manifest(), image_manifest()])
    push_image(session, srv.url, src_a, first, "v1")
    push_image(session, srv.url, src_b, second, "v1")
    resp = session.post(f"{srv.url}/api/v1/promote",
                        json={"source": f"{src_a}:v1", "target": dst})
    assert resp.status_code == 201, resp.text
    before = snapshot(storage)

    resp = session.post(f"{srv.url}/api/v1/promote",
                        json={"source": f"{src_b}:v1", "target": f"{dst}:v1"})
    assert_error(resp, 403, "DENIED")
    assert snapshot(storage) == before
    assert _pull_digest(session, srv.url, dst, "v1") == first.digest
