# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Scopes of the Docker token spec: ``repository:NAME:ACTIONS`` and ``registry:catalog:*``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..grammar import is_name

MAX_SCOPES = 32  # per token request; a push across a few repositories needs 3 or 4
MAX_SCOPE_LENGTH = 512
_ACTION_RE = re.compile(r"[a-z]+|\*")
_TYPE_RE = re.compile(r"[a-z0-9]+(?:\([a-z0-9]+\))?")

REPOSITORY = "repository"
REGISTRY = "registry"
CATALOG = "catalog"
#: What the admin API needs in token mode: the ``admin`` action on the registry's namespace
#: definitions (``[[auth.rules]]`` grant it with ``actions = ["admin"]``).
NAMESPACES = "namespaces"


class ScopeError(ValueError):
    """A malformed scope or scope list; the message is safe to show to the client."""


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"

    def claim(self) -> dict[str, object]:
        """The entry of a token's ``access`` claim."""
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


ADMIN_SCOPE = Scope(REGISTRY, NAMESPACES, ("admin",))


def parse_scope(text: str) -> Scope:
    """``TYPE:NAME:ACTIONS``; the name may itself hold colons (split at the first and last)."""
    shown = text[:100]
    if len(text) > MAX_SCOPE_LENGTH:
        raise ScopeError(f"scope longer than {MAX_SCOPE_LENGTH} characters: {shown!r}...")
    rtype, sep1, rest = text.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    if not (sep1 and sep2 and rtype and name):
        raise ScopeError(f"malformed scope {shown!r}: expected TYPE:NAME:ACTIONS, e.g."
                         " repository:team/app:pull,push")
    if not _TYPE_RE.fullmatch(rtype):
        raise ScopeError(f"malformed scope {shown!r}: invalid resource type {rtype[:40]!r}")
    base_type = rtype.partition("(")[0]
    if base_type == REPOSITORY and not is_name(name):
        raise ScopeError(f"malformed scope {shown!r}: invalid repository name")
    actions = [a for a in actions_text.split(",") if a] if actions_text else []
    if any(not _ACTION_RE.fullmatch(a) for a in actions):
        raise ScopeError(f"malformed scope {shown!r}: actions are lowercase words or '*'")
    return Scope(base_type, name, tuple(dict.fromkeys(actions)))


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Every scope of a token request (repeated parameters, each may hold several scopes
    separated by spaces), merged per resource. Raises ScopeError."""
    merged: dict[tuple[str, str], list[str]] = {}
    count = 0
    for value in values:
        for text in value.split():
            count += 1
            if count > MAX_SCOPES:
                raise ScopeError(f"too many scopes: at most {MAX_SCOPES} per token request")
            scope = parse_scope(text)
            actions = merged.setdefault((scope.type, scope.name), [])
            actions.extend(a for a in scope.actions if a not in actions)
    return [Scope(t, n, tuple(a)) for (t, n), a in merged.items()]
