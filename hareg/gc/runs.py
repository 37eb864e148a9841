# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``gc_runs`` table: one row per sweep, listed by ``hareg gc --history``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from psycopg2.extensions import cursor

from .sweep import Counts


@dataclass
class Summary:
    """What a sweep did (or, for a dry run, would do)."""

    run_id: int | None
    trigger: str
    host: str
    dry_run: bool
    orphans_pass: bool
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    counts: Counts = field(default_factory=Counts)
    duration_s: float = 0.0
    max_lock_hold_ms: float = 0.0
    p50_lock_hold_ms: float = 0.0
    p99_lock_hold_ms: float = 0.0
    lock_batches: int = 0
    contended_locks: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("counts")
        out.update(asdict(self.counts))
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        out["duration_s"] = round(self.duration_s, 3)
        for key in ("max_lock_hold_ms", "p50_lock_hold_ms", "p99_lock_hold_ms"):
            out[key] = round(out[key], 3)
        return out


def start_run(cur: cursor, trigger: str, host: str, dry_run: bool, orphans: bool,
              owner: bool) -> tuple[int, datetime]:
    """Insert the run's row. ``owner`` (the holder of the GC lock) also marks rows that a
    crashed sweep left 'running' as 'aborted': no other sweep can be running."""
    if owner:
        cur.execute("UPDATE gc_runs SET status = 'aborted', finished_at = now()"
                    " WHERE status = 'running' AND NOT dry_run")
    cur.execute("INSERT INTO gc_runs (trigger, host, dry_run, orphans) VALUES (%s, %s, %s, %s)"
                " RETURNING id, started_at", (trigger, host, dry_run, orphans))
    run_id, started_at = cur.fetchone()
    return run_id, started_at


def finish_run(cur: cursor, summary: Summary) -> None:
    c = summary.counts
    cur.execute(
        "UPDATE gc_runs SET finished_at = now(), status = %s, tags_deleted = %s,"
        " manifests_deleted = %s, links_deleted = %s, blobs_deleted = %s, uploads_deleted = %s,"
        " repositories_deleted = %s, orphans_deleted = %s, bytes_freed = %s, summary = %s,"
        " error = %s WHERE id = %s RETURNING finished_at",
        (summary.status, c.tags, c.manifests, c.links, c.blobs, c.uploads, c.repositories,
         c.orphans, c.bytes_freed, json.dumps(summary.to_dict()), summary.error,
         summary.run_id))
    row = cur.fetchone()
    if row:
        summary.finished_at = row[0]


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


#: History columns renamed to the fields of the run document (Summary.to_dict).
_JSON_NAMES = {"id": "run_id", "orphans": "orphans_pass", "tags_deleted": "tags",
               "manifests_deleted": "manifests", "links_deleted": "links",
               "blobs_deleted": "blobs", "uploads_deleted": "uploads",
               "repositories_deleted": "repositories", "orphans_deleted": "orphans"}


def history_json(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The document ``hareg gc --history --json`` prints (docs/cli-json.rst): each run with
    the field names of ``hareg gc --json``."""
    out = []
    for row in rows:
        run = {_JSON_NAMES.get(k, k): v for k, v in row.items()}
        finished = row["finished_at"]
        run["duration_s"] = (round((finished - row["started_at"]).total_seconds(), 3)
                             if finished is not None else None)
        for key in ("started_at", "finished_at"):
            run[key] = row[key].isoformat() if row[key] is not None else None
        out.append(run)
    return {"runs": out}
