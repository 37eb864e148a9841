# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Queries yield to other greenlets: the reason a gevent worker can serve many requests.

A child process (monkey patching does not belong in the pytest process) runs 15 greenlets
that each hold a pool connection through ``SELECT pg_sleep(0.3)`` while a 16th greenlet
counts them in ``pg_stat_activity``. Without psycogreen each query blocks the whole worker
and the counter sees none (checked by hand: 0). The assertion is on concurrency, never on
timing: PostgreSQL itself must see all 15 queries at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, sys
    import gevent, psycopg2
    from hareg.db.green import patch_if_gevent
    from hareg.db.pool import Database

    assert patch_if_gevent()
    url = sys.argv[1]
    db = Database(url, size=16)
    marker = "hareg-overlap-probe"
    seen = []

    def query(i):
        with db.read() as cur:
            cur.execute(f"SELECT pg_sleep(0.3) /* {marker} */")

    def watch():
        # A separate plain connection counts the probe queries running right now.
        with db.read() as cur:
            for _ in range(30):
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                    " AND datname = current_database()"  # not a parallel run's probes
                    " AND query LIKE %s AND pid <> pg_backend_pid()", (f"%{marker} */",))
                seen.append(cur.fetchone()[0])
                gevent.sleep(0.01)

    workers = [gevent.spawn(query, i) for i in range(15)]
    watcher = gevent.spawn(watch)
    gevent.joinall(workers + [watcher], timeout=30, raise_error=True)
    print(json.dumps({"max_overlap": max(seen)}))
""")


def test_sixteen_queries_overlap_in_one_gevent_process(pg) -> None:
    url = pg.migrated_database("gevent")
    out = subprocess.run([sys.executable, "-c", CHILD, url], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # 15 probe queries plus the watcher's own connection make the pool's 16.
    assert result["max_overlap"] == 15
