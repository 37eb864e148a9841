# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Do database queries yield under gevent? (issue 7, part 3, as a benchmark figure)

Runs hareg exactly as ``hareg serve`` does (:class:`hareg.server.runner.HaregServer`, gevent worker,
psycogreen patch applied by ``load()``) with ONE worker, plus one benchmark-only route that
borrows a connection from hareg's own pool and runs ``SELECT pg_sleep(0.05)``. Sixteen
concurrent requests then take about 50 ms in total when queries yield to other greenlets, and
about 16 x 50 = 800 ms when they block the worker. The route also reports when its query ran,
so the client can count how many queries overlapped.

The functional test of the same property (overlapping query count) belongs to the test suite;
this module only measures; the server side is :mod:`benchmarks.gevent_app`.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .gevent_app import QUERY_SECONDS, ROUTE
from .httpclient import Connection
from .servers import Hareg, Postgres, StorageSpec


class GeventCheckServer(Hareg):
    """A one-worker hareg with the sleep route, on its own fresh database."""

    name = "hareg-gevent-check"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "benchmarks.gevent_app", "--config",
                str(self.config_path), "--bind", f"127.0.0.1:{self.port}"]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Largest number of intervals running at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def measure(port: int, concurrency: int = 16, rounds: int = 5) -> dict[str, Any]:
    """Median wall time of ``concurrency`` simultaneous requests, and the query overlap."""
    walls: list[float] = []
    overlaps: list[int] = []
    errors: list[str] = []
    conns = [Connection("127.0.0.1", port) for _ in range(concurrency)]
    for conn in conns:  # warm: connections open, pool filled
        conn.request("GET", ROUTE)
    for _ in range(rounds):
        barrier = threading.Barrier(concurrency + 1)
        intervals: list[tuple[float, float]] = []

        def one(conn: Connection, barrier: threading.Barrier = barrier,
                intervals: list[tuple[float, float]] = intervals) -> None:
            barrier.wait()
            r = conn.request("GET", ROUTE)
            if r.status != 200:
                errors.append(f"HTTP {r.status}")
                return
            doc = json.loads(r.body)
            intervals.append((doc["start"], doc["end"]))

        threads = [threading.Thread(target=one, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        walls.append(time.perf_counter() - t0)
        overlaps.append(max_overlap(intervals))
    for conn in conns:
        conn.close()
    return {
        "concurrency": concurrency,
        "query_ms": QUERY_SECONDS * 1000,
        "wall_ms_median": statistics.median(walls) * 1000,
        "wall_ms_all": [round(w * 1000, 1) for w in walls],
        "serialized_ms": concurrency * QUERY_SECONDS * 1000,
        "max_overlapping_queries": max(overlaps),
        "errors": errors[:5],
    }


def run(work: Path, pg: Postgres) -> dict[str, Any]:
    """Start the one-worker server (filesystem storage: only the database matters), measure."""
    server = GeventCheckServer(work, StorageSpec("filesystem", work / "storage"), pg, workers=1)
    server.start()
    try:
        return measure(server.port)
    finally:
        server.stop()
