# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The run summary of a sweep, recorded in ``gc_runs`` (hareg.db.gc_runs) and logged."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from psycopg2.extensions import cursor

from ..db import gc_runs
from ..db.gc_runs import history, last_completed_start
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
        gc_runs.abort_running(cur)
    return gc_runs.insert_run(cur, trigger, host, dry_run, orphans)


def finish_run(cur: cursor, summary: Summary) -> None:
    finished_at = gc_runs.finish_run(cur, summary.run_id, summary.status,
                                     asdict(summary.counts), summary.to_dict(), summary.error)
    if finished_at is not None:
        summary.finished_at = finished_at


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


__all__ = ["Summary", "finish_run", "history", "history_json", "last_completed_start", "start_run"]
