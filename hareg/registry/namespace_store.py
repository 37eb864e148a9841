# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Changing namespace definitions: add, replace, update, remove, apply a whole set.

Every change follows invariant 6 of docs/architecture.rst. In one transaction that holds the
``NAMESPACES`` lock (``hareg.db.locks.lock_namespaces``): read the definitions and the
namespaces local repositories use; compute the resulting set and validate all of it
(:func:`hareg.registry.namespaces.validate`, plus "no virtual namespace lists a removed one");
only then write the bucket (one JSON object per definition, ``layout.namespace_definition``:
the bucket is the truth, ``hareg rebuild-db`` restores the rows from it); then the rows;
commit. A bad definition changes nothing, neither in the database nor in the bucket.

The lock is held across the bucket writes (small objects, rare admin changes): it is what
keeps two concurrent changes from leaving the bucket and the rows in different orders. If the
rows cannot be written or committed after the bucket was, the objects are put back as they
were (best effort; ``hareg check`` reports a definition that still differs).

Secrets: a remote's password (or token) is stored in the row and in the bucket object, like
the rest of the definition, because the serving instances need it and ``rebuild-db`` must
restore it; it is never returned by :func:`public_dict` nor logged (docs/virtual-remote.rst,
Credentials).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..db import namespaces as table
from ..db.locks import lock_namespaces
from ..storage import layout
from ..storage.base import NotFound, StorageDriver
from .context import Registry
from .errors import RegistryError
from .namespace_schema import Put, load_definition, public_dict
from .namespaces import (
    Definition,
    NamespaceInvalid,
    Namespaces,
    Remote,
    Virtual,
    from_dict,
    validate,
)

__all__ = ["NamespaceExists", "NamespaceNotFound", "Outcome", "Put", "Remove", "add", "apply",
           "definition_bytes", "get", "list_definitions", "load_definition", "public_dict",
           "remove", "replace", "update"]

log = logging.getLogger(__name__)


class NamespaceNotFound(RegistryError):
    code, status, message = "NAME_UNKNOWN", 404, "namespace not defined"


class NamespaceExists(RegistryError):
    code, status, message = "DENIED", 409, "namespace already defined"


@dataclass(frozen=True)
class Remove:
    name: str


Change = Put | Remove


