# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Database.transaction(isolation=..., read_only=...) against a real PostgreSQL."""

from __future__ import annotations

import psycopg2
import pytest

from hareg.db.pool import Database


@pytest.fixture
def db(pg) -> Database:
    database = Database(pg.fresh_database("pool_tx"), size=2)
    yield database
    database.close()


def _setting(cur, name: str) -> str:
    cur.execute(f"SHOW {name}")
    return cur.fetchone()[0]


def test_default_transaction_is_read_committed_and_writable(db: Database) -> None:
    with db.transaction() as cur:
        assert _setting(cur, "transaction_isolation") == "read committed"
        assert _setting(cur, "transaction_read_only") == "off"


@pytest.mark.parametrize("level", ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_isolation_level_is_applied(db: Database, level: str) -> None:
    with db.transaction(isolation=level) as cur:
        assert _setting(cur, "transaction_isolation") == level.lower()


def test_read_only_refuses_writes(db: Database) -> None:
    with db.read() as cur:
        cur.execute("CREATE TABLE t (x int)")
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction), \
            db.transaction(isolation="REPEATABLE READ", read_only=True) as cur:
        assert _setting(cur, "transaction_isolation") == "repeatable read"
        cur.execute("INSERT INTO t VALUES (1)")
    with db.transaction() as cur:  # the connection went back to the pool usable
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone()[0] == 0


@pytest.mark.parametrize("level", ["repeatable read", "READ UNCOMMITTED",
                                   "SERIALIZABLE; DROP TABLE t", ""])
def test_unknown_isolation_level_is_refused_before_borrowing(db: Database, level: str) -> None:
    with pytest.raises(ValueError, match="isolation level"), db.transaction(isolation=level):
        pass
    assert db.in_use == 0
