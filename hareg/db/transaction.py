# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The one place that writes BEGIN, COMMIT and ROLLBACK.

hareg's connections run in autocommit mode (a read is one round trip), so a transaction is
opened by hand. ``transaction`` does it for the pool (``hareg.db.pool``), the dedicated
connections of the sweep (``hareg.db.session``) and the migrations, with the isolation level
as a parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import psycopg2
import psycopg2.extensions

#: The isolation levels hareg uses; None is the server's default (READ COMMITTED).
Isolation = Literal["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]


@contextmanager
def transaction(conn: psycopg2.extensions.connection, isolation: Isolation | None = None,
                *, commit: bool = True) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor inside BEGIN ... COMMIT on an autocommit connection; an exception rolls back.

    ``commit=False`` rolls back at the end even on success (a dry run). A connection whose
    ROLLBACK fails is closed, so that a pool discards it instead of handing it out again.
    """
    with conn.cursor() as cur:
        cur.execute(f"BEGIN ISOLATION LEVEL {isolation}" if isolation else "BEGIN")
        try:
            yield cur
        except BaseException:
            if not conn.closed:
                try:
                    cur.execute("ROLLBACK")
                except psycopg2.Error:
                    conn.close()
            raise
        cur.execute("COMMIT" if commit else "ROLLBACK")
