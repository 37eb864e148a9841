# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A gunicorn worker killed (SIGKILL) in the middle of an upload, at each point that matters:

- ``patch body``: a chunked PATCH whose body is half sent;
- ``upload part``: S3 stored a multipart part of a PATCH, its answer has not come back;
- ``complete multipart``: the final PUT of a chunked upload, after S3 completed the
  multipart upload (the storage side is done, the database commit is not);
- ``move``: the final PUT, after S3 copied the upload to the blob's content address;
- ``monolithic put``: a PUT carrying the whole blob, after S3 stored it.

The S3 fault proxy parks the S3 request named, so the kill lands exactly there. Then the
client does what a client does after a cut request: ``GET`` the session, send what is
missing, ``PUT`` again (tests.faults.verify.finish_session, bounded). Every blob must end
acknowledged and identical; an image of them pulls back; ``hareg check`` is clean and no
session is stuck.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import pytest
import requests

from tests.faults.clients import OpenedSession, SessionLog, open_upload
from tests.faults.s3proxy import (
    FaultProxy,
    Match,
    is_complete_multipart,
    is_put_blob_data,
    is_upload_part,
)
from tests.faults.servers import kill_worker, wait_new_worker
from tests.faults.verify import aftermath, finish_session
from tests.fixtures.server import HaregServer
from tests.ha.workload import Client, Image, MiB, Stats
from tests.oci import OCI_LAYER, OCTET_STREAM, Blob, config_blob, image_manifest, with_query

pytestmark = pytest.mark.faults

ARRIVE_TIMEOUT = 30.0
REPO = "faults/killed"


@dataclass
class KillPoint:
    name: str
    arrived: bool = True
    outcome: str = ""
    detail: str = ""


def _request_in_thread(method: str, url: str, **kwargs: object) -> threading.Thread:
    def run() -> None:
        # the worker was killed: the answer is lost, as intended
        with contextlib.suppress(requests.RequestException):
            requests.request(method, url, timeout=60, **kwargs)  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _kill_when_held(server: HaregServer, proxy: FaultProxy, match: Match,
                    send: Callable[[], threading.Thread]) -> bool:
    """Park the next S3 request matching ``match`` after S3 handled it, kill the worker
    while it waits for the answer, then reset that answer. False if it never came."""
    hold = proxy.hold(match, after_forward=True, reset=True)
    thread = send()
    arrived = hold.arrived.wait(ARRIVE_TIMEOUT)
    pid = kill_worker(server)
    proxy.cancel(hold)
    thread.join(timeout=60)
    wait_new_worker(server, pid)
    return arrived


def _half_sent_patch(server: HaregServer, url: str, offset: int, chunk: bytes) -> None:
    """Send a PATCH's headers and half its body, kill the worker, close the socket."""
    target = urlsplit(url)
    path = target.path + (f"?{target.query}" if target.query else "")
    head = (f"PATCH {path} HTTP/1.1\r\nHost: {server.host}\r\n"
            f"Content-Type: {OCTET_STREAM}\r\nContent-Length: {len(chunk)}\r\n"
            f"Content-Range: {offset}-{offset + len(chunk) - 1}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + chunk[: len(chunk) // 2])
        threading.Event().wait(0.5)  # let the worker start reading the body
        pid = kill_worker(server)
    wait_new_worker(server, pid)


def _finish(server: HaregServer, session: OpenedSession, point: KillPoint) -> None:
    point.outcome, point.detail = finish_session(server.url, session)


def test_worker_killed_mid_upload(s3_behind_proxy: Callable[..., HaregServer],
                                  fault_proxy: FaultProxy) -> None:
    server = s3_behind_proxy(workers=1)
    log = SessionLog()
    points: list[KillPoint] = []
    blobs: list[Blob] = []

    # 1. A chunked PATCH, body half sent.
    point = KillPoint("patch body")
    data = os.urandom(3 * MiB + 11)
    url, offset = open_upload(server.url, REPO, data, 1 * MiB, log)
    _half_sent_patch(server, url, offset, data[offset:offset + MiB])
    _finish(server, log.all()[-1], point)
    points.append(point)
    blobs.append(Blob(data, OCI_LAYER))

    # 2. A PATCH whose multipart part S3 stored; the answer is lost with the worker.
    point = KillPoint("upload part")
    data = os.urandom(7 * MiB + 3)
    url, offset = open_upload(server.url, REPO, data, 0, log)
    point.arrived = _kill_when_held(server, fault_proxy, is_upload_part, lambda: (
        _request_in_thread("PATCH", url, data=data[:6 * MiB], headers={
            "Content-Type": OCTET_STREAM, "Content-Range": f"0-{6 * MiB - 1}"})))
    _finish(server, log.all()[-1], point)
    points.append(point)
    blobs.append(Blob(data, OCI_LAYER))

    # 3 and 4. The final PUT of a chunked upload: S3 completed the multipart upload, or
    # already copied it to the blob's address; the database commit never happened.
    for name, match in (("complete multipart", is_complete_multipart),
                        ("move", is_put_blob_data)):
        point = KillPoint(name)
        data = os.urandom(6 * MiB + 77)
        url, offset = open_upload(server.url, REPO, data, len(data), log)
        digest = Blob(data).digest
        point.arrived = _kill_when_held(server, fault_proxy, match, partial(
            _request_in_thread, "PUT", with_query(url, {"digest": digest}),
            headers={"Content-Type": OCTET_STREAM}))
        _finish(server, log.all()[-1], point)
        points.append(point)
        blobs.append(Blob(data, OCI_LAYER))

    # 5. A monolithic PUT (POST, then PUT with the whole blob): S3 stored the blob.
    point = KillPoint("monolithic put")
    data = os.urandom(2 * MiB + 9)
    url, offset = open_upload(server.url, REPO, data, 0, log)
    digest = Blob(data).digest
    point.arrived = _kill_when_held(server, fault_proxy, is_put_blob_data, lambda: (
        _request_in_thread("PUT", with_query(url, {"digest": digest}), data=data,
                           headers={"Content-Type": OCTET_STREAM})))
    _finish(server, log.all()[-1], point)
    points.append(point)
    blobs.append(Blob(data, OCI_LAYER))

    # The blobs that were acknowledged make an image; push it like a client would.
    stats = Stats()
    client = Client(server.url, stats)
    config = config_blob()
    client.push_blob(REPO, config.data, None)
    acknowledged = [b for b, p in zip(blobs, points, strict=True) if p.outcome == "finished"]
    image = Image(REPO, "after-kills", image_manifest(config, acknowledged))
    client.push_manifest(image)

    report = aftermath(server, [image], log.all())
    for p in points:
        print(f"kill point {p.name}: S3 request parked {p.arrived}, then {p.outcome} {p.detail}")
    print(f"S3 requests through the proxy: {fault_proxy.snapshot()}")
    print(report.summary())
    assert all(p.arrived for p in points), [p.name for p in points if not p.arrived]
    bad = [f"{p.name}: {p.outcome} {p.detail}" for p in points if p.outcome != "finished"]
    assert not bad, "uploads that could not be finished after the kill:\n" + "\n".join(bad)
    assert report.ok, report.problems()
