# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Queries behind the gauges that ``/metrics`` reads from the database at scrape time."""

from __future__ import annotations

from psycopg2.extensions import cursor

from .rows import returned


def upload_sessions(cur: cursor) -> tuple[int, float]:
    """How many upload sessions are open (all instances), and the seconds since the least
    recently active one moved (0 without any)."""
    cur.execute("SELECT count(*), coalesce(extract(epoch FROM now()"
                " - min(updated_at)), 0) FROM uploads")
    count, oldest = returned(cur)
    return int(count), float(oldest)
