# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Who may do what where: ``[[auth.rules]]``, ``[auth.groups]`` and ``anonymous_pull``.

Rules only grant (there is no deny rule); the actions of a caller on a repository are the union
of every rule whose subjects name the caller and whose patterns match the repository, plus
``pull`` where ``anonymous_pull`` matches (for everyone). With no rule at all, every
authenticated caller may pull, push and delete everywhere; ``promote`` always needs a rule, and
so does ``admin`` (registry-wide: a rule grants it only with ``repositories = ["**"]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..registry.visibility import EVERYTHING, RepositoryFilter
from .globs import glob_to_regex
from .settings import ADMIN, ANY_USER, DEFAULT_ACTIONS, GROUP_PREFIX, AuthConfig


@dataclass(frozen=True)
class _Grant:
    regexes: tuple[str, ...]
    compiled: tuple[re.Pattern[str], ...]
    actions: frozenset[str]

    def matches(self, repository: str) -> bool:
        return any(p.match(repository) for p in self.compiled)


def _grant(patterns: tuple[str, ...], actions: tuple[str, ...]) -> _Grant:
    regexes = tuple(glob_to_regex(p) for p in patterns)
    return _Grant(regexes, tuple(re.compile(r) for r in regexes), frozenset(actions))


class Policy:
    def __init__(self, config: AuthConfig) -> None:
        self._open = not config.rules
        self._everywhere = _grant(("**",), DEFAULT_ACTIONS)
        self._anonymous = _grant(config.anonymous_pull, ("pull",))
        self._members: dict[str, set[str]] = {}
        for group, users in config.groups:
            for user in users:
                self._members.setdefault(user, set()).add(group)
        self._rules: list[tuple[frozenset[str], _Grant]] = [
            (frozenset(rule.subjects), _grant(rule.repositories, rule.actions))
            for rule in config.rules
        ]

    def _grants_of(self, subject: str | None) -> list[_Grant]:
        grants = [self._anonymous] if self._anonymous.regexes else []
        if subject is None:
            return grants
        if self._open:
            return [*grants, self._everywhere]
        names = {subject, ANY_USER} | {GROUP_PREFIX + g for g in self._members.get(subject, ())}
        grants.extend(grant for subjects, grant in self._rules if subjects & names)
        return grants

    def actions(self, subject: str | None, repository: str) -> frozenset[str]:
        """Every action ``subject`` (None: anonymous) may take on ``repository``."""
        out: set[str] = set()
        for grant in self._grants_of(subject):
            if not grant.actions <= out and grant.matches(repository):
                out |= grant.actions
        return frozenset(out)

    def allows(self, subject: str | None, repository: str, action: str) -> bool:
        return action in self.actions(subject, repository)

    def pull_filter(self, subject: str | None) -> RepositoryFilter:
        """The repositories ``subject`` may pull, for the catalog and blob mounts."""
        if subject is not None and self._open:
            return EVERYTHING
        regexes = tuple(dict.fromkeys(
            r for g in self._grants_of(subject) if "pull" in g.actions for r in g.regexes))
        if "^.*$" in regexes:
            return EVERYTHING
        return RepositoryFilter(regexes)

    def may_list_catalog(self, subject: str | None) -> bool:
        return subject is not None or bool(self._anonymous.regexes)

    def may_promote_somewhere(self, subject: str | None) -> bool:
        return any("promote" in g.actions for g in self._grants_of(subject))

    def may_administer(self, subject: str | None) -> bool:
        """Whether ``subject`` holds the registry-wide ``admin`` action (never anonymous)."""
        return subject is not None and any(ADMIN in g.actions
                                           for g in self._grants_of(subject))
