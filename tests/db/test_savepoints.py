# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Savepoints (hareg.db.transaction) against a real PostgreSQL: a part of a transaction that
fails is undone alone, and the transaction goes on and commits the rest."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import pytest

from hareg.db.pool import Database
from hareg.db.transaction import release_savepoint, rollback_to_savepoint, savepoint


@pytest.fixture
def db(pg) -> Iterator[Database]:
    database = Database(pg.fresh_database("savepoints"), size=2)
    with database.read() as cur:
        cur.execute("CREATE TABLE t (x int PRIMARY KEY)")
    yield database
    database.close()


def _rows(db: Database) -> list[int]:
    with db.read() as cur:
        cur.execute("SELECT x FROM t ORDER BY x")
        return [r[0] for r in cur.fetchall()]


def test_released_savepoint_keeps_its_writes(db: Database) -> None:
    with db.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (1)")
        savepoint(cur, "batch")
        cur.execute("INSERT INTO t VALUES (2)")
        release_savepoint(cur, "batch")
    assert _rows(db) == [1, 2]


def test_rollback_to_savepoint_undoes_only_what_followed_a_failure(db: Database) -> None:
    with db.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (1)")
        savepoint(cur, "one")
        cur.execute("INSERT INTO t VALUES (2)")
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute("INSERT INTO t VALUES (1)")
        rollback_to_savepoint(cur, "one")
        cur.execute("INSERT INTO t VALUES (3)")  # the transaction is usable again
    assert _rows(db) == [1, 3]


@pytest.mark.parametrize("name", ["", "Batch", "one; ROLLBACK", "1st", "a b"])
def test_invalid_names_are_refused_before_any_statement(db: Database, name: str) -> None:
    with db.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (1)")
        for step in (savepoint, release_savepoint, rollback_to_savepoint):
            with pytest.raises(ValueError, match="savepoint name"):
                step(cur, name)
    assert _rows(db) == [1]  # nothing was sent: the transaction committed
