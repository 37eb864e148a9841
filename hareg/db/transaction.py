# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The one place that writes BEGIN, COMMIT and ROLLBACK.

hareg's connections run in autocommit mode (a read is one round trip), so a transaction is
opened by hand. ``transaction`` does it for the pool (``hareg.db.pool``), the dedicated
connections of the sweep (``hareg.db.session``) and the migrations, with the isolation level
as a parameter, and savepoints for a part of a transaction that may fail alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, get_args

import psycopg2
import psycopg2.extensions

#: The isolation levels hareg uses; None is the server's default (READ COMMITTED).
#: PostgreSQL treats READ UNCOMMITTED as READ COMMITTED, so it is not offered.
Isolation = Literal["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]
#: The same, for checks at run time: the level is spliced into BEGIN, hence the allow-list.
ISOLATION_LEVELS: frozenset[str] = frozenset(get_args(Isolation))


def check_isolation(isolation: str | None) -> None:
    """Raise ValueError unless ``isolation`` is None or one of :data:`ISOLATION_LEVELS`."""
    if isolation is not None and isolation not in ISOLATION_LEVELS:
        raise ValueError(f"unknown isolation level {isolation!r}; "
                         f"expected one of {sorted(ISOLATION_LEVELS)}")


def begin_statement(isolation: str | None, read_only: bool = False) -> str:
    """``BEGIN`` with the transaction modes asked for (the level checked first)."""
    check_isolation(isolation)
    modes = [f"ISOLATION LEVEL {isolation}"] if isolation else []
    if read_only:
        modes.append("READ ONLY")
    return "BEGIN " + ", ".join(modes) if modes else "BEGIN"


@contextmanager
def transaction(conn: psycopg2.extensions.connection, isolation: Isolation | None = None,
                *, read_only: bool = False, commit: bool = True
                ) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor inside BEGIN ... COMMIT on an autocommit connection; an exception rolls back.

    ``commit=False`` rolls back at the end even on success (a dry run). A connection whose
    ROLLBACK fails is closed, so that a pool discards it instead of handing it out again.
    """
    with conn.cursor() as cur:
        cur.execute(begin_statement(isolation, read_only))
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



_SAVEPOINT_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _savepoint_name(name: str) -> str:
    """``name``, checked: it is spliced into the statement, hence the allow-list."""
    if not _SAVEPOINT_NAME.fullmatch(name):
        raise ValueError(f"invalid savepoint name {name!r}")
    return name


def savepoint(cur: psycopg2.extensions.cursor, name: str) -> None:
    """``SAVEPOINT name``: a point inside a transaction that :func:`rollback_to_savepoint`
    returns to, so that the transaction goes on without what failed after it."""
    cur.execute(f"SAVEPOINT {_savepoint_name(name)}")


def release_savepoint(cur: psycopg2.extensions.cursor, name: str) -> None:
    """``RELEASE SAVEPOINT name``: keep what was done since the savepoint."""
    cur.execute(f"RELEASE SAVEPOINT {_savepoint_name(name)}")


def rollback_to_savepoint(cur: psycopg2.extensions.cursor, name: str) -> None:
    """``ROLLBACK TO SAVEPOINT name``: undo what was done since the savepoint."""
    cur.execute(f"ROLLBACK TO SAVEPOINT {_savepoint_name(name)}")
