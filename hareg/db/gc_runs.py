# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``gc_runs`` table: one row per sweep, listed by ``hareg gc --history``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg2.extensions import cursor

from .rows import returned


def abort_running(cur: cursor) -> None:
    """Mark sweeps left 'running' as 'aborted'. Only the holder of the GC lock may: no other
    sweep can be running then, so such rows are crashed ones."""
    cur.execute("UPDATE gc_runs SET status = 'aborted', finished_at = now()"
                " WHERE status = 'running' AND NOT dry_run")


def insert_run(cur: cursor, trigger: str, host: str, dry_run: bool, orphans: bool
               ) -> tuple[int, datetime]:
    """A new 'running' row; returns its id and start time."""
    cur.execute("INSERT INTO gc_runs (trigger, host, dry_run, orphans) VALUES (%s, %s, %s, %s)"
                " RETURNING id, started_at", (trigger, host, dry_run, orphans))
    run_id, started_at = returned(cur)
    return run_id, started_at


def finish_run(cur: cursor, run_id: int | None, status: str, counts: Mapping[str, int],
               summary: Mapping[str, Any], error: str | None) -> datetime | None:
    """Record the outcome: ``counts`` has the keys tags, manifests, links, blobs, uploads,
    repositories, orphans and bytes_freed; ``summary`` is stored as JSON. Returns the
    finish time (None when the row is gone)."""
    c = counts
    cur.execute(
        "UPDATE gc_runs SET finished_at = now(), status = %s, tags_deleted = %s,"
        " manifests_deleted = %s, links_deleted = %s, blobs_deleted = %s, uploads_deleted = %s,"
        " repositories_deleted = %s, orphans_deleted = %s, bytes_freed = %s, summary = %s,"
        " error = %s WHERE id = %s RETURNING finished_at",
        (status, c["tags"], c["manifests"], c["links"], c["blobs"], c["uploads"],
         c["repositories"], c["orphans"], c["bytes_freed"], json.dumps(summary), error,
         run_id))
    row = cur.fetchone()
    return row[0] if row else None


def last_completed_start(cur: cursor) -> datetime | None:
    """When the latest real (not dry) sweep that finished began: the scheduler's clock."""
    cur.execute("SELECT max(started_at) FROM gc_runs WHERE NOT dry_run AND status = 'ok'")
    row = cur.fetchone()
    return row[0] if row else None


HISTORY_COLUMNS = ("id", "started_at", "finished_at", "status", "trigger", "host", "dry_run",
                   "orphans", "tags_deleted", "manifests_deleted", "links_deleted",
                   "blobs_deleted", "uploads_deleted", "repositories_deleted", "orphans_deleted",
                   "bytes_freed", "error")


def history(cur: cursor, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    cur.execute(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM gc_runs"
                " ORDER BY started_at DESC, id DESC LIMIT %s", (limit,))
    return [dict(zip(HISTORY_COLUMNS, row, strict=True)) for row in cur.fetchall()]


def history_page(cur: cursor, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Runs newest first (by id, below ``before``): a keyset page of the history."""
    cur.execute(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM gc_runs WHERE id < %s"
                " ORDER BY id DESC LIMIT %s",
                (before if before is not None else 2**63 - 1, limit))
    return [dict(zip(HISTORY_COLUMNS, row, strict=True)) for row in cur.fetchall()]
