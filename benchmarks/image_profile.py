# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Where a ``skopeo copy`` push spends its time on each registry (filesystem storage).

``python -m benchmarks.image_profile [--layers 10] [--layer-mib 20] [--rounds 2]``

Starts hareg and distribution as the benchmark does, warms both up with a small push, then
pushes a fresh image of random layers with skopeo to each, ``--rounds`` times alternating,
while ``perf trace -s`` (run as root) counts the servers' (and hareg's PostgreSQL
backends') write and sync system calls and the time spent in them. Prints, per push: wall
time, the servers' CPU (from /proc), and the syscall summary: how much of the wall time is
spent waiting for the disk.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from . import ops as o
from .images import Layout, Skopeo, _docker
from .servers import Distribution, Hareg, Meter, Postgres, Server, StorageSpec

MIB = 1024 * 1024
SYSCALLS = "fsync,fdatasync,write,pwrite64,writev,rename,renameat2,openat,read,recvfrom"
_LINE = re.compile(r"^\s+([a-z0-9_]+)\s+(\d+)\s+\d+\s+([\d.]+)\s")


def traced_push(skopeo: Skopeo, server: Server, layout: Layout, ref: str,
                repo: str) -> tuple[float, float, float, dict[str, list[float]]]:
    pids = server.pids() + server.db_pids()
    out = skopeo.work / f"perf-{server.name}-{repo.replace('/', '_')}.txt"
    perf = subprocess.Popen(["perf", "trace", "-s", "-e", SYSCALLS, "-o", str(out),
                             "-p", ",".join(map(str, pids))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # perf attaches
    with Meter(server, None) as meter:
        wall, _, errors = skopeo.run([(f"oci:{layout.path}:{ref}", _docker(server, repo, ref),
                                       skopeo.cache(f"{server.name}-{repo}"))])
    perf.send_signal(signal.SIGINT)
    perf.wait(timeout=30)
    if errors:
        raise RuntimeError(errors)
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for line in out.read_text().splitlines():
        m = _LINE.match(line)
        if m:
            totals[m.group(1)][0] += int(m.group(2))
            totals[m.group(1)][1] += float(m.group(3))
    return wall, meter.usage.cpu, meter.usage.db_cpu, totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.image_profile",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--layer-mib", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hareg-image-profile-", dir="/var/tmp"))
    pg = Postgres(args.database)
    spec = StorageSpec("filesystem", root=work / "storage")
    servers: list[Server] = [Hareg(work / "hareg", spec, pg, 2),
                             Distribution(work / "distribution", spec)]
    content = o.Content(max(64, args.layer_mib) * MIB)
    try:
        for server in servers:
            server.start()
        skopeo = Skopeo(work / "skopeo", 300)
        layout = Layout(work / "layout")
        warm = layout.add_image("warm", [layout.add_layer(content.blob(MIB, "warm").data, "w")],
                                "warm")
        for server in servers:
            skopeo.run([(f"oci:{layout.path}:{warm.ref}", _docker(server, "warm", "warm"),
                         skopeo.cache(f"warm-{server.name}"))])
        for rnd in range(args.rounds):
            layers = [layout.add_layer(content.blob(args.layer_mib * MIB, f"{rnd}/{i}").data,
                                       f"l{i}") for i in range(args.layers)]
            image = layout.add_image(f"r{rnd}", layers, f"round {rnd}")
            order = servers if rnd % 2 == 0 else servers[::-1]
            for server in order:
                wall, cpu, db_cpu, totals = traced_push(skopeo, server, layout, image.ref,
                                                        f"profile/r{rnd}")
                print(f"round {rnd} {server.name}: {image.size / MIB:.0f} MiB in {wall:.2f} s, "
                      f"server CPU {cpu:.2f} s, PostgreSQL CPU {db_cpu:.2f} s")
                for name, (calls, ms) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
                    print(f"    {name:<10} {int(calls):>6} calls  {ms:9.1f} ms in the call")
    finally:
        for server in servers:
            server.stop()
        pg.drop_all()
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
