# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A dedicated database connection, for work that holds session-level advisory locks.

Session-level locks belong to a connection, so they must never go back to a shared pool: a
sweep (the cluster-wide GC lock for its whole run, per-digest and per-tag locks across "commit
rows, delete objects") opens one :class:`Session` of its own and closes it at the end. If the
process dies, PostgreSQL releases every lock with the connection.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime

import psycopg2
import psycopg2.extensions
from psycopg2.extensions import cursor

from .rows import returned
from .transaction import Isolation, transaction


def now(cur: cursor) -> datetime:
    """The database's clock (in a transaction: the time the transaction started)."""
    cur.execute("SELECT now()")
    return returned(cur)[0]


class Session:
    """One autocommit connection, not pooled; ``transaction()`` for BEGIN ... COMMIT.

    ``lock_timeout`` (a PostgreSQL duration such as ``"200ms"``) bounds every row-lock wait
    of the connection's statements.
    """

    def __init__(self, url: str, application_name: str, lock_timeout: str | None = None) -> None:
        self.conn = psycopg2.connect(url, application_name=application_name)
        self.conn.autocommit = True
        if lock_timeout is not None:
            with self.conn.cursor() as cur:
                cur.execute("SELECT set_config('lock_timeout', %s, false)", (lock_timeout,))

    def cursor(self) -> psycopg2.extensions.cursor:
        """A cursor in autocommit mode: each statement is its own transaction and snapshot."""
        return self.conn.cursor()

    def transaction(self, isolation: Isolation = "READ COMMITTED"
                    ) -> AbstractContextManager[psycopg2.extensions.cursor]:
        return transaction(self.conn, isolation)

    @property
    def closed(self) -> bool:
        return bool(self.conn.closed)

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
