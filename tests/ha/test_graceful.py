# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""One real ``hareg serve``: graceful SIGTERM, readiness during shutdown, multi-worker metrics."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.server import HaregServer, ServerFactory, free_port
from tests.ha.conftest import configure, wait_ready
from tests.oci import MiB, digest_of, new_session, random_bytes, with_query

pytestmark = [pytest.mark.ha, pytest.mark.timeout(180)]


def _server(factory: ServerFactory, driver: str, workers: int = 1, **sections: Any
            ) -> HaregServer:
    server = factory.create(driver, start=False, workers=workers)
    configure(server, **sections)
    server.start()
    wait_ready(server)
    return server


class SlowDownload(threading.Thread):
    """GET a blob over a raw socket with a small receive window, at ``rate`` bytes/s."""

    def __init__(self, server: HaregServer, path: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.server, self.path, self.rate = server, path, rate
        self.received = 0
        self.digest = ""
        self.status = ""
        self.error: BaseException | None = None
        self.started_body = threading.Event()

    def run(self) -> None:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.connect(("127.0.0.1", self.server.port))
            sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: test\r\n"
                         "Connection: close\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(4096)
            head, body = head.split(b"\r\n\r\n", 1)
            self.status = head.split(b"\r\n", 1)[0].decode()
            hasher = hashlib.sha256(body)
            self.received = len(body)
            start = time.monotonic()
            while True:
                chunk = sock.recv(64 * 1024)
                if not chunk:
                    break
                hasher.update(chunk)
                self.received += len(chunk)
                self.started_body.set()
                ahead = self.received / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
            self.digest = f"sha256:{hasher.hexdigest()}"
            sock.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test, whatever it is
            self.error = exc
            self.started_body.set()


def _refused(server: HaregServer) -> bool:
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize("driver", ["filesystem", "s3"])
def test_sigterm_fails_readiness_and_finishes_a_long_blob_stream(
        server_factory: ServerFactory, driver: str) -> None:
    server = _server(server_factory, driver,
                     server={"graceful_timeout": 30, "drain_seconds": 2})
    session, repo = new_session(), "graceful/blob"
    data = random_bytes(48 * MiB)
    digest = digest_of(data)
    resp = session.post(with_query(f"{server.url}/v2/{repo}/blobs/uploads/", {"digest": digest}),
                        data=data)
    assert resp.status_code == 201, resp.text
    assert session.get(f"{server.url}/readyz").status_code == 200

    download = SlowDownload(server, f"/v2/{repo}/blobs/{digest}", rate=8 * MiB)
    download.start()
    assert download.started_body.wait(20) and download.error is None, download.error
    assert server.proc is not None
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)

    # Shutdown began: not ready, still alive, still serving, until the drain ends.
    ready = None
    while time.monotonic() - signalled < 1.5:
        ready = new_session().get(f"{server.url}/readyz", timeout=5)
        if ready.status_code == 503:
            break
        time.sleep(0.05)
    assert ready is not None and ready.status_code == 503, ready.text if ready else None
    assert ready.json()["status"] == "shutting down"
    assert new_session().get(f"{server.url}/healthz", timeout=5).status_code == 200
    # Then the port closes (nginx moves on), while the stream is still being served.
    while not _refused(server) and time.monotonic() - signalled < 10:
        time.sleep(0.05)
    assert _refused(server), "the listener did not close after the drain"
    assert download.is_alive(), "the download ended too early to prove anything"

    download.join(60)
    assert download.error is None, download.error
    assert download.status.startswith("HTTP/1.1 200"), download.status
    assert download.received == len(data)
    assert download.digest == digest
    server.proc.wait(timeout=30)
    took = time.monotonic() - signalled
    assert server.proc.returncode == 0, server.log_tail()
    print(f"\n{driver}: 48 MiB stream finished {took:.1f} s after SIGTERM; exit 0")
    # The stream ended on its own: the worker did not reach graceful_timeout and cut it.
    assert "graceful timeout: stopping" not in server.log_tail(), server.log_tail()


def _scrape(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in new_session().get(url, timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_metrics_add_up_every_worker_on_the_metrics_port(server_factory: ServerFactory) -> None:
    metrics_port = free_port()
    server = _server(server_factory, "s3", workers=2,
                     metrics={"bind": f"127.0.0.1:{metrics_port}"})
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    key = 'hareg_http_requests_total{group="base",method="GET",status="200"}'
    before = _scrape(metrics_url).get(key, 0)
    for _ in range(20):  # a new connection each: both workers get some
        assert requests.get(f"{server.url}/v2/", headers={"Connection": "close"},
                            timeout=5).status_code == 200
    upload = new_session().post(f"{server.url}/v2/metrics/probe/blobs/uploads/")
    assert upload.status_code == 202
    samples = _scrape(metrics_url)
    assert samples[key] == before + 20
    assert samples["hareg_upload_sessions_open"] >= 1
    assert samples["hareg_db_pool_connections_max"] >= 5
    assert samples['hareg_storage_operation_duration_seconds_count{operation="check"}'] >= 1
    assert any(k.startswith("hareg_http_request_duration_seconds_bucket") for k in samples)
    # Not on the main port, and nothing but /metrics on the metrics port.
    assert new_session().get(f"{server.url}/metrics").status_code == 404
    assert new_session().get(f"http://127.0.0.1:{metrics_port}/v2/").status_code == 404

    # A worker that dies keeps its counts; its replacement adds to them.
    assert server.proc is not None
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    workers = [int(p) for p in children.read_text().split()]
    os.kill(workers[0], signal.SIGKILL)
    time.sleep(0.5)
    wait_ready(server)
    for _ in range(4):
        requests.get(f"{server.url}/v2/", headers={"Connection": "close"}, timeout=5)
    after = _scrape(metrics_url)
    assert after[key] >= before + 24
    assert after["hareg_http_requests_in_flight"] == 0
