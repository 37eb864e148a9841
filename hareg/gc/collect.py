# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``collect_garbage``: one sweep, as ``hareg gc`` and the in-server schedule run it.

Only one sweep runs at a time in the whole cluster: the sweep's connection holds the session
advisory lock ``(GC, "sweep")`` taken with a try-lock, and a second sweep gives up at once
with :class:`GcBusy`. Dry runs take no lock: they only read.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from ..config import GcConfig, RetentionRule
from ..db import locks as db_locks
from ..db.session import Session
from ..db.session import now as db_now
from ..progress import NoProgress, Progress
from ..registry.context import Registry
from . import runs
from .locks import LockStats
from .orphans import Orphan, delete_orphans, find_orphans
from .plan import Plan, make_plan
from .runs import Summary
from .sweep import LOCK_TIMEOUT, Counts, Sweeper

log = logging.getLogger(__name__)


class GcBusy(Exception):
    """Another sweep holds the cluster-wide GC lock."""


@dataclass
class Result:
    summary: Summary | None                 # None when the scheduler found it was not due
    plan: Plan | None = None
    orphans: list[Orphan] = field(default_factory=list)  # dry run: what --orphans would delete


def _host() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def collect_garbage(reg: Registry, gc: GcConfig, rules: Sequence[RetentionRule] = (), *,
                    dry_run: bool = False, orphans: bool = False,
                    progress: Progress | None = None, trigger: str = "cli",
                    min_interval: float | None = None) -> Result:
    """Run one sweep (or, with ``dry_run``, compute what it would delete).

    ``min_interval`` (seconds, the scheduler's) skips the sweep when the latest successful
    sweep started less than that long ago, so that many instances ticking on the same
    schedule still sweep once per interval. Raises GcBusy when another sweep runs.
    """
    progress = progress or NoProgress()
    conn = Session(reg.db.session_url, "hareg-gc", lock_timeout=LOCK_TIMEOUT)
    try:
        if not dry_run:
            with conn.cursor() as cur:
                if not db_locks.try_session_lock(cur, db_locks.GC, db_locks.GC_NAME):
                    raise GcBusy("another garbage collection is running (its advisory lock is"
                                 " held); not starting a second one")
                if min_interval:
                    now = db_now(cur)
                    last = runs.last_completed_start(cur)
                    if last is not None and now - last < timedelta(seconds=min_interval):
                        return Result(None)
        return _sweep(reg, conn, gc, rules, dry_run, orphans, progress, trigger)
    finally:
        conn.close()  # releases the GC lock with the connection
        progress.close()


def _sweep(reg: Registry, conn: Session, gc: GcConfig, rules: Sequence[RetentionRule],
           dry_run: bool, orphans: bool, progress: Progress, trigger: str) -> Result:
    with reg.db.transaction() as cur:
        run_id, started_at = runs.start_run(cur, trigger, _host(), dry_run, orphans,
                                             owner=not dry_run)
    summary = Summary(run_id, trigger, _host(), dry_run, orphans, started_at)
    result = Result(summary)
    stats = LockStats()
    counts = summary.counts
    begin = time.monotonic()
    try:
        progress.phase("mark", None)
        plan = result.plan = make_plan(conn, gc, rules)
        if dry_run:
            _would_delete(plan, counts)
            if orphans:
                for batch in find_orphans(reg, conn, gc.grace_seconds, gc.upload_max_age_seconds,
                                          gc.batch_size, progress):
                    result.orphans.extend(batch)
                counts.orphans = len(result.orphans)
                counts.bytes_freed += sum(o.size for o in result.orphans)
        else:
            sweeper = Sweeper(reg, conn, gc, rules, progress, stats, counts)
            sweeper.tags(plan.tags)
            sweeper.manifests(plan.manifests)
            sweeper.links(plan.links)
            sweeper.blobs(plan.blobs)
            sweeper.uploads(plan.uploads)
            sweeper.repositories(plan.repositories)
            if orphans:
                for batch in find_orphans(reg, conn, gc.grace_seconds, gc.upload_max_age_seconds,
                                          gc.batch_size, progress):
                    delete_orphans(reg, conn, batch, stats, counts)
        summary.status = "ok"
    except BaseException as exc:
        summary.status = "failed"
        summary.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary.duration_s = time.monotonic() - begin
        summary.max_lock_hold_ms = stats.max_hold * 1000
        summary.p50_lock_hold_ms = stats.percentile(50) * 1000
        summary.p99_lock_hold_ms = stats.percentile(99) * 1000
        summary.lock_batches = stats.batches
        summary.contended_locks = stats.contended
        try:
            with reg.db.transaction() as cur:
                runs.finish_run(cur, summary)
        except Exception:  # the summary is still logged
            log.exception("gc: could not record run %s", run_id)
        log.info(json.dumps({"event": "gc.summary", **summary.to_dict()}))
    return result


def _would_delete(plan: Plan, counts: Counts) -> None:
    counts.tags = len(plan.tags)
    counts.manifests = len(plan.manifests)
    counts.links = len(plan.links)
    counts.blobs = len(plan.blobs)
    counts.uploads = len(plan.uploads)
    counts.repositories = len(plan.repositories)
    counts.bytes_freed = plan.bytes
