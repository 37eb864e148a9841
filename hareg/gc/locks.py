# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Batches of per-digest (BLOB) and per-tag (TAG) advisory locks, taken without waiting.

The sweep takes EXCLUSIVE session-level locks with ``pg_try_advisory_lock``: a name whose
lock a writer holds (shared, for a push in flight) is simply left out of the batch, because
a push is touching it right now and it is not garbage at this moment. Session-level, not
transaction-level, because the lock must outlive the COMMIT that deletes the rows until the
objects are deleted too (docs/gc.rst). Every hold is timed: ``LockStats`` reports the longest,
the figure that bounds how long a push of one of those digests could have waited.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from psycopg2.extensions import cursor

from ..db import locks as db_locks


@dataclass
class LockStats:
    batches: int = 0
    locks: int = 0
    contended: int = 0
    max_hold: float = 0.0  # seconds
    holds: list[float] = field(default_factory=list)

    def record(self, held: float, locked: int, contended: int) -> None:
        self.batches += 1
        self.locks += locked
        self.contended += contended
        self.max_hold = max(self.max_hold, held)
        self.holds.append(held)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0..100) of the holds, in seconds (0 without any)."""
        if not self.holds:
            return 0.0
        ordered = sorted(self.holds)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


@contextmanager
def locked(cur: cursor, kind: int, names: Iterable[str], stats: LockStats) -> Iterator[set[str]]:
    """Hold the free ones of ``names`` for the block; yields the set actually locked."""
    wanted = sorted(set(names))
    start = time.monotonic()
    acquired = db_locks.try_session_lock_many(cur, kind, wanted)
    try:
        yield acquired
    finally:
        try:
            db_locks.session_unlock_many(cur, kind, sorted(acquired))
        finally:
            if acquired:
                stats.record(time.monotonic() - start, len(acquired), len(wanted) - len(acquired))
