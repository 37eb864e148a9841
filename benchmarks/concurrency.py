# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""High concurrency (issue 11, target 5): manifest GET by tag on 64 and 256 keep-alive
connections at once, p50 and p99, with the servers' CPU and RSS (the resource table).

The client is Python threads; a few hundred of them in one process are bound by the GIL, so
the connections are spread over ``conc_procs`` forked client processes (at least; more with
``--client-procs``). The client's CPU share is in the resource table: at 2 cores the client
and the server under test share the machine, so a server that needs less CPU per request
leaves more of it to the load.
"""

from __future__ import annotations

from functools import partial

from . import ops as o
from .bench import Bench, Row


def bench_concurrency(b: Bench) -> None:
    s = b.sizes
    n = s.conc_manifests
    repo = "bench/concurrency"
    config = b.content.blob(1500, "concurrency/config")
    layers = [b.content.blob(4096, f"concurrency/layer{i}") for i in range(3)]
    mans = [o.image_manifest(config, layers, f"concurrency/{i}") for i in range(n)]
    for server in b.servers.values():
        b.setup(server, "concurrency blobs",
                [partial(o.push_monolithic, repo=repo, blob=x) for x in (config, *layers)], 4)
        b.setup(server, "concurrency manifests",
                [partial(o.put_manifest, repo=repo, ref=f"t{i}", m=m)
                 for i, m in enumerate(mans)], 16)
    procs = max(b.procs, s.conc_procs)
    passes = max(1, s.conc_ops // n)
    for conc in s.conc_levels:
        row = Row(f"manifest GET by tag c{conc}", "req/s", target="ratio>=1.5", p99=True,
                  note=f"{n} manifests, up to {passes * n} GETs a run (each manifest up to "
                  f"{passes} times; none starts after {s.conc_cap_s:g} s), {procs} client "
                  "processes")
        for rep in range(s.reps):
            for server in b.order(rep):
                b.measure(row, server, rep,
                          [partial(o.get_manifest, repo=repo, ref=f"t{i}", m=mans[i])
                           for _ in range(passes) for i in range(n)], conc, procs=procs,
                          cap_s=s.conc_cap_s)
