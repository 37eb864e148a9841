# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What every scenario is built on: rows (what a table line measures), samples (one timed
run on one server), sizes, and :class:`Bench`, which runs and meters operations."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ops as o
from .httpclient import LoadResult, Op, percentile, run_ops
from .servers import Meter, Moto, Server, Usage

MIB = 1024 * 1024
HAREG, DIST = "hareg", "distribution"
#: What the machine can do without a registry (nginx serving a file, hashing and writing
#: with fsync): recorded on the rows of the blob scenarios by ``benchmarks.limits``.
LIMIT = "limit"


@dataclass
class Row:
    key: str
    unit: str  # "MiB/s", "req/s", "ms" or "s" (wall time of a whole run; lower is better)
    hareg_only: bool = False
    target: str = ""  # "ratio>=1", "ratio>=10", "p50<20ms", "growth<64MiB", "flat"
    note: str = ""
    #: A point of a growth curve (hareg only): the curve's name and the table size. "flat":
    #: the median is at most twice the curve's first point.
    curve: str = ""
    size: int = 0
    #: Show p50/p99 (not p50/p95) latencies in the speed table.
    p99: bool = False


@dataclass
class Sample:
    row: str
    server: str
    rep: int
    value: float | None
    p50_ms: float
    p95_ms: float
    ops: int
    requests: int
    errors: int
    error_samples: list[str]
    wall_s: float
    payload_bytes: int
    client_cpu_s: float
    usage: Usage
    extra: dict[str, Any] = field(default_factory=dict)
    done: list[int] = field(default_factory=list, repr=False)  # indices of the ops that succeeded
    p99_ms: float = float("nan")


@dataclass
class Sizes:
    reps: int
    small: tuple[int, int] = (MIB, 64)
    large: tuple[int, int] = (64 * MIB, 4)
    chunked: tuple[int, int, int] = (64 * MIB, 2, 5 * MIB)
    manifests: int = 500
    tags: int = 2000
    repos: int = 500
    referrers: int = 200
    big: int = 1024 * MIB
    list_ops: int = 20
    walk_ops: int = 5
    referrer_ops: int = 100
    get_passes: int = 3  # manifest GET/HEAD rows fetch every stored manifest this many times
    cap_s: float = 20.0  # no operation of a measurement starts after this many seconds
    budget_s: float = 60.0  # a row whose samples took this long on a server gets no more reps
    big_both: bool = True  # the 1 GiB push/pull on distribution too (not only hareg)
    # Listings at scale: one repository with scale_tags tags, one with scale_manifests
    # manifests and scale_repos others, through the API on both servers; then hareg alone,
    # rows generated in SQL, at each table size of ``curve``.
    scale_tags: int = 20_000
    scale_manifests: int = 2000
    scale_repos: int = 2000
    curve: tuple[int, ...] = (1000, 10_000, 100_000)
    curve_ops: int = 50
    # Whole images with skopeo (benchmarks.images): one image of image_layers layers of
    # image_layer bytes each, pushed and pulled; a CI burst of burst_images concurrent
    # pushes, each of the burst_base shared layers (pushed beforehand) and burst_unique
    # layers of its own.
    image_layers: int = 10
    image_layer: int = 20 * MIB
    burst_images: int = 20
    burst_base: tuple[int, int] = (5, 4 * MIB)  # layers, bytes each
    burst_unique: tuple[int, ...] = (64 * 1024, MIB)
    skopeo_timeout_s: float = 300.0
    # High concurrency (benchmarks.concurrency): manifest GET by tag at each level, over
    # conc_manifests manifests, conc_ops operations a measurement, from conc_procs client
    # processes (at least; --client-procs may ask for more).
    conc_levels: tuple[int, ...] = (64, 256)
    conc_manifests: int = 200
    conc_ops: int = 4000
    conc_procs: int = 2
    conc_cap_s: float = 5.0


FULL = Sizes(reps=3)
#: On S3 every figure is bounded by moto (single-threaded Python): short caps keep the run
#: under 10 minutes; what matters there is CPU per GB / per request and S3 calls per operation.
FULL_S3 = Sizes(reps=3, cap_s=2.0, budget_s=6.0, big_both=False,
                # distribution's manifest PUTs on moto: about 40 a second (the setup)
                scale_tags=2000, scale_manifests=300, scale_repos=500)
QUICK = Sizes(reps=1, small=(MIB, 32), large=(64 * MIB, 2), chunked=(64 * MIB, 1, 5 * MIB),
              manifests=200, tags=2000, repos=500, referrers=200, big=256 * MIB, list_ops=10,
              walk_ops=3, referrer_ops=50, get_passes=2, cap_s=3.0, budget_s=4.0,
              scale_tags=5000, scale_manifests=300, scale_repos=500, curve=(1000, 10_000),
              curve_ops=20, image_layer=4 * MIB, burst_images=10, conc_ops=2000)


