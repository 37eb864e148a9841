# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The request pool's timeouts: server-side statement_timeout, client-side bound under gevent.

The client-side bound is what ends a wait on a server that never answers: here a statement
whose server-side timeout was switched off (``SET statement_timeout = 0``) sleeps past it,
in a gevent child process like a worker (monkey patching does not belong in pytest's).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psycopg2
import pytest

from hareg.config import load_config
from hareg.db.pool import ConnectOptions, Database
from hareg.registry.build import connect_options

CHILD = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, sys, time
    from hareg.db.green import DatabaseTimeout, patch_if_gevent
    from hareg.db.pool import ConnectOptions, Database

    assert patch_if_gevent()
    db = Database(sys.argv[1], size=1, options=ConnectOptions(statement_timeout=1))
    out = {}
    start = time.monotonic()
    try:
        with db.connection() as conn, conn.cursor() as cur:
            cur.execute("SET statement_timeout = 0")
            cur.execute("SELECT pg_sleep(30)")
        out["error"] = None
    except DatabaseTimeout as exc:
        out["error"] = str(exc)
    out["seconds"] = round(time.monotonic() - start, 2)
    out["in_use"] = db.in_use
    with db.read() as cur:  # the broken connection was discarded, the slot came back
        cur.execute("SHOW statement_timeout")
        out["after"] = cur.fetchone()[0]
    print(json.dumps(out))
""")


def test_unanswered_statement_is_given_up_under_gevent(pg) -> None:
    url = pg.fresh_database("bounds")
    proc = subprocess.run([sys.executable, "-c", CHILD, url], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nclient-side bound (statement_timeout 1 s + 2 s): gave up after {out['seconds']} s")
    assert out["error"] == "database did not answer within 3 s"
    assert out["in_use"] == 0
    assert out["after"] == "1s"


def test_statement_timeout_is_set_by_the_server(pg) -> None:
    db = Database(pg.fresh_database("bounds"), size=1, options=ConnectOptions(statement_timeout=1))
    try:
        with pytest.raises(psycopg2.errors.QueryCanceled), db.read() as cur:
            cur.execute("SELECT pg_sleep(5)")
        with db.read() as cur:
            cur.execute("SELECT current_setting('statement_timeout')")
            assert cur.fetchone() == ("1s",)
    finally:
        db.close()


def test_statement_timeout_applies_to_serving_only() -> None:
    config = load_config(env={}, overrides={"database": {"statement_timeout": "7s",
                                                         "connect_timeout": "3s"}})
    serving = connect_options(config, serving=True)
    assert serving.statement_timeout == 7 and serving.connect_timeout == 3
    assert serving.libpq()["options"] == "-c statement_timeout=7000"
    cli = connect_options(config, serving=False)
    assert cli.statement_timeout == 0 and "options" not in cli.libpq()
    assert cli.libpq()["keepalives"] == 1
