# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Uncached blobs through a remote: streamed while cached, fetched once across instances,
never cached (nor served as complete) when the upstream's bytes do not match the digest."""

from __future__ import annotations

import gc
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest
import requests

from hareg.config import RegistryConfig
from hareg.db.pool import Database
from hareg.registry.blobs import BlobInfo
from hareg.registry.context import Registry
from hareg.registry.namespaces import Remote
from hareg.remote import pull as remote_pull
from hareg.storage.filesystem import FilesystemDriver
from tests.fixtures.server import HaregServer, ServerFactory
from tests.oci import Blob as OciBlob
from tests.oci import digest_of, error_codes, image_manifest, new_session, push_image
from tests.remote.conftest import Distribution, define_remote
from tests.remote.fake_upstream import FakeUpstream, Route

HTTP_TIMEOUT = 120
MIB = 1024 * 1024


def rows(server: HaregServer, sql: str, *args: object) -> list[tuple]:
    with psycopg2.connect(server.database_url) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        found = cur.fetchall()
    conn.close()
    return found


def stored_paths(server: HaregServer, digest: str) -> list[Path]:
    root = Path(server.storage["root"])
    hexa = digest.split(":")[1]
    return [p for p in root.rglob("*") if hexa in p.name or hexa in p.parent.name]


def pull(url: str) -> tuple[int, bytes | None]:
    """(status, body) of a GET; body None when the connection broke off mid-body."""
    with new_session() as http:
        try:
            resp = http.get(url, timeout=HTTP_TIMEOUT)
        except (requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ConnectionError):
            return 200, None
        return resp.status_code, resp.content


def anonymous(url: str, **fields: object) -> Remote:
    return Remote(**{"name": "hub", "url": url, "timeout": 5.0, **fields})  # type: ignore[arg-type]