class Bench:
    def __init__(self, servers: dict[str, Server], moto: Moto | None, sizes: Sizes,
                 procs: int, redirecting: Callable[[], dict[str, Server]] | None = None,
                 content: o.Content | None = None) -> None:
        self.servers = servers
        #: Starts a hareg and a distribution that redirect blob GETs to S3 (s3 runs only).
        self.redirecting = redirecting
        self.moto = moto
        self.sizes = sizes
        self.procs = procs
        self.rows: dict[str, Row] = {}
        self.samples: list[Sample] = []
        self.content = content or o.Content(64 * MIB)
        #: Where a scenario may put files of its own (images, nginx's root); set by run.py.
        self.work: Any = None

    def order(self, rep: int, hareg_only: bool = False) -> list[Server]:
        names = [HAREG] if hareg_only else ([HAREG, DIST] if rep % 2 == 0 else [DIST, HAREG])
        return [self.servers[n] for n in names]

    def setup(self, server: Server, what: str, ops: Sequence[Op], concurrency: int = 8) -> None:
        """Untimed preparation; any error aborts the run (the scenario would be meaningless)."""
        t0 = time.perf_counter()
        res = run_ops(server.host, server.port, ops, concurrency)
        if res.errors:
            raise RuntimeError(f"setup {what!r} on {server.name} failed: {res.error_samples}"
                               f"\n{server.log_tail()}")
        if len(ops) > 50:
            print(f"  (setup: {what} on {server.name}: {len(ops)} ops in "
                  f"{time.perf_counter() - t0:.1f} s)", flush=True)

    def over_budget(self, row: Row, server: Server) -> bool:
        """True when this row already took its time budget on this server (then: no more
        repetitions, the samples so far stand)."""
        name = self.name_of(server)
        spent = sum(s.wall_s for s in self.samples if s.row == row.key and s.server == name)
        return spent > self.sizes.budget_s

    def name_of(self, server: Server) -> str:
        return next(k for k, v in self.servers.items() if v is server)

    def measure(self, row: Row, server: Server, rep: int, ops: Sequence[Op],
                concurrency: int, extra: dict[str, Any] | None = None,
                procs: int | None = None, cap_s: float | None = None) -> Sample | None:
        """One timed run of ``ops``; None when skipped because the row is over budget.
        ``procs``: client processes (default: the run's ``--client-procs``); ``cap_s``: no
        operation starts after so many seconds (default: ``sizes.cap_s``)."""
        self.rows.setdefault(row.key, row)
        if rep > 0 and self.over_budget(row, server):
            return None
        with Meter(server, self.moto) as meter:
            res: LoadResult = run_ops(server.host, server.port, ops, concurrency,
                                      procs or self.procs, cap_s or self.sizes.cap_s)
        extra = dict(extra or {})
        if res.ops + res.errors < len(ops):
            extra["done"] = f"{res.ops + res.errors}/{len(ops)}"
        lat = [x * 1000 for x in res.latencies]
        if res.errors:
            value = None
        elif row.unit == "MiB/s":
            value = res.payload_bytes / MIB / res.wall
        elif row.unit == "req/s":
            value = res.ops / res.wall
        else:
            value = statistics.median(lat)
        name = self.name_of(server)
        sample = Sample(row.key, name, rep, value, percentile(lat, 50),
                        percentile(lat, 95), res.ops, res.requests, res.errors,
                        res.error_samples, res.wall, res.payload_bytes, res.client_cpu,
                        meter.usage, extra, sorted(res.done), percentile(lat, 99))
        self.samples.append(sample)
        shown = "ERRORS " + "; ".join(res.error_samples[:2]) if value is None else \
            f"{value:9.1f} {row.unit}"
        print(f"  {row.key:<34} {name:<12} rep {rep}  {shown}  "
              f"(cpu {meter.usage.cpu:.2f}s, client {res.client_cpu:.2f}s, "
              f"wall {res.wall:.2f}s{', done ' + extra['done'] if 'done' in extra else ''})",
              flush=True)
        return sample



    def record(self, row: Row, name: str, rep: int, value: float | None, wall: float,
               usage: Usage, *, errors: list[str] | None = None, payload_bytes: int = 0,
               client_cpu: float = 0.0, ops: int = 1,
               extra: dict[str, Any] | None = None) -> Sample:
        """A sample measured outside :meth:`measure` (skopeo processes, the machine's limits):
        ``value`` in ``row.unit``, None with ``errors``."""
        self.rows.setdefault(row.key, row)
        errors = errors or []
        if errors:
            value = None
        sample = Sample(row.key, name, rep, value, wall * 1000 / max(ops, 1),
                        wall * 1000 / max(ops, 1), 0 if errors else ops, 0, len(errors),
                        errors[:5], wall, payload_bytes, client_cpu, usage, dict(extra or {}))
        self.samples.append(sample)
        shown = "ERRORS " + "; ".join(errors[:2]) if value is None else \
            f"{value:9.2f} {row.unit}"
        print(f"  {row.key:<34} {name:<12} rep {rep}  {shown}  (cpu {usage.cpu:.2f}s, "
              f"client {client_cpu:.2f}s, wall {wall:.2f}s)", flush=True)
        return sample
