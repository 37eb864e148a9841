# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Several instances, one database, one bucket, a real nginx in front (issue 3).

Run alone with ``pytest -m ha``. Every scenario prints its counts of client operations
attempted and failed (``pytest -s`` shows them; CI runs with ``-rA``)."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from tests.fixtures.server import HaregServer
from tests.ha.conftest import hareg_check, wait_ready
from tests.ha.nginx import FAIL_TIMEOUT
from tests.ha.workload import MiB, Workload
from tests.oci import OCTET_STREAM, digest_of, new_session, random_bytes, resolve, with_query

pytestmark = [pytest.mark.ha, pytest.mark.timeout(300)]


def _report(work: Workload, title: str) -> None:
    print(f"\n{work.stats.summary(title)}")
    final = work.verify_all(work.base_url)
    print(final.summary(f"{title}, every pushed image pulled back"))
    assert sum(work.stats.failed.values()) == 0, "\n".join(work.stats.errors[-30:])
    assert sum(final.failed.values()) == 0, "\n".join(final.errors[-30:])
    assert final.ops["final pull"] == len(work.pushed.images)


def test_rolling_restart_loses_no_client_operation(ha_cluster, nginx_front) -> None:
    servers = ha_cluster(3)
    front = nginx_front(servers)
    work = Workload(front.url, pushers=3, pullers=2)
    work.start()
    try:
        work.wait_for(3)
        for server in servers:
            before = len(work.pushed.images)
            server.stop()  # SIGTERM to gunicorn's master, as systemd does
            assert server.last_stop_clean and server.last_returncode == 0, server.log_tail()
            server.start()
            wait_ready(server)
            # The documented procedure: nginx sends traffic to a restarted instance again
            # fail_timeout after it failed to connect; only then stop the next one.
            time.sleep(FAIL_TIMEOUT + 0.5)
            work.wait_for(before + 2)  # traffic flows before the next instance goes
        work.wait_for(len(work.pushed.images) + 2)
    finally:
        work.stop()
    _report(work, "rolling restart of 3 instances")
    assert len(work.pushed.images) >= 9
    # A clean rolling restart needs no recovery at all: nginx only met refused connects.
    assert work.stats.failed_requests == 0, "\n".join(work.stats.errors[-30:])
    result = hareg_check(servers[0])
    assert result.returncode == 0, result.stdout + result.stderr


def _in_flight(server: HaregServer) -> float:
    try:
        text = new_session().get(server.metrics_url, timeout=2).text  # type: ignore[attr-defined]
    except requests.RequestException:
        return 0
    for line in text.splitlines():
        if line.startswith("hareg_http_requests_in_flight "):
            return float(line.split()[1])
    return 0


def _pushes_begun_after(work: Workload, moment: float) -> int:
    return sum(op.ok for op in work.stats.started_after(moment) if op.kind == "push")


def test_kill_9_mid_push_clients_recover_and_no_row_lacks_its_object(
        ha_cluster, nginx_front) -> None:
    servers = ha_cluster(3)
    front = nginx_front(servers)
    work = Workload(front.url, pushers=3, pullers=1)
    victim = servers[0]
    work.start()
    try:
        work.wait_for(2)
        deadline = time.monotonic() + 20
        in_flight = _in_flight(victim)
        while in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
            in_flight = _in_flight(victim)
        assert victim.proc is not None
        killed_at = time.monotonic()
        os.killpg(victim.proc.pid, signal.SIGKILL)  # the instance and its workers
        victim.proc.wait(timeout=10)
        print(f"\nkilled {victim.name} with {in_flight:.0f} request(s) in flight")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _pushes_begun_after(work, killed_at) < 4:
            time.sleep(0.1)
    finally:
        work.stop()
    # The kill hit work in progress: the victim was serving requests an instant before,
    # and client operations were running across it.
    assert in_flight >= 1, "the victim served nothing when it was killed: no kill mid-push"
    spanning = work.stats.spanning(killed_at)
    print(f"client operations in flight at the kill: {len(spanning)}")
    assert spanning, "no client operation was in flight when the instance was killed"
    # The cluster recovered: pushes begun after the kill went through (and _report checks
    # that no operation failed, those in flight at the kill included).
    assert _pushes_begun_after(work, killed_at) >= 4, work.stats.summary("after the kill")
    _report(work, "kill -9 of 1 of 3 instances")
    result = hareg_check(servers[1])
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: every row's object exists" in result.stdout


def _patch(session: requests.Session, base: str, url: str, data: bytes, offset: int) -> str:
    resp = session.patch(url, data=data, headers={
        "Content-Type": OCTET_STREAM, "Content-Range": f"{offset}-{offset + len(data) - 1}"})
    assert resp.status_code == 202, resp.text
    assert resp.headers["Range"] == f"0-{offset + len(data) - 1}"
    return resolve(base, resp.headers["Location"])


def _assert_everywhere(servers: list[HaregServer], repo: str, data: bytes) -> None:
    session = new_session()
    for server in servers:
        resp = session.get(f"{server.url}/v2/{repo}/blobs/{digest_of(data)}")
        assert resp.status_code == 200, (server.name, resp.text)
        assert digest_of(resp.content) == digest_of(data)


def test_chunked_upload_alternating_between_instances(ha_cluster) -> None:
    servers = ha_cluster(3)
    session, repo = new_session(), "ha/alternating"
    # Small chunks wait in the session's tail; big ones become S3 multipart parts.
    sizes = [1 * MiB, 6 * MiB, 512 * 1024, 2 * MiB, 5 * MiB, 3 * MiB + 11]
    data = random_bytes(sum(sizes))
    resp = session.post(f"{servers[0].url}/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202
    path = resp.headers["Location"]
    offset = 0
    for i, size in enumerate(sizes):
        server = servers[(i + 1) % len(servers)]
        _patch(session, server.url, resolve(server.url, path), data[offset:offset + size], offset)
        offset += size
        status = session.get(resolve(servers[i % len(servers)].url, path))
        assert status.status_code == 204 and status.headers["Range"] == f"0-{offset - 1}"
    resp = session.put(with_query(resolve(servers[2].url, path), {"digest": digest_of(data)}))
    assert resp.status_code == 201, resp.text
    _assert_everywhere(servers, repo, data)


def test_chunked_upload_survives_restart_of_its_instance(ha_cluster) -> None:
    servers = ha_cluster(2)
    first, other = servers
    session, repo = new_session(), "ha/restarted"
    part1, part2, part3 = random_bytes(2 * MiB), random_bytes(5 * MiB + 3), random_bytes(1000)
    resp = session.post(f"{first.url}/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202
    path = resp.headers["Location"]
    _patch(session, first.url, resolve(first.url, path), part1, 0)
    first.stop()
    assert first.last_stop_clean
    # While the instance that started the upload is down, the upload goes on elsewhere.
    _patch(session, other.url, resolve(other.url, path), part2, len(part1))
    first.start()
    wait_ready(first)
    data = part1 + part2 + part3
    resp = session.put(with_query(resolve(first.url, path), {"digest": digest_of(data)}),
                       data=part3, headers={"Content-Type": OCTET_STREAM})
    assert resp.status_code == 201, resp.text
    _assert_everywhere(servers, repo, data)
