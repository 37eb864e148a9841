# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Slow clients: more PATCH bodies trickling in (1 byte a second) than the worker has
database connections (``pool_size = 3``), while other clients pull. The pulls must succeed,
each request within a bound: a slow client must not hold what others need (invariant 7 of
docs/architecture.rst). Then the trickling clients give up mid-body, and the checks of
tests.faults.verify pass (their sessions are resumable, not stuck).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from tests.faults.clients import SessionLog, open_upload, push_images
from tests.faults.servers import configure, wait_ready
from tests.faults.verify import aftermath
from tests.fixtures.server import HaregServer, ServerFactory
from tests.oci import OCTET_STREAM, digest_of, new_session

pytestmark = pytest.mark.faults

POOL_SIZE = 3
TRICKLERS = 8
TRICKLE_BYTES = 64
TRICKLE_SECONDS = 40.0
PULLS = 12
PULL_BOUND = 10.0
PULLS_SECONDS = 60.0


def _trickle(server: HaregServer, url: str, data: bytes, stop: threading.Event,
             sent: list[int]) -> None:
    """A PATCH of ``data`` whose body comes 1 byte a second, until ``stop`` or the bound."""
    target = urlsplit(url)
    head = (f"PATCH {target.path} HTTP/1.1\r\nHost: {server.host}\r\n"
            f"Content-Type: {OCTET_STREAM}\r\nContent-Length: {len(data)}\r\n"
            f"Content-Range: 0-{len(data) - 1}\r\n\r\n").encode()
    deadline = time.monotonic() + TRICKLE_SECONDS
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head)
            for i in range(len(data) - 1):  # never the last byte: the body stays unfinished
                if stop.wait(1.0) or time.monotonic() > deadline:
                    return
                sock.sendall(data[i:i + 1])
                sent[0] += 1
    except OSError:
        return


def test_slow_patches_do_not_stall_pulls(server_factory: ServerFactory) -> None:
    server = server_factory.create("filesystem", start=False, workers=1)
    configure(server, database={"pool_size": POOL_SIZE})
    server.start()
    wait_ready(server)
    log = SessionLog()
    images = push_images(server.url, "faults/slow-seed", 2)

    stop = threading.Event()
    sent = [0]
    threads = []
    for _ in range(TRICKLERS):
        data = os.urandom(TRICKLE_BYTES)
        url, _ = open_upload(server.url, "faults/slow", data, 0, log)
        threads.append(threading.Thread(target=_trickle, args=(server, url, data, stop, sent),
                                        daemon=True))
    for t in threads:
        t.start()
    time.sleep(2.0)  # every trickling PATCH has reached the worker

    http = new_session()
    ok = failed = 0
    failures: list[str] = []
    deadline = time.monotonic() + PULLS_SECONDS
    try:
        for i in range(PULLS):
            if time.monotonic() > deadline:
                failures.append(f"pull {i}: not attempted, {PULLS_SECONDS:.0f} s bound reached")
                failed += 1
                continue
            image = images[i % len(images)]
            try:
                manifest = http.get(f"{server.url}/v2/{image.repo}/manifests/{image.tag}",
                                    headers={"Accept": image.manifest.media_type},
                                    timeout=PULL_BOUND)
                good = manifest.status_code == 200 and manifest.content == image.manifest.data
                for blob in image.manifest.blobs:
                    if not good:
                        break
                    resp = http.get(f"{server.url}/v2/{image.repo}/blobs/{blob.digest}",
                                    timeout=PULL_BOUND)
                    good = resp.status_code == 200 and digest_of(resp.content) == blob.digest
                    if not good:
                        failures.append(f"pull {i}: blob {resp.status_code} {resp.text[:120]!r}")
                if manifest.status_code != 200:
                    failures.append(f"pull {i}: manifest {manifest.status_code} "
                                    f"{manifest.text[:120]!r}")
            except OSError as exc:
                good = False
                failures.append(f"pull {i}: {type(exc).__name__}: {str(exc)[:120]}")
            ok, failed = (ok + 1, failed) if good else (ok, failed + 1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)

    wait_ready(server)
    report = aftermath(server, images, log.all())
    print(f"slow clients: {TRICKLERS} PATCHes trickling ({sent[0]} bytes sent) against "
          f"pool_size {POOL_SIZE}; pulls attempted {PULLS}, ok {ok}, failed {failed}")
    print(report.summary())
    assert failed == 0, "pulls during the slow PATCHes:\n" + "\n".join(failures[:20])
    assert report.ok, report.problems()
