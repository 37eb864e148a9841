# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A frozen PostgreSQL (SIGSTOP) gives bounded 503s, not hung requests (issue 14, finding 5).

A dedicated cluster (pgserver in a temporary directory) serves one ``hareg serve``; its
postmaster and every backend are stopped with SIGSTOP, the kernel still accepting and
acknowledging on their sockets, so nothing but a client-side bound ends a wait. ``/readyz``
and a manifest GET must both answer 503 (the GET with Retry-After, in the spec's format);
after SIGCONT the server recovers by itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import requests

from tests.fixtures.postgres import database_url, embedded_parent_dir
from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.oci import error_codes, image_manifest, push_image, random_blob

#: Generous bound on each request while frozen: hanging "as long as it stays frozen" is the
#: bug, answering at all is the fix (the times are printed, not asserted).
ANSWER_BOUND = 30.0
RECOVERY_BOUND = 60.0


class FrozenCluster:
    """A PostgreSQL cluster of our own whose processes can be stopped and continued."""

    def __init__(self, data_dir: Path, url: str) -> None:
        self.data_dir = data_dir
        self.url = url
        self.frozen: list[int] = []

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])

    def processes(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, walwriter...)."""
        postmaster = self.postmaster_pid()
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == postmaster:
                children.append(int(entry))
        return [postmaster, *children]

    def freeze(self) -> None:
        self.frozen = self.processes()
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        pids, self.frozen = self.frozen, []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@pytest.fixture
def frozen_cluster() -> Iterator[FrozenCluster]:
    import pgserver  # the "test" extra installs it
    parent = embedded_parent_dir("hareg-frozen-pg-")
    server = pgserver.get_server(parent / "pg", cleanup_mode="stop")
    admin = server.get_uri("postgres")
    conn = psycopg2.connect(admin, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE hareg")
    finally:
        conn.close()
    cluster = FrozenCluster(parent / "pg", database_url(admin, "hareg"))
    try:
        yield cluster
    finally:
        cluster.thaw()
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def _timed_get(session: requests.Session, url: str, **kwargs: object
               ) -> tuple[requests.Response, float]:
    start = time.monotonic()
    resp = session.get(url, timeout=ANSWER_BOUND, **kwargs)  # type: ignore[arg-type]
    return resp, time.monotonic() - start


def _wait_ready(session: requests.Session, server: HaregServer) -> requests.Response:
    deadline = time.monotonic() + RECOVERY_BOUND
    resp = None
    while time.monotonic() < deadline:
        try:
            resp = session.get(f"{server.url}/readyz", timeout=5)
            if resp.status_code == 200:
                return resp
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"not ready {RECOVERY_BOUND:g} s after SIGCONT: {resp and resp.text}")


@pytest.mark.slow
def test_frozen_database_gives_bounded_503(
    frozen_cluster: FrozenCluster, server_factory: ServerFactory,
    session: requests.Session, repo: str,
) -> None:
    # Short bounds (the defaults are 5 s and 10 s): they bound the same waits, sooner.
    # connect_timeout 2 s (libpq's least), statement_timeout 2 s (+ 2 s client-side).
    server = server_factory.create(database_url=frozen_cluster.url, workers=1, start=False)
    server.config["database"].update(connect_timeout="2s", statement_timeout="2s")
    server.config_path.write_text(to_toml(server.config))
    server.start()

    manifest = image_manifest(layers=[random_blob(512)])
    push_image(session, server.url, repo, manifest, "latest")
    manifest_url = f"{server.url}/v2/{repo}/manifests/latest"
    accept = {"Accept": manifest.media_type}
    assert session.get(manifest_url, headers=accept, timeout=10).status_code == 200

    frozen_cluster.freeze()
    try:
        ready, ready_s = _timed_get(session, f"{server.url}/readyz")
        got, got_s = _timed_get(session, manifest_url, headers=accept)
        again, again_s = _timed_get(session, f"{server.url}/readyz")
        print(f"\nfrozen database: /readyz {ready.status_code} in {ready_s:.2f} s,"
              f" manifest GET {got.status_code} in {got_s:.2f} s,"
              f" /readyz again {again.status_code} in {again_s:.2f} s")
    finally:
        frozen_cluster.thaw()

    assert ready.status_code == 503, ready.text
    assert "database" in ready.json()["problems"], ready.text
    assert again.status_code == 503, again.text
    assert got.status_code == 503, got.text
    assert error_codes(got) == ["UNAVAILABLE"]
    assert got.headers.get("Retry-After")

    _wait_ready(session, server)
    recovered = session.get(manifest_url, headers=accept, timeout=10)
    assert recovered.status_code == 200, recovered.text
    assert recovered.content == manifest.data


def test_stopped_database_readyz_503(tmp_path: Path) -> None:
    """Nothing listens at the database's address: /readyz says which check failed."""
    from hareg.api.app import create_app
    from hareg.config import load_config
    from tests.fixtures.server import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/hareg"
    config = load_config(env={}, overrides={
        "database": {"url": url},
        "storage": {"driver": "filesystem", "root": str(tmp_path / "storage")},
        "server": {"data_dir": str(tmp_path / "data")},
    })
    app = create_app(config)
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.headers.get("Retry-After")
    body = resp.json
    assert body["status"] == "unavailable"
    assert "OperationalError" in body["problems"]["database"]
    assert "storage" not in body["problems"]
