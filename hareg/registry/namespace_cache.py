# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The namespace definitions a process routes requests by.

Every instance reads the same ``namespaces`` table; a process reloads it at most every
``max_age`` seconds, when a request asks, so a change made on one instance (``hareg namespace
...``, the admin API) reaches every instance within a few seconds without a restart, and
serving costs one small query per process per ``max_age``, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..db import namespaces as table
from ..db.pool import Database
from .namespaces import EMPTY, Namespaces, from_dict

log = logging.getLogger(__name__)

#: How stale a process's view of the definitions may get.
DEFAULT_MAX_AGE = 2.0


class NamespaceSource(Protocol):
    def current(self) -> Namespaces: ...


class StaticNamespaces:
    """A fixed set (the default of a Registry built by hand: every namespace local)."""

    def __init__(self, namespaces: Namespaces = EMPTY) -> None:
        self.namespaces = namespaces

    def current(self) -> Namespaces:
        return self.namespaces


def load(db: Database) -> Namespaces:
    """The definitions as committed now (one query)."""
    with db.read() as cur:
        rows = table.all_definitions(cur)
    return Namespaces(from_dict(row) for row in rows)


class NamespaceCache:
    """:meth:`current` answers from memory and reloads when the snapshot is older than
    ``max_age``; one greenlet reloads while the others keep using the previous snapshot. If
    the reload fails, the previous snapshot is kept (and the error raised only when there is
    none yet)."""

    def __init__(self, db: Database, max_age: float = DEFAULT_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.max_age = max_age
        self.clock = clock
        self._snapshot: Namespaces | None = None
        self._loaded_at = 0.0
        self._reloading = threading.Lock()

    def current(self) -> Namespaces:
        snapshot = self._snapshot
        if snapshot is not None and self.clock() - self._loaded_at < self.max_age:
            return snapshot
        if not self._reloading.acquire(blocking=snapshot is None):
            return snapshot  # type: ignore[return-value]  # another greenlet reloads
        try:
            if self._snapshot is not None and self.clock() - self._loaded_at < self.max_age:
                return self._snapshot
            try:
                self._snapshot = load(self.db)
            except Exception:
                if self._snapshot is None:
                    raise
                log.warning("could not reload namespace definitions; using the previous ones",
                            exc_info=True)
            self._loaded_at = self.clock()
            return self._snapshot
        finally:
            self._reloading.release()

    def invalidate(self) -> None:
        """Reload at the next :meth:`current` (after a change made by this process)."""
        self._loaded_at = -self.max_age
