# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Slow and concurrent upload clients on a real ``hareg serve`` (issue 14, finding 4).

A PATCH reads its body with no database connection held (its upload is *claimed* in one short
statement), so clients trickling bytes cannot use up a worker's pool; a body that stalls longer
than ``[server] upload_idle_timeout`` is cut and the upload resumes from its previous offset;
two PATCHes of one upload at once: one wins, the other gets 416.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.oci import (
    OCTET_STREAM,
    digest_of,
    new_session,
    push_blob,
    random_bytes,
    resolve,
    with_query,
)


@pytest.fixture
def factory(request: pytest.FixtureRequest, tmp_path: Path, pg: Any) -> Iterator[ServerFactory]:
    f = ServerFactory(request, tmp_path, pg)
    try:
        yield f
    finally:
        f.close()


def _server(factory: ServerFactory, *, pool_size: int = 5, idle: int = 60) -> HaregServer:
    server = factory.create("filesystem", start=False, workers=1)
    server.config["database"]["pool_size"] = pool_size
    server.config["server"]["upload_idle_timeout"] = idle
    server.config_path.write_text(to_toml(server.config))
    server.start()
    return server


def _open_upload(session: requests.Session, server: HaregServer, repo: str) -> str:
    resp = session.post(f"{server.url}/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202, resp.text
    return resolve(server.url, resp.headers["Location"])


def _raw_patch(server: HaregServer, url: str, length: int, start: int | None = None,
               timeout: float = 30.0) -> socket.socket:
    """A PATCH whose headers are sent and whose body is not (yet)."""
    path = url[len(server.url):]
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    head = [f"PATCH {path} HTTP/1.1", f"Host: {server.host}", f"Content-Length: {length}",
            f"Content-Type: {OCTET_STREAM}"]
    if start is not None:
        head.append(f"Content-Range: {start}-{start + length - 1}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    return sock


def _status_line(sock: socket.socket) -> str:
    """The status line of the answer (empty if the server closed without one)."""
    data = b""
    deadline = time.monotonic() + 30
    while b"\r\n" not in data and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


@pytest.mark.slow
def test_trickling_patches_do_not_starve_a_pull(factory: ServerFactory, repo: str) -> None:
    """More slow PATCHes than the pool has connections: a pull on the same worker succeeds.

    Before the fix each PATCH held a connection while it read, the pull waited 30 s for a free
    one and got 503.
    """
    server = _server(factory, pool_size=2)
    session = new_session()
    data = random_bytes(10_000)
    digest = push_blob(session, server.url, repo, data)
    socks = [_raw_patch(server, _open_upload(session, server, repo), 1000) for _ in range(6)]
    stop = threading.Event()

    def trickle() -> None:
        for _ in range(60):  # bounded: at most ~60 s
            for s in socks:
                with contextlib.suppress(OSError):  # the server cut it: that is the point
                    s.sendall(b"x")
            if stop.wait(1.0):
                return

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        time.sleep(2)  # every PATCH is now inside its body read
        resp = session.get(f"{server.url}/v2/{repo}/blobs/{digest}", timeout=60)
        assert resp.status_code == 200, resp.text[:300]
        assert resp.content == data
        upload = _open_upload(session, server, repo)  # writes work too
        assert session.get(upload, timeout=60).status_code == 204
    finally:
        stop.set()
        feeder.join(timeout=5)
        for s in socks:
            s.close()
        session.close()


@pytest.mark.slow
def test_idle_patch_is_cut_and_the_upload_resumes(factory: ServerFactory, repo: str) -> None:
    server = _server(factory, idle=1)
    session = new_session()
    data = random_bytes(30_000)
    digest = digest_of(data)
    url = _open_upload(session, server, repo)
    resp = session.patch(url, data=data[:10_000], headers={"Content-Type": OCTET_STREAM,
                                                            "Content-Range": "0-9999"})
    assert resp.status_code == 202, resp.text
    url = resolve(server.url, resp.headers["Location"])

    sock = _raw_patch(server, url, 10_000, start=10_000)
    try:
        sock.sendall(data[10_000:15_000])  # half the chunk, then silence
        assert _status_line(sock).startswith("HTTP/1.1 408"), "an idle PATCH must be cut"
    finally:
        sock.close()

    status = session.get(url)
    assert status.status_code == 204 and status.headers["Range"] == "0-9999"
    resp = session.patch(url, data=data[10_000:], headers={"Content-Type": OCTET_STREAM,
                                                            "Content-Range": "10000-29999"})
    assert resp.status_code == 202, resp.text
    resp = session.put(with_query(resolve(server.url, resp.headers["Location"]),
                                  {"digest": digest}))
    assert resp.status_code == 201, resp.text
    pulled = session.get(f"{server.url}/v2/{repo}/blobs/{digest}")
    assert pulled.status_code == 200 and pulled.content == data
    session.close()


def test_concurrent_patches_of_one_upload(factory: ServerFactory, repo: str) -> None:
    """One PATCH is reading its body; a second one for the same upload gets 416 at once."""
    server = _server(factory)
    session = new_session()
    data = random_bytes(20_000)
    digest = digest_of(data)
    url = _open_upload(session, server, repo)
    first = _raw_patch(server, url, 20_000, start=0)
    try:
        first.sendall(data[:5_000])
        time.sleep(1)  # the first PATCH holds its claim and waits for the rest of its body
        second = session.patch(url, data=data, headers={"Content-Type": OCTET_STREAM,
                                                         "Content-Range": "0-19999"},
                               timeout=20)
        assert second.status_code == 416, second.text
        assert second.headers["Range"] == "0-0"
        first.sendall(data[5_000:])
        assert _status_line(first).startswith("HTTP/1.1 202")
    finally:
        first.close()
    status = session.get(url)
    assert status.headers["Range"] == "0-19999"
    resp = session.put(with_query(url, {"digest": digest}))
    assert resp.status_code == 201, resp.text
    pulled = session.get(f"{server.url}/v2/{repo}/blobs/{digest}")
    assert pulled.status_code == 200 and pulled.content == data
    session.close()