@dataclass
class Outcome:
    """What a change did, by namespace name."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return dataclasses.asdict(self)


def definition_bytes(definition: Definition) -> bytes:
    """The bucket object of a definition: its JSON form, keys sorted."""
    return json.dumps(definition.to_dict(), sort_keys=True, indent=1).encode()


# ------------------------------------------------------------------------------ reads

def list_definitions(reg: Registry) -> Namespaces:
    """Every definition as committed now."""
    with reg.db.read() as cur:
        rows = table.all_definitions(cur)
    return Namespaces(from_dict(row) for row in rows)


def get(reg: Registry, name: str) -> Definition:
    found = list_definitions(reg).get(name)
    if found is None:
        raise NamespaceNotFound(f"namespace {name!r} is not defined (it is local)")
    return found


# ---------------------------------------------------------------------------- changes

def add(reg: Registry, definition: Definition) -> Outcome:
    """Define a new namespace; refused if it is already defined."""
    def plan(current: Namespaces) -> list[Change]:
        if current.get(definition.name) is not None:
            raise NamespaceExists(f"namespace {definition.name!r} is already defined"
                                  " (use update, or remove it first)")
        return [Put(definition)]
    return _change(reg, plan)


def replace(reg: Registry, put: Put) -> Outcome:
    """Define ``put.definition``, replacing a definition of the same name if there is one."""
    return _change(reg, lambda current: [put])


def update(reg: Registry, name: str, changes: Mapping[str, Any],
           password: str | None = None) -> Outcome:
    """Change some fields of a defined namespace (``password`` None: keep it)."""
    def plan(current: Namespaces) -> list[Change]:
        found = current.get(name)
        if found is None:
            raise NamespaceNotFound(f"namespace {name!r} is not defined (add it first)")
        allowed = {f.name for f in dataclasses.fields(found)} - {"name", "password"}
        wrong = sorted(set(changes) - allowed)
        if wrong:
            raise NamespaceInvalid(f"namespace {name!r} is {found.kind}: it has no"
                                   f" {', '.join(wrong)}")
        if password is not None:
            if not isinstance(found, Remote):
                raise NamespaceInvalid(f"namespace {name!r} is {found.kind}: it has no"
                                       " password")
            return [Put(dataclasses.replace(found, **changes, password=password))]
        return [Put(dataclasses.replace(found, **changes))]
    return _change(reg, plan)


def remove(reg: Registry, name: str) -> Outcome:
    """Remove a definition (the namespace becomes local again); refused while a virtual
    namespace lists it as a member."""
    def plan(current: Namespaces) -> list[Change]:
        if current.get(name) is None:
            raise NamespaceNotFound(f"namespace {name!r} is not defined")
        return [Remove(name)]
    return _change(reg, plan)


def apply(reg: Registry, puts: Iterable[Put], prune: bool = False) -> Outcome:
    """Make the definitions those of ``puts``: add and replace; with ``prune``, remove the
    ones not among them. The whole resulting set is validated before anything changes."""
    puts = list(puts)
    names = [p.definition.name for p in puts]
    if len(set(names)) != len(names):
        raise NamespaceInvalid("a namespace is defined twice")

    def plan(current: Namespaces) -> list[Change]:
        removals: list[Change] = [Remove(d.name) for d in current
                                  if prune and d.name not in names]
        return [*puts, *removals]
    return _change(reg, plan)


# ------------------------------------------------------------------------- the change

def _resolve(current: Namespaces, changes: list[Change]
             ) -> tuple[Namespaces, Outcome, list[Definition], list[str]]:
    """The resulting set, what changes, the definitions to write and the names to delete."""
    result, outcome = current, Outcome()
    writes: list[Definition] = []
    deletes: list[str] = []
    for change in changes:
        if isinstance(change, Remove):
            result = result.without(change.name)
            outcome.removed.append(change.name)
            deletes.append(change.name)
            continue
        new, old = change.definition, current.get(change.definition.name)
        if change.keep_password and isinstance(new, Remote):
            kept = old.password if isinstance(old, Remote) else ""
            new = dataclasses.replace(new, password=kept)
        result = result.with_definition(new)
        if old == new:
            outcome.unchanged.append(new.name)
            continue
        (outcome.replaced if old is not None else outcome.added).append(new.name)
        writes.append(new)
    return result, outcome, writes, deletes


def _check_removals(result: Namespaces, deletes: list[str]) -> None:
    for name in deletes:
        users = [d.name for d in result if isinstance(d, Virtual) and name in d.members]
        if users:
            raise NamespaceInvalid(
                f"namespace {name!r} is a member of virtual namespace"
                f" {', '.join(repr(u) for u in users)}: remove it from"
                f" {'its' if len(users) == 1 else 'their'} members first")


class _Written:
    """The bucket objects a change wrote or deleted, and how to put them back."""

    def __init__(self, storage: StorageDriver) -> None:
        self.storage = storage
        self.previous: dict[str, bytes | None] = {}  # key -> content before (None: absent)

    def _remember(self, key: str) -> None:
        try:
            self.previous[key] = self.storage.get_bytes(key)
        except NotFound:
            self.previous[key] = None

    def put(self, definition: Definition) -> None:
        key = layout.namespace_definition(definition.name)
        self._remember(key)
        self.storage.put_bytes(key, definition_bytes(definition))

    def delete(self, name: str) -> None:
        key = layout.namespace_definition(name)
        self._remember(key)
        if self.previous[key] is not None:
            self.storage.delete(key)

    def undo(self) -> None:
        for key, content in self.previous.items():
            try:
                if content is None:
                    self.storage.delete(key)
                else:
                    self.storage.put_bytes(key, content)
            except Exception as exc:  # noqa: BLE001 - best effort; hareg check reports it
                log.error("could not put back the namespace definition %s: %s: %s", key,
                          type(exc).__name__, exc)


def _change(reg: Registry, plan: Callable[[Namespaces], list[Change]]) -> Outcome:
    written: _Written | None = None
    try:
        with reg.db.transaction() as cur:
            lock_namespaces(cur)
            current = Namespaces(from_dict(row) for row in table.all_definitions(cur))
            in_use = table.namespaces_in_use(cur) - {d.name for d in current}
            result, outcome, writes, deletes = _resolve(current, plan(current))
            _check_removals(result, deletes)
            validate(result, in_use)
            # nothing written before this line (invariant 6); the bucket first, then the rows
            written = _Written(reg.storage)
            for definition in writes:
                written.put(definition)
            for name in deletes:
                written.delete(name)
            for definition in writes:
                table.save_definition(cur, definition.name, str(definition.kind),
                                      definition.to_dict())
            for name in deletes:
                table.delete_definition(cur, name)
    except BaseException:
        if written is not None:
            written.undo()
        raise
    invalidate = getattr(reg.namespaces, "invalidate", None)
    if invalidate is not None and (writes or deletes):
        invalidate()  # this process sees the change at once; the others within max_age
    if writes or deletes:
        log.info("namespace definitions changed: %s", outcome.to_dict())
    return outcome
