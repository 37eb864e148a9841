# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Which repositories the current caller may pull: the catalog lists only those, and a blob is
mounted only from those.

The authorization hook sets the filter at the start of every request (EVERYTHING when auth is
off); the domain reads it with :func:`current`. A ContextVar keeps it per request: Flask's own
request context is a ContextVar too, and gevent gives every greenlet its own context.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RepositoryFilter:
    """Anchored regular expressions (Python and PostgreSQL syntax); None means every
    repository, an empty tuple none."""

    regexes: tuple[str, ...] | None
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(re.compile(r) for r in self.regexes or ()))

    @property
    def everything(self) -> bool:
        return self.regexes is None

    def allows(self, repository: str) -> bool:
        return self.regexes is None or any(p.match(repository) for p in self._compiled)


EVERYTHING = RepositoryFilter(None)
NOTHING = RepositoryFilter(())

_current: ContextVar[RepositoryFilter] = ContextVar("hareg_pullable", default=EVERYTHING)


def current() -> RepositoryFilter:
    return _current.get()


def restrict(visible: RepositoryFilter) -> None:
    """Set the filter for the rest of the current request."""
    _current.set(visible)
