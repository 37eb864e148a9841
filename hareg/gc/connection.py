# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The sweep's own database connection.

A sweep holds session-level advisory locks (the cluster-wide GC lock for its whole run, and
per-digest/per-tag locks across "commit rows, delete objects"). Session locks must never go
back to a shared pool, so the sweep opens one dedicated connection and closes it at the end;
if the process dies, PostgreSQL releases every lock with the connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
from psycopg2.extensions import cursor

#: The longest a sweep statement waits for a row lock. A sweep holds exclusive advisory locks
#: on the digests of its batch while it works, so it must never queue behind a push for long:
#: on timeout the batch is retried item by item and contended items are left for next time.
LOCK_TIMEOUT = "200ms"


class GcConnection:
    """One autocommit connection; ``transaction()`` wraps BEGIN ... COMMIT."""

    def __init__(self, url: str, application_name: str = "hareg-gc") -> None:
        self.conn = psycopg2.connect(url, application_name=application_name)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")

    def cursor(self) -> cursor:
        return self.conn.cursor()

    @contextmanager
    def transaction(self, isolation: str = "READ COMMITTED") -> Iterator[cursor]:
        with self.conn.cursor() as cur:
            cur.execute(f"BEGIN ISOLATION LEVEL {isolation}")
            try:
                yield cur
            except BaseException:
                if not self.conn.closed:
                    try:
                        cur.execute("ROLLBACK")
                    except psycopg2.Error:
                        self.conn.close()
                raise
            cur.execute("COMMIT")

    @property
    def closed(self) -> bool:
        return bool(self.conn.closed)

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.close()

    def __enter__(self) -> GcConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
