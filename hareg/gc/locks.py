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


def try_lock_many(cur: cursor, kind: int, names: list[str]) -> set[str]:
    """Take every lock that is free right now; return the names locked."""
    if not names:
        return set()
    cur.execute(
        "SELECT n FROM unnest(%s::text[]) AS n WHERE pg_try_advisory_lock(%s, hashtext(n))",
        (names, kind),
    )
    return {r[0] for r in cur.fetchall()}


def unlock_many(cur: cursor, kind: int, names: Iterable[str]) -> None:
    names = list(names)
    if names:
        cur.execute("SELECT pg_advisory_unlock(%s, hashtext(n)) FROM unnest(%s::text[]) AS n",
                    (kind, names))


@contextmanager
def locked(cur: cursor, kind: int, names: Iterable[str], stats: LockStats) -> Iterator[set[str]]:
    """Hold the free ones of ``names`` for the block; yields the set actually locked."""
    wanted = sorted(set(names))
    start = time.monotonic()
    acquired = try_lock_many(cur, kind, wanted)
    try:
        yield acquired
    finally:
        try:
            unlock_many(cur, kind, acquired)
        finally:
            if acquired:
                stats.record(time.monotonic() - start, len(acquired), len(wanted) - len(acquired))
