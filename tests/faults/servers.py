# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg servers under fault: configure, wait for readiness, find and kill workers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.fixtures.server import HaregServer, to_toml
from tests.oci import new_session

READY_TIMEOUT = 60.0
WORKER_TIMEOUT = 60.0


def configure(server: HaregServer, **sections: dict[str, Any]) -> None:
    """Override keys of a server's config before it starts."""
    for section, keys in sections.items():
        server.config.setdefault(section, {}).update(keys)
    server.config_path.write_text(to_toml(server.config))


def wait_ready(server: HaregServer, timeout: float = READY_TIMEOUT) -> None:
    """Until ``/readyz`` answers 200 (bounded)."""
    http = new_session()
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            resp = http.get(f"{server.url}/readyz", timeout=5)
            if resp.status_code == 200:
                return
            last = f"{resp.status_code} {resp.text[:200]}"
        except OSError as exc:
            last = f"{type(exc).__name__}"
        time.sleep(0.2)
    raise AssertionError(f"{server.name} not ready ({last}):\n{server.log_tail()}")


def worker_pids(server: HaregServer) -> list[int]:
    """The gunicorn workers of ``server``: the children of its main process."""
    assert server.proc is not None
    master = server.proc.pid
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == master:
            pids.append(int(entry.name))
    return pids


def kill_worker(server: HaregServer) -> int:
    """SIGKILL the (single) worker of ``server``; returns its pid."""
    pids = worker_pids(server)
    assert len(pids) == 1, f"expected one worker, found {pids}"
    os.kill(pids[0], signal.SIGKILL)
    return pids[0]


def wait_new_worker(server: HaregServer, dead: int, timeout: float = WORKER_TIMEOUT) -> None:
    """Until gunicorn has replaced worker ``dead`` and the server answers again (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = worker_pids(server)
        if pids and dead not in pids:
            break
        time.sleep(0.1)
    wait_ready(server, max(1.0, deadline - time.monotonic()))
