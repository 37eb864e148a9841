# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``hareg serve`` with no config at all: embedded PostgreSQL and storage under ./hareg-data.

The process is started from an empty directory with every ``HAREG_*`` variable removed
from its environment. It is stopped with SIGTERM to its main process only (as an operator
would), so that the embedded PostgreSQL must be stopped by hareg itself, not by a signal
sent to the whole process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.postgres import embedded_parent_dir
from tests.fixtures.server import (
    STARTUP_TIMEOUT,
    child_env,
    free_port,
    reap_group_of,
    wait_until_answers,
)
from tests.oci import new_session, push_blob, random_bytes

PG_EXIT_TIMEOUT = 15.0
DEFAULT_STOP_TIMEOUT = 45.0  # above the default [server] graceful_timeout (30 s)
SETTLE_TIMEOUT = 20.0
SETTLE_LOAD = 0.5  # one worker answered already; the others booted with it and load alike


def _postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Live processes whose command line or working directory lies under ``data_dir``."""
    found = []
    root = str(data_dir)
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        try:
            info = proc.info
            text = " ".join(info.get("cmdline") or [])
            name = (info.get("name") or "").lower()
            cwd = info.get("cwd") or ""
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            is_postgres = "postgres" in name or "postgres" in text
            if is_postgres and (root in text or cwd.startswith(root)):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class DefaultServe:
    """``python -m hareg_cli serve --bind ...`` in ``cwd`` with no config and no HAREG_* env."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd.parent / f"{cwd.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pgids: list[int] = []
        self.last_returncode: int | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hareg_cli", "serve", "--bind", f"127.0.0.1:{self.port}"],
                cwd=self.cwd,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pgids.append(self.proc.pid)
        proc = self.proc
        if not wait_until_answers(f"{self.url}/v2/", STARTUP_TIMEOUT, lambda: proc.poll() is None):
            self.stop()
            pytest.fail(f"default hareg serve did not come up:\n{self.log()}", pytrace=False)
        self._settle()

    def _settle(self) -> None:
        """Wait until every worker has booted (plus a moment to load the app).

        A SIGTERM that lands while a worker is still loading is a separate problem,
        pinned by ``test_sigterm_while_workers_boot`` (and since its fix it stops the
        server with status 0 too, tests/cli/test_boot_signal.py); this test is about the
        embedded database, so it stops a settled server.
        """
        workers = os.cpu_count() or 1
        deadline = time.monotonic() + SETTLE_TIMEOUT
        start_marker = f"Listening at: {self.url}"
        while time.monotonic() < deadline:
            log = self.log_path.read_text(errors="replace")
            tail = log[log.rfind(start_marker) :] if start_marker in log else ""
            if tail.count("Booting worker") >= workers:
                break
            time.sleep(0.1)
        time.sleep(SETTLE_LOAD)

    def stop(self) -> bool:
        """SIGTERM the main process only; True when it exited within the bound by itself."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=DEFAULT_STOP_TIMEOUT)
            self.last_returncode = proc.returncode
            return True
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            return False

    def cleanup(self) -> None:
        """Kill whatever this test started and is still alive (by group, then by pid)."""
        self.stop()
        for pgid in self.pgids:
            reap_group_of(pgid, timeout=0.5)
        for proc in _postgres_processes(self.cwd):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-12_000:]
        except OSError as exc:
            return f"(no log: {exc})"


@pytest.fixture
def default_serve() -> Iterator[DefaultServe]:
    # outside pytest's basetemp: see tests.fixtures.postgres.embedded_parent_dir
    parent = embedded_parent_dir("hareg-test-default-")
    cwd = parent / "empty"
    cwd.mkdir()
    serve = DefaultServe(cwd)
    try:
        yield serve
    finally:
        serve.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def _wait_no_postgres(data_dir: Path, timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    left = _postgres_processes(data_dir)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _postgres_processes(data_dir)
    return left


@pytest.mark.slow
def test_serve_without_any_configuration(default_serve: DefaultServe):
    cwd = default_serve.cwd
    data_dir = cwd / "hareg-data"
    assert not any(cwd.iterdir())

    default_serve.start()
    assert data_dir.is_dir(), f"no ./hareg-data after start:\n{default_serve.log()}"
    assert _postgres_processes(data_dir), "no embedded PostgreSQL process under ./hareg-data"

    data = random_bytes(50_000)
    with new_session() as session:
        assert session.get(f"{default_serve.url}/v2/").status_code == 200
        digest = push_blob(session, default_serve.url, "embedded/test", data)

    assert default_serve.stop(), f"did not stop on SIGTERM:\n{default_serve.log()}"
    assert default_serve.last_returncode == 0, default_serve.log()
    left = _wait_no_postgres(data_dir, PG_EXIT_TIMEOUT)
    assert not left, (
        f"PostgreSQL still running after hareg stopped: {[p.pid for p in left]}\n"
        f"{default_serve.log()}"
    )

    default_serve.start()
    with new_session() as session:
        resp = session.get(f"{default_serve.url}/v2/embedded/test/blobs/{digest}")
        assert resp.status_code == 200, resp.text
        assert resp.content == data

    assert default_serve.stop(), f"did not stop on SIGTERM:\n{default_serve.log()}"
    assert default_serve.last_returncode == 0, default_serve.log()
    left = _wait_no_postgres(data_dir, PG_EXIT_TIMEOUT)
    assert not left, (
        f"PostgreSQL still running after hareg stopped: {[p.pid for p in left]}\n"
        f"{default_serve.log()}"
    )


@pytest.mark.slow
def test_two_instances_on_one_data_dir_share_the_embedded_database(
    default_serve: DefaultServe,
):
    """The second ``hareg serve`` joins the first one's PostgreSQL; the last one out stops it."""
    data_dir = default_serve.cwd / "hareg-data"
    second = DefaultServe(default_serve.cwd)
    try:
        default_serve.start()
        second.start()
        postmasters = [p for p in _postgres_processes(data_dir) if "-D" in p.cmdline()]
        assert len(postmasters) == 1, [p.cmdline() for p in postmasters]
        data = random_bytes(10_000)
        with new_session() as session:
            digest = push_blob(session, default_serve.url, "shared/db", data)
            resp = session.get(f"{second.url}/v2/shared/db/blobs/{digest}")
            assert resp.status_code == 200 and resp.content == data

        assert default_serve.stop(), default_serve.log()
        with new_session() as session:  # the first one out leaves the database running
            resp = session.get(f"{second.url}/v2/shared/db/blobs/{digest}")
            assert resp.status_code == 200 and resp.content == data

        assert second.stop(), second.log()
        left = _wait_no_postgres(data_dir, PG_EXIT_TIMEOUT)
        assert not left, f"PostgreSQL outlived both instances:\n{second.log()}"
    finally:
        second.cleanup()
