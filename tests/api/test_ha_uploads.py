# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Invariant 2: a chunked upload moves between instances and survives a restart.

Three ``hareg serve`` processes share one database and one storage, per driver. The
PATCH sizes mix sub-5 MiB chunks (which S3 cannot take as multipart parts on their
own) and larger ones, so the S3 path has to carry state across processes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import pytest
import requests

from tests.fixtures.server import DRIVERS, HaregServer, ServerFactory
from tests.oci import OCTET_STREAM, MiB, digest_of, random_bytes, resolve, with_query


@pytest.fixture(scope="module", params=DRIVERS, ids=["fs", "s3"])
def cluster(
    request: pytest.FixtureRequest, module_server_factory: ServerFactory
) -> list[HaregServer]:
    # One gevent worker each: the uploads move between instances (processes), which is what
    # this file is about; several workers per instance are exercised by tests/ha.
    return module_server_factory.cluster(3, driver=request.param, workers=1)


def _on(server: HaregServer, url: str) -> str:
    """``url`` (absolute, from some instance) re-pointed at ``server``."""
    path = url.split("/v2/", 1)[1]
    return f"{server.url}/v2/{path}"


def _patch(session: requests.Session, url: str, data: bytes, offset: int) -> requests.Response:
    return session.patch(
        url,
        data=data,
        headers={
            "Content-Type": OCTET_STREAM,
            "Content-Range": f"{offset}-{offset + len(data) - 1}",
        },
    )


def _assert_everywhere(
    session: requests.Session, cluster: list[HaregServer], repo: str, data: bytes, digest: str
) -> None:
    for server in cluster:
        resp = session.get(f"{server.url}/v2/{repo}/blobs/{digest}")
        assert resp.status_code == 200, f"{server.name}: {resp.status_code} {resp.text[:300]}"
        assert len(resp.content) == len(data), server.name
        assert "sha256:" + hashlib.sha256(resp.content).hexdigest() == digest, server.name
        assert resp.headers["Docker-Content-Digest"] == digest


@pytest.mark.slow
def test_every_request_on_another_instance(
    cluster: list[HaregServer], session: requests.Session
):
    repo = f"ha-{uuid.uuid4().hex[:10]}/hop"
    chunks = [3 * MiB, 1 * MiB + 7, 6 * MiB, 100_000, 2 * MiB]
    final = 512 * 1024 + 3
    data = random_bytes(sum(chunks) + final)
    digest = digest_of(data)

    resp = session.post(f"{cluster[0].url}/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202, resp.text
    url = resolve(cluster[0].url, resp.headers["Location"])
    upload_uuid = resp.headers["Docker-Upload-UUID"]
    offset = 0
    for i, size in enumerate(chunks):
        server = cluster[(i + 1) % len(cluster)]
        resp = _patch(session, _on(server, url), data[offset : offset + size], offset)
        assert resp.status_code == 202, f"PATCH #{i} on {server.name}: {resp.text[:300]}"
        offset += size
        assert resp.headers["Range"] == f"0-{offset - 1}", server.name
        assert resp.headers["Docker-Upload-UUID"] == upload_uuid
        url = resolve(server.url, resp.headers["Location"])
        # every instance sees the same progress
        for other in cluster:
            status = session.get(_on(other, url))
            assert status.status_code == 204, other.name
            assert status.headers["Range"] == f"0-{offset - 1}", other.name
    # the closing PUT lands on an instance other than the last PATCH's
    closer = cluster[(len(chunks) + 1) % len(cluster)]
    assert closer is not server
    resp = session.put(
        with_query(_on(closer, url), {"digest": digest}),
        data=data[offset:],
        headers={"Content-Type": OCTET_STREAM},
    )
    assert resp.status_code == 201, f"PUT on {closer.name}: {resp.text[:300]}"
    assert resp.headers["Docker-Content-Digest"] == digest
    _assert_everywhere(session, cluster, repo, data, digest)
    for server in cluster:
        assert session.get(_on(server, url)).status_code == 404


@pytest.mark.slow
def test_starting_instance_restarted_mid_upload(
    cluster: list[HaregServer], session: requests.Session
):
    repo = f"ha-{uuid.uuid4().hex[:10]}/restart"
    data = random_bytes(9 * MiB + 12345)
    digest = digest_of(data)
    first, second, third = cluster

    resp = session.post(f"{first.url}/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202, resp.text
    url = resolve(first.url, resp.headers["Location"])
    cut1, cut2 = 2 * MiB, 7 * MiB
    resp = _patch(session, url, data[:cut1], 0)
    assert resp.status_code == 202, resp.text
    url = resolve(first.url, resp.headers["Location"])
    resp = _patch(session, _on(second, url), data[cut1:cut2], cut1)
    assert resp.status_code == 202, resp.text
    url = resolve(second.url, resp.headers["Location"])

    # our session keeps an idle keep-alive connection to `first` open: a graceful stop
    # must close it rather than wait out graceful_timeout (the worker logs when it does)
    log_offset = first.log_size()
    first.stop()
    assert first.last_stop_clean, f"{first.name} needed SIGKILL to stop"
    assert first.last_returncode == 0, first.log_tail()
    stop_log = first.log_since(log_offset)
    assert "shutdown: listener closed" in stop_log, stop_log
    assert "graceful timeout: stopping" not in stop_log, stop_log
    first.start()

    status = session.get(_on(first, url))
    assert status.status_code == 204, status.text
    assert status.headers["Range"] == f"0-{cut2 - 1}"
    resp = _patch(session, _on(first, url), data[cut2:-1000], cut2)
    assert resp.status_code == 202, resp.text
    url = resolve(first.url, resp.headers["Location"])
    resp = session.put(
        with_query(_on(third, url), {"digest": digest}),
        data=data[-1000:],
        headers={"Content-Type": OCTET_STREAM},
    )
    assert resp.status_code == 201, resp.text
    _assert_everywhere(session, cluster, repo, data, digest)


def test_sigterm_while_workers_boot(hareg_server: Callable[..., HaregServer]):
    """A rolling restart may signal an instance that has only just come up.

    SIGTERM sent as soon as ``/v2/`` first answers (one worker serving, the others
    possibly still loading the app) must make the process stop by itself (no SIGKILL
    from :meth:`HaregServer.stop`) with status 0, every time.
    """
    server = hareg_server(start=False)
    results = []
    for _ in range(3):
        server.start()  # returns as soon as GET /v2/ answers
        returncode = server.stop(timeout=15)
        results.append((returncode, server.last_stop_clean))
    assert all(rc == 0 and clean for rc, clean in results), (
        f"(returncode, stopped by itself) per attempt: {results}\n{server.log_tail()}"
    )
