# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Where a manifest GET by tag goes in hareg's request path, under cProfile in one process.

``python -m benchmarks.get_profile [--count 3000] [--database URL] [--top 25]``

Builds hareg's Flask app in this process (the request path of a gunicorn worker without
gunicorn, gevent and the socket), stores 200 manifests with one tag each, then GETs them by
tag ``--count`` times under cProfile and prints the time per GET, the SQL statements per GET
and the functions with the most own time. Compared with the CPU per request the benchmark
measures in the real server, the difference is what gunicorn, gevent and the HTTP parsing
cost.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import time

from .put_profile import image_app, profile_args


def main() -> int:
    args = profile_args("get_profile", 3000)

    repo = "profile/get"
    with image_app(args.database, "getprof", repo) as (client, config_desc, layers):
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        n = 200
        for i in range(n):
            payload = json.dumps({
                "schemaVersion": 2, "mediaType": headers["Content-Type"],
                "config": config_desc, "layers": layers, "annotations": {"n": str(i)}}).encode()
            r = client.put(f"/v2/{repo}/manifests/t{i}", data=payload, headers=headers)
            assert r.status_code == 201, r.data
        accept = {"Accept": headers["Content-Type"]}
        for i in range(n):  # warm
            assert client.get(f"/v2/{repo}/manifests/t{i}", headers=accept).status_code == 200
        t0 = time.perf_counter()
        for i in range(args.count):
            client.get(f"/v2/{repo}/manifests/t{i % n}", headers=accept)
        plain = (time.perf_counter() - t0) / args.count
        profile = cProfile.Profile()
        profile.enable()
        for i in range(args.count):
            r = client.get(f"/v2/{repo}/manifests/t{i % n}", headers=accept)
            assert r.status_code == 200
        profile.disable()
        stats = pstats.Stats(profile)
        per = args.count
        print(f"{per} manifest GETs by tag: {plain * 1000:.3f} ms each without the profiler "
              "(Flask test client, this process)")
        execs = sum(nc for (_, _, name), (_cc, nc, _tt, _ct, _) in
                    stats.stats.items()  # type: ignore[attr-defined]
                    if "execute' of 'psycopg2" in name)
        print(f"SQL statements per GET: {execs / per:.1f}")
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
