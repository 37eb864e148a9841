# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The embedded PostgreSQL announces itself in one line; initdb's and pg_ctl's output goes
to ``<data_dir>/postgres.log`` (hareg.db.embedded)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fixtures.postgres import embedded_parent_dir
from tests.fixtures.server import child_env

COMMAND_TIMEOUT = 120.0
PG_EXIT_TIMEOUT = 15.0


def _postgres_under(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if "postgres" in (proc.info["name"] or "") and \
                    str(data_dir) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture
def data_dir() -> Iterator[Path]:
    parent = embedded_parent_dir("hareg-test-quiet-")  # outside pytest's 0700 basetemp
    path = parent / "data"
    try:
        yield path
    finally:
        deadline = time.monotonic() + PG_EXIT_TIMEOUT
        while _postgres_under(path) and time.monotonic() < deadline:
            time.sleep(0.2)
        for proc in _postgres_under(path):
            proc.kill()
        shutil.rmtree(parent, ignore_errors=True)


def _hareg(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hareg_cli", *args, "--data-dir", str(data_dir)],
        env=child_env(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=COMMAND_TIMEOUT, check=False)


@pytest.mark.slow
def test_embedded_postgres_prints_one_line_and_logs_to_a_file(data_dir: Path):
    where = f"embedded PostgreSQL in {data_dir / 'postgres'} (log: {data_dir / 'postgres.log'})"

    # first start (initdb), in a command without logging: one plain line
    first = _hareg(data_dir, "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [f"hareg: {where}"]

    # a later start in a command that sets up logging, as JSON (gc refuses a data dir
    # without a hareg database, so it cannot be the first)
    second = _hareg(data_dir, "gc", "--history", HAREG_LOG_FORMAT="json")
    assert second.returncode == 0, second.stderr
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr
    assert json.loads(lines[0])["message"] == where

    deadline = time.monotonic() + PG_EXIT_TIMEOUT
    while _postgres_under(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _postgres_under(data_dir), "the last process out did not stop PostgreSQL"
    log = (data_dir / "postgres.log").read_text()
    assert "initdb" in log and "server started" in log and "server stopped" in log
