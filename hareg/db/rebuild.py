# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Statements about the rebuilt tables as a set (``hareg rebuild-db --from-scratch``).

The rebuild's row-by-row and batch statements live with their tables (blobs, repositories,
manifests, tags); only what treats every table derived from the bucket at once is here.
"""

from __future__ import annotations

from psycopg2.extensions import cursor

from .rows import returned

#: Tables derived from the bucket, emptied by ``--from-scratch``. Upload sessions, garbage
#: collection history, promotions and schema_migrations are not in the bucket: kept.
REBUILT_TABLES = ("tags", "manifest_children", "manifest_blobs", "manifests",
                  "repository_blobs", "blobs", "repositories")


def count_rebuilt_rows(cur: cursor) -> dict[str, int]:
    """table -> number of rows, for each of :data:`REBUILT_TABLES` (one statement each)."""
    counts = {}
    for table in REBUILT_TABLES:
        cur.execute(f"SELECT count(*) FROM {table}")
        counts[table] = returned(cur)[0]
    return counts


def empty_rebuilt_tables(cur: cursor) -> None:
    """TRUNCATE every table of :data:`REBUILT_TABLES` in one statement."""
    cur.execute("TRUNCATE " + ", ".join(REBUILT_TABLES))
