# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""SIGTERM to ``hareg serve`` while its workers boot stops it, without the graceful timeout.

The signal is sent to the master as soon as it has forked a worker: the worker is then
still patching gevent or importing the app, and still has the master's signal handler.
Before the fix the master waited the whole graceful_timeout (30 s) for such a worker.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.cli.helpers import HAREG
from tests.fixtures.postgres import PostgresAdmin
from tests.fixtures.server import STARTUP_TIMEOUT, child_env, free_port, reap_group_of

#: Liveness bound, far below the 30 s graceful_timeout a lost signal would cost.
EXIT_BOUND = 10.0


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []


def test_sigterm_while_workers_boot_stops_the_server(pg: PostgresAdmin, tmp_path: Path) -> None:
    url = pg.fresh_database("cli_boot")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [HAREG, "serve", "--bind", f"127.0.0.1:{free_port()}", "--workers", "2",
             "--data-dir", str(tmp_path / "data")],
            env=child_env({"HAREG_DATABASE_URL": url}), stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _children(proc.pid), log.read_text()
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        proc.wait(timeout=EXIT_BOUND)
        print(f"hareg serve exited {time.monotonic() - sent:.2f} s after SIGTERM")
        assert proc.returncode == 0, log.read_text()
        assert "Shutting down: Master" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=EXIT_BOUND)
        reap_group_of(proc.pid)
