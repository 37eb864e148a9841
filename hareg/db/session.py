# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A dedicated database connection, for work that holds session-level advisory locks.

Session-level locks belong to a connection, so they must never go back to a shared pool: a
sweep (the cluster-wide GC lock for its whole run, per-digest and per-tag locks across "commit
rows, delete objects") opens one :class:`Session` of its own and closes it at the end. If the
process dies, PostgreSQL releases every lock with the connection.

A pooler in transaction (or statement) mode, such as PgBouncer with ``pool_mode =
transaction``, breaks that: each transaction runs on whichever server connection is free, and
a session-level lock stays on a backend that goes on serving other clients. So a Session first
checks that its connection really is a session of its own (:func:`check_dedicated`) and
refuses with :class:`NotASession` otherwise; ``[database] session_url`` names a direct
connection for it (docs/operations.rst, PgBouncer).
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from datetime import datetime

import psycopg2
import psycopg2.extensions
from psycopg2.extensions import cursor

from .rows import returned
from .transaction import Isolation, transaction

#: A custom setting, set at session level by :func:`check_dedicated` to find out whether
#: session state stays with this connection and only with it.
_PROBE = "hareg.session_probe"


class NotASession(Exception):
    """The connection shares its server session with others (a transaction pooler)."""


def check_dedicated(conn: psycopg2.extensions.connection, url: str) -> None:
    """Raise NotASession unless ``conn`` (autocommit, on ``url``) has a server session of its
    own, checked before anything else is done with it.

    Sets a random token at session level, then looks for it from a second, short-lived
    connection to the same URL and again from ``conn``. On a direct connection (or behind a
    pooler in session mode) the second connection never sees it and ``conn`` always does, on
    the same backend: no false alarm is possible. Behind a transaction pooler the first
    connection's server goes back to the pool after each statement, and the next client
    usually gets it (PgBouncer reuses the most recent one), so the token is seen by the
    second connection, or missing, or the backend changed.
    """
    token = secrets.token_hex(16)
    with conn.cursor() as cur:
        cur.execute("SELECT set_config(%s, %s, false), pg_backend_pid()", (_PROBE, token))
        first_pid = returned(cur)[1]
    other = psycopg2.connect(url, application_name="hareg-session-check")
    try:
        other.autocommit = True
        with other.cursor() as cur:
            cur.execute("SELECT current_setting(%s, true)", (_PROBE,))
            seen_elsewhere = returned(cur)[0] == token
    finally:
        other.close()
    with conn.cursor() as cur:
        cur.execute("SELECT current_setting(%s, true), pg_backend_pid()", (_PROBE,))
        mine, pid = returned(cur)
        cur.execute("SELECT set_config(%s, '', false)", (_PROBE,))
    if seen_elsewhere or mine != token or pid != first_pid:
        raise NotASession(
            "the database connection for sweeps and rebuild-db shares its server session with"
            " other clients (a pooler in transaction or statement mode, such as PgBouncer with"
            " pool_mode = transaction, is in between), so its session-level locks would not"
            " protect anything: set [database] session_url (HAREG_DATABASE_SESSION_URL) to a"
            " direct connection to PostgreSQL; see docs/operations.rst, PgBouncer")


def now(cur: cursor) -> datetime:
    """The database's clock (in a transaction: the time the transaction started)."""
    cur.execute("SELECT now()")
    return returned(cur)[0]


class Session:
    """One autocommit connection, not pooled; ``transaction()`` for BEGIN ... COMMIT.

    ``lock_timeout`` (a PostgreSQL duration such as ``"200ms"``) bounds every row-lock wait
    of the connection's statements. Raises NotASession (closing the connection) when ``url``
    leads to a transaction pooler: see :func:`check_dedicated`.
    """

    def __init__(self, url: str, application_name: str, lock_timeout: str | None = None) -> None:
        self.conn = psycopg2.connect(url, application_name=application_name)
        self.conn.autocommit = True
        try:
            check_dedicated(self.conn, url)
        except BaseException:
            self.conn.close()
            raise
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
