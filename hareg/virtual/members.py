# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Which member repositories a request through a virtual name may use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..registry.namespaces import Member, Namespaces, Route, Virtual
from ..registry.visibility import RepositoryFilter


@dataclass(frozen=True)
class Through:
    """A request through the virtual name ``name`` (``docker/<path>``): the members of
    ``virtual`` whose repository for ``path`` the caller may pull, in resolution order
    (local members first, then remote ones). A member the caller may not pull is not here at
    all, so no answer can depend on what it holds."""

    name: str
    virtual: Virtual
    path: str
    members: tuple[Member, ...]

    @property
    def repositories(self) -> list[str]:
        """Every member's repository for the path (a remote member's is its cache)."""
        return [m.repository(self.path) for m in self.members]

    @property
    def remotes(self) -> list[Member]:
        return [m for m in self.members if m.remote is not None]


def through(namespaces: Namespaces, route: Route, visible: RepositoryFilter) -> Through:
    """The :class:`Through` of ``route``, a route to a virtual namespace."""
    virtual = route.definition
    if not isinstance(virtual, Virtual):
        raise ValueError(f"{route.name!r} is not a name in a virtual namespace")
    members = tuple(m for m in namespaces.members(virtual)
                    if visible.allows(m.repository(route.path)))
    return Through(route.name, virtual, route.path, members)


def exactly(repositories: Iterable[str]) -> RepositoryFilter:
    """A filter that allows exactly ``repositories`` (anchored regexes that Python and
    PostgreSQL read alike; names hold only ``[a-z0-9._/-]``, of which only '.' is special)."""
    return RepositoryFilter(tuple("^" + name.replace(".", r"\.") + r"\Z"
                                  for name in repositories))
