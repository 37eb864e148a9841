# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Virtual and remote namespaces against direct access, in one run (issue 10's targets).

``python -m benchmarks.namespaces [--quick] [--out namespaces.json]``

Starts, on loopback, hareg (``hareg serve``, filesystem storage, a fresh database) and CNCF
distribution (``docker-registry serve``) as the upstream of hareg's remote namespace ``hub``;
defines the virtual namespace ``docker`` over the local namespace ``dev`` with
``hareg namespace``. Each row compares two ways to the same bytes, alternating which goes
first, ``--reps`` times, and prints medians and their ratio:

- a manifest GET/HEAD through ``docker/bench/app`` against the same request on
  ``dev/bench/app`` (target >= 0.9);
- a cached pull (manifest and a 16 MiB blob) through ``hub/bench/app`` against a local pull
  of the same sizes on ``dev/bench/app`` (target >= 0.95);
- the first pull of a 64 MiB and a 1 GiB blob through ``hub/`` (nothing cached: hareg fetches
  it from the upstream while it streams it to the client and stores it) against pulling it
  from the upstream directly (target >= 0.8), with the largest RSS rise of one hareg process
  during the pull (target < 64 MiB).

Every operation checks what it receives (benchmarks.ops).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from . import ops as o
from .httpclient import LoadResult, Op, run_ops
from .servers import ROOT, Distribution, Hareg, Meter, Postgres, Server, StorageSpec

MIB = 1024 * 1024


@dataclass
class Comparison:
    """One row: ``a`` (the way through a namespace) against ``b`` (the direct way)."""

    key: str
    unit: str  # "req/s" or "MiB/s": higher is better
    a: str
    b: str
    target: float
    a_values: list[float] = field(default_factory=list)
    b_values: list[float] = field(default_factory=list)
    growth_mib: list[float] = field(default_factory=list)  # of hareg, during ``a``
    #: CPU milliseconds per operation of the server and its PostgreSQL backends: what a
    #: saturated machine's throughput follows, and steadier than req/s on a shared machine.
    a_cpu: list[float] = field(default_factory=list)
    b_cpu: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def ratio(self) -> float | None:
        if not self.a_values or not self.b_values:
            return None
        return statistics.median(self.a_values) / statistics.median(self.b_values)


def _value(res: LoadResult, unit: str) -> float:
    if unit == "MiB/s":
        return res.payload_bytes / MIB / res.wall
    return res.ops / res.wall


def _run(server: Server, ops: Sequence[Op], concurrency: int, row: Comparison,
         side: str, metered: bool = False) -> None:
    """Run ``ops`` and record the figures on ``row``'s side ``a`` (through) or ``b``."""
    with Meter(server, None) as meter:
        res = run_ops(server.host, server.port, ops, concurrency)
    if res.errors:
        row.errors.extend(res.error_samples[:2])
        return
    (row.a_values if side == "a" else row.b_values).append(_value(res, row.unit))
    cpu_ms = 1000 * (meter.usage.cpu + meter.usage.db_cpu) / max(res.ops, 1)
    (row.a_cpu if side == "a" else row.b_cpu).append(cpu_ms)
    if metered:
        row.growth_mib.append(meter.usage.growth_mib)


def _hareg_cli(hareg: Hareg, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAREG_")}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-m", "hareg_cli", "namespace", *args,
                    "--config", str(hareg.config_path)], check=True, env=env, timeout=60)