def test_bytes_that_do_not_match_the_digest_are_never_cached(
        server_factory: ServerFactory) -> None:
    good = hashlib.sha256(b"seed").digest() * (3 * MIB // 32)
    digest = digest_of(good)
    bad = bytearray(good)
    bad[-5] ^= 0xFF
    fake = FakeUpstream()
    blob_path = f"/v2/lib/x/blobs/{digest}"
    fake.routes[blob_path] = Route(200, {"Content-Length": str(len(bad))},
                                   lambda: [bytes(bad[i:i + MIB]) for i in range(0, len(bad), MIB)])
    with fake.running():
        server = server_factory.create("filesystem")
        define_remote(server, anonymous(fake.url))
        url = f"{server.url}/v2/hub/lib/x/blobs/{digest}"
        status, body = pull(url)
        # broken off before the end: the client never holds the wrong bytes as complete
        assert body is None, status
        assert fake.count("GET", blob_path) == 1
        assert_nothing_cached(server, digest)
        # for a few seconds the failure is remembered (503/502 at once, no upstream request);
        # then the blob is fetched again, and fails again
        deadline = time.monotonic() + 30
        while fake.count("GET", blob_path) < 2 and time.monotonic() < deadline:
            status, body = pull(url)
            assert body is None or (status == 502 and body != bytes(bad)), status
            time.sleep(0.3)
        assert fake.count("GET", blob_path) == 2
        assert_nothing_cached(server, digest)
        # once the upstream serves the right bytes, they are cached
        fake.routes[blob_path] = Route(200, {"Content-Length": str(len(good))}, lambda: [good])
        while pull(url) != (200, good) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert pull(url) == (200, good)
        assert fake.count("GET", blob_path) == 3


def test_pulls_waiting_for_a_failed_fetch_get_its_error(server_factory: ServerFactory) -> None:
    """Five pulls of one blob at once, the upstream serving wrong bytes: it is asked once,
    every pull fails (the waiters get the recorded failure), nothing is cached."""
    good = hashlib.sha256(b"waiters").digest() * (4 * MIB // 32)
    digest = digest_of(good)
    bad = bytes(reversed(good))
    fake = FakeUpstream()
    blob_path = f"/v2/lib/x/blobs/{digest}"
    fake.routes[blob_path] = Route(200, {"Content-Length": str(len(bad))},
                                   lambda: [bad[i:i + MIB] for i in range(0, len(bad), MIB)])
    with fake.running():
        server = server_factory.create("filesystem")
        define_remote(server, anonymous(fake.url))
        with ThreadPoolExecutor(5) as pool:
            results = list(pool.map(pull, [f"{server.url}/v2/hub/lib/x/blobs/{digest}"] * 5))
        for status, body in results:
            assert body is None or status == 502, status
        assert fake.count("GET", blob_path) == 1
        assert_nothing_cached(server, digest)


def assert_nothing_cached(server: HaregServer, digest: str) -> None:
    assert rows(server, "SELECT count(*) FROM blobs WHERE digest = %s", digest) == [(0,)]
    assert rows(server, "SELECT count(*) FROM repository_blobs WHERE digest = %s",
                digest) == [(0,)]
    assert stored_paths(server, digest) == []


def test_a_manifest_that_does_not_match_its_digest_is_not_cached(
        server_factory: ServerFactory) -> None:
    manifest = image_manifest()
    other = image_manifest()
    fake = FakeUpstream()
    headers = {"Content-Type": manifest.media_type, "Docker-Content-Digest": other.digest,
               "Content-Length": str(manifest.size)}
    fake.routes["/v2/lib/x/manifests/v1"] = Route(200, headers, lambda: [manifest.data])
    fake.routes[f"/v2/lib/x/manifests/{other.digest}"] = Route(200, headers,
                                                                lambda: [manifest.data])
    with fake.running():
        server = server_factory.create("filesystem", workers=1)
        define_remote(server, anonymous(fake.url))
        with new_session() as http:
            for ref in ("v1", other.digest):
                resp = http.get(f"{server.url}/v2/hub/lib/x/manifests/{ref}",
                                timeout=HTTP_TIMEOUT)
                assert resp.status_code == 502, resp.text
                assert error_codes(resp) == ["UNAVAILABLE"]
                assert fake.url in resp.json()["errors"][0]["message"]
        assert rows(server, "SELECT count(*) FROM manifests") == [(0,)]


@pytest.mark.parametrize("driver", ["filesystem", "s3"])
def test_the_first_bytes_reach_the_client_before_the_download_ends(
        server_factory: ServerFactory, driver: str) -> None:
    """8 MiB: on S3 (5 MiB parts in tests) the tee writes a multipart upload."""
    data = hashlib.sha256(b"stream").digest() * (8 * MIB // 32)
    digest = digest_of(data)
    release = threading.Event()
    waited_in_vain = []

    def body() -> Iterator[bytes]:
        yield data[: 4 * MIB]
        if not release.wait(timeout=30):  # hareg buffered: the client saw nothing yet
            waited_in_vain.append(True)
        yield data[4 * MIB:]

    fake = FakeUpstream()
    fake.routes[f"/v2/lib/x/blobs/{digest}"] = Route(200, {"Content-Length": str(len(data))},
                                                     body)
    with fake.running():
        server = server_factory.create(driver, workers=1)
        define_remote(server, anonymous(fake.url))
        with new_session() as http:
            resp = http.get(f"{server.url}/v2/hub/lib/x/blobs/{digest}", stream=True,
                            timeout=HTTP_TIMEOUT)
            assert resp.status_code == 200
            assert resp.headers["Content-Length"] == str(len(data))
            first = resp.raw.read(MIB)
            release.set()
            rest = resp.raw.read()
        assert not waited_in_vain
        assert first + rest == data
        assert rows(server, "SELECT size FROM blobs WHERE digest = %s", digest) == [(len(data),)]
        with new_session() as http:  # now from the cache
            assert http.get(f"{server.url}/v2/hub/lib/x/blobs/{digest}",
                            timeout=HTTP_TIMEOUT).content == data
        assert fake.count("GET", f"/v2/lib/x/blobs/{digest}") == 1


def test_a_range_of_an_uncached_blob_caches_it_first(server_factory: ServerFactory) -> None:
    data = hashlib.sha256(b"range").digest() * (MIB // 32)
    digest = digest_of(data)
    fake = FakeUpstream()
    fake.routes[f"/v2/lib/x/blobs/{digest}"] = Route(200, {"Content-Length": str(len(data))},
                                                     lambda: [data])
    with fake.running():
        server = server_factory.create("filesystem", workers=1)
        define_remote(server, anonymous(fake.url))
        with new_session() as http:
            url = f"{server.url}/v2/hub/lib/x/blobs/{digest}"
            head = http.head(url, timeout=HTTP_TIMEOUT)
            assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
            assert fake.count("GET", f"/v2/lib/x/blobs/{digest}") == 0  # HEAD fetches nothing
            part = http.get(url, headers={"Range": "bytes=100-199"}, timeout=HTTP_TIMEOUT)
            assert part.status_code == 206 and part.content == data[100:200]
            assert http.get(url, timeout=HTTP_TIMEOUT).content == data
        assert fake.count("GET", f"/v2/lib/x/blobs/{digest}") == 1


@pytest.mark.needs("docker-registry")
def test_ten_concurrent_pulls_on_two_instances_fetch_the_blob_once(
        distribution: Distribution, hareg_cluster: Callable[..., list[HaregServer]],
        remote_for: Callable[..., Remote]) -> None:
    layer = OciBlob(hashlib.sha256(b"big").digest() * (64 * MIB // 32),
                    "application/vnd.oci.image.layer.v1.tar")
    manifest = image_manifest(layers=[layer])
    with distribution.session() as http:
        push_image(http, distribution.url, "library/big", manifest, "v1")
    servers = hareg_cluster(n=2)
    remote = remote_for(distribution.url)
    for server in servers:
        define_remote(server, remote)
    expected = layer.digest
    # the manifest first: the cache stores it before its blobs (sparse)
    with new_session() as http:
        assert http.get(f"{servers[1].url}/v2/hub/library/big/manifests/v1",
                        headers={"Accept": manifest.media_type},
                        timeout=HTTP_TIMEOUT).status_code == 200
    assert rows(servers[0], "SELECT count(*) FROM manifest_blobs") == [(0,)]

    def pull_hash(i: int) -> tuple[int, str]:
        server = servers[i % 2]
        sha = hashlib.sha256()
        with new_session() as http, http.get(
                f"{server.url}/v2/hub/library/big/blobs/{expected}", stream=True,
                timeout=HTTP_TIMEOUT) as resp:
            for chunk in resp.iter_content(MIB):
                sha.update(chunk)
            return resp.status_code, f"sha256:{sha.hexdigest()}"

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(pull_hash, range(10)))
    assert results == [(200, expected)] * 10
    assert distribution.served("GET", rf"/v2/library/big/blobs/{expected}") == 1
    assert rows(servers[0], "SELECT count(*) FROM remote_fetches") == [(0,)]
    # once cached, the blob is referenced by the manifest (garbage collection keeps it)
    assert (expected,) in rows(servers[0], "SELECT digest FROM manifest_blobs")



def test_an_uncached_blob_dropped_unread_releases_its_fetch(
        server_factory: ServerFactory) -> None:
    """A caller that opened a fetch and never read it (a HEAD answered from get_blob) does
    not leave the claim to expire: every other pull of the digest would wait for it."""
    data = hashlib.sha256(b"dropped").digest() * (MIB // 32)
    digest = digest_of(data)
    fake = FakeUpstream()
    fake.routes[f"/v2/lib/x/blobs/{digest}"] = Route(200, {"Content-Length": str(len(data))},
                                                     lambda: [data])
    server = server_factory.create("filesystem", start=False)  # its database and storage
    db = Database(server.database_url, size=2)
    reg = Registry(db=db, storage=FilesystemDriver(server.storage["root"]),
                   settings=RegistryConfig())
    try:
        with fake.running():
            remote = anonymous(fake.url)
            found = remote_pull.get_blob(reg, remote, "lib/x", digest)
            assert isinstance(found, remote_pull.UpstreamBlob) and found.size == len(data)
            assert rows(server, "SELECT count(*) FROM remote_fetches") == [(1,)]
            del found
            gc.collect()
            assert rows(server, "SELECT count(*) FROM remote_fetches") == [(0,)]
            found = remote_pull.get_blob(reg, remote, "lib/x", digest)
            assert isinstance(found, remote_pull.UpstreamBlob)
            chunks = iter(found)
            assert b"".join(chunks) == data
            assert isinstance(remote_pull.get_blob(reg, remote, "lib/x", digest), BlobInfo)
    finally:
        db.close()
