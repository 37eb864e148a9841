# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Which repositories a caller may pull: the catalog lists only those, and a blob is mounted
only from those.

The domain never guesses: every function that depends on it takes a :class:`RepositoryFilter`
argument. The HTTP layer passes the filter the authorization hook computed for the request
(EVERYTHING when auth is off); the CLI and other trusted callers pass EVERYTHING themselves.
"""

from __future__ import annotations

import re
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