def _wait_for(url: str, headers: dict[str, str], timeout: float = 30.0) -> None:
    """Until ``url`` answers 200: the namespace definitions reached every worker."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=10) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.25)


def _push_image(server: Server, repo: str, tag: str, config: o.Blob,
                layers: list[o.Blob], note: str) -> o.Manifest:
    manifest = o.image_manifest(config, layers, note)
    ops: list[Op] = [partial(o.push_monolithic, repo=repo, blob=b) for b in (config, *layers)]
    ops.append(partial(o.put_manifest, repo=repo, ref=tag, m=manifest))
    res = run_ops(server.host, server.port, ops, 1)
    if res.errors:
        raise RuntimeError(f"push to {server.name} {repo}: {res.error_samples}")
    return manifest


def _alternate(rep: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    for run in (first, second) if rep % 2 == 0 else (second, first):
        run()


def bench_virtual(hareg: Hareg, rows: list[Comparison], manifest: o.Manifest, reps: int,
                  requests: int) -> None:
    for method, op in (("GET", o.get_manifest), ("HEAD", o.head_manifest)):
        for concurrency in (1, 16):
            row = Comparison(f"manifest {method} c{concurrency}", "req/s",
                             "docker/bench/app (virtual)", "dev/bench/app (member)", 0.9)
            rows.append(row)
            through = [partial(op, repo="docker/bench/app", ref="v1", m=manifest)] * requests
            direct = [partial(op, repo="dev/bench/app", ref="v1", m=manifest)] * requests
            for rep in range(reps):
                _alternate(rep, partial(_run, hareg, through, concurrency, row, "a"),
                           partial(_run, hareg, direct, concurrency, row, "b"))


def bench_cached_remote(hareg: Hareg, rows: list[Comparison], local: o.Manifest,
                        local_layer: o.Blob, cached: o.Manifest, cached_layer: o.Blob,
                        reps: int, requests: int) -> None:
    row = Comparison("cached manifest GET c16", "req/s", "hub/bench/app (cache)",
                     "dev/bench/app (local)", 0.95)
    rows.append(row)
    through = [partial(o.get_manifest, repo="hub/bench/app", ref="v1", m=cached)] * requests
    direct = [partial(o.get_manifest, repo="dev/bench/app", ref="v1", m=local)] * requests
    for rep in range(reps):
        _alternate(rep, partial(_run, hareg, through, 16, row, "a"),
                   partial(_run, hareg, direct, 16, row, "b"))
    row = Comparison("cached 16 MiB blob pull c4", "MiB/s", "hub/bench/app (cache)",
                     "dev/bench/app (local)", 0.95)
    rows.append(row)
    pulls = max(8, requests // 50)
    through = [partial(o.pull_blob, repo="hub/bench/app", blob=cached_layer)] * pulls
    direct = [partial(o.pull_blob, repo="dev/bench/app", blob=local_layer)] * pulls
    for rep in range(reps):
        _alternate(rep, partial(_run, hareg, through, 4, row, "a"),
                   partial(_run, hareg, direct, 4, row, "b"))


def bench_first_pull(hareg: Hareg, upstream: Distribution, rows: list[Comparison],
                     content: o.Content, size: int, reps: int) -> None:
    label = f"{size // MIB} MiB" if size < 1024 * MIB else f"{size // (1024 * MIB)} GiB"
    row = Comparison(f"first pull of {label} c1", "MiB/s", "hub/bench/big (remote, uncached)",
                     "bench/big on the upstream", 0.8)
    rows.append(row)
    for rep in range(reps):
        blob = content.big(size, f"first-{label}-{rep}")
        res = run_ops(upstream.host, upstream.port,
                      [partial(o.push_monolithic, repo="bench/big", blob=blob)], 1)
        if res.errors:
            row.errors.extend(res.error_samples[:2])
            continue
        through = [partial(o.pull_blob, repo="hub/bench/big", blob=blob)]
        direct = [partial(o.pull_blob, repo="bench/big", blob=blob)]
        # The remote pull must come first: it is a first pull only once.
        _run(hareg, through, 1, row, "a", metered=True)
        _run(upstream, direct, 1, row, "b")
        print(f"  {row.key}: rep {rep} done", flush=True)


def report(rows: list[Comparison]) -> str:
    header = (f"{'row':<28} {'through':>10} {'direct':>10} {'ratio':>6} {'target':>7}     "
              f"{'cpu ms/op':>15}  growth")
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.errors:
            lines.append(f"{row.key:<28} ERRORS: {'; '.join(row.errors[:2])}")
            continue
        ratio = row.ratio()
        a = statistics.median(row.a_values) if row.a_values else None
        b = statistics.median(row.b_values) if row.b_values else None
        met = "" if ratio is None else ("ok" if ratio >= row.target else "MISSED")
        growth = f"{max(row.growth_mib):.1f} MiB" if row.growth_mib else ""
        cpu = (f"{statistics.median(row.a_cpu):.2f} / {statistics.median(row.b_cpu):.2f}"
               if row.a_cpu and row.b_cpu else "")
        lines.append(f"{row.key:<28} {a or 0:>10.1f} {b or 0:>10.1f} {ratio or 0:>6.2f} "
                     f">={row.target:<4} {met:>6}  {cpu:>15}  {growth}")
    lines.append("")
    lines += [f"{row.key}: through = {row.a}, direct = {row.b}, unit {row.unit}"
              for row in rows]
    lines.append("cpu ms/op: CPU of the server (all processes) and its PostgreSQL backends per"
                 " operation, through / direct (direct on the upstream: distribution's own)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.namespaces",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run, no 1 GiB")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", type=Path, default=Path("namespaces.json"))
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="admin URL of the PostgreSQL server hareg's database is made on")
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    requests = 300 if args.quick else 2000
    work = Path(tempfile.mkdtemp(prefix="hareg-bench-ns-", dir="/var/tmp"))
    pg = Postgres(args.database)
    spec = StorageSpec("filesystem", root=work / "storage")
    hareg = Hareg(work / "hareg", spec, pg, args.workers)
    upstream = Distribution(work / "upstream", spec)
    rows: list[Comparison] = []
    started = time.time()
    try:
        for server in (hareg, upstream):
            server.start()
        _hareg_cli(hareg, "add-virtual", "docker", "--member", "dev", "--deploy", "dev")
        _hareg_cli(hareg, "add-remote", "hub", "--url",
                   f"http://127.0.0.1:{upstream.port}", "--tag-ttl", "1h")
        content = o.Content(16 * MIB)
        config = content.blob(512, "config")
        layer = content.blob(16 * MIB, "local layer")
        local = _push_image(hareg, "dev/bench/app", "v1", config, [layer], "local")
        up_config = content.blob(512, "upstream config")
        up_layer = content.blob(16 * MIB, "upstream layer")
        cached = _push_image(upstream, "bench/app", "v1", up_config, [up_layer], "upstream")
        base = f"http://127.0.0.1:{hareg.port}/v2"
        accept = {"Accept": o.OCI_MANIFEST}
        _wait_for(f"{base}/docker/bench/app/manifests/v1", accept)
        _wait_for(f"{base}/hub/bench/app/manifests/v1", accept)  # caches the manifest
        warm = run_ops(hareg.host, hareg.port,
                       [partial(o.pull_blob, repo="hub/bench/app", blob=b)
                        for b in (up_config, up_layer)], 1)
        if warm.errors:
            raise RuntimeError(f"warming the cache: {warm.error_samples}")
        print("== virtual", flush=True)
        bench_virtual(hareg, rows, local, reps, requests)
        print("== cached remote", flush=True)
        bench_cached_remote(hareg, rows, local, layer, cached, up_layer, reps, requests)
        print("== first pull through a remote", flush=True)
        bench_first_pull(hareg, upstream, rows, content, 64 * MIB, reps)
        if not args.quick:
            bench_first_pull(hareg, upstream, rows, content, 1024 * MIB, 1)
    finally:
        for server in (hareg, upstream):
            server.stop()
        pg.drop_all()
    text = report(rows)
    print()
    print(text)
    meta: dict[str, Any] = {"workers": args.workers, "reps": reps, "requests": requests,
                            "seconds": round(time.time() - started, 1),
                            "load_average": os.getloadavg(), "work": str(work)}
    args.out.write_text(json.dumps({"meta": meta, "rows": [
        {**row.__dict__, "ratio": row.ratio()} for row in rows]}, indent=1) + "\n")
    print(f"\nresults in {args.out}; work dir {work}")
    return 1 if any(row.errors for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
