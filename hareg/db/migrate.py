# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Numbered SQL migrations, applied in order under a transaction-scoped advisory lock.

Files are ``hareg/db/migrations/NNNN_name.sql``. Several instances starting at once all call
``apply_migrations``; the advisory lock makes the first one apply and the others find nothing to
do. Rolling updates need every migration to keep the previous release working (expand first,
contract a release later): see docs/operations.rst.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg2

from . import locks
from .transaction import transaction

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("hareg.db").joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    return sorted(found, key=lambda mig: mig.version)


def apply_migrations(url: str) -> list[Migration]:
    """Apply what is missing; returns the migrations applied by this call.

    Each migration runs in a transaction of its own that first takes the MIGRATIONS lock at
    transaction scope and then reads what is applied: no session state, so ``url`` may lead
    through a pooler in transaction mode (PgBouncer), and a second instance starting at once
    waits for the lock, then finds the migration applied.
    """
    applied: list[Migration] = []
    conn = psycopg2.connect(url, application_name="hareg-migrate")
    conn.autocommit = True
    try:
        while True:
            with transaction(conn) as tx:
                locks.xact_lock(tx, locks.MIGRATIONS, "schema")
                tx.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                tx.execute("SELECT version FROM schema_migrations")
                done = {row[0] for row in tx.fetchall()}
                pending = [mig for mig in available_migrations() if mig.version not in done]
                if not pending:
                    break
                mig = pending[0]
                tx.execute(mig.sql)
                tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (mig.version, mig.name),
                )
            applied.append(mig)
    finally:
        conn.close()
    return applied


def has_schema(url: str) -> bool:
    """Whether the database holds a hareg schema (at least one migration applied).

    Admin commands ask this before they read, so that a wrong URL or data directory is
    reported as such instead of as a missing table.
    """
    conn = psycopg2.connect(url, application_name="hareg-migrate")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            row = cur.fetchone()
            if not row or not row[0]:
                return False
            cur.execute("SELECT EXISTS (SELECT 1 FROM schema_migrations)")
            row = cur.fetchone()
            return bool(row and row[0])
    finally:
        conn.close()
