# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Namespace definitions that differ between the bucket and the database.

Every change writes the bucket object, then the row, under the ``NAMESPACES`` lock
(hareg.registry.namespace_store), and ``rebuild-db`` restores the rows from the objects: a
definition whose row and object differ is what a rebuild would get wrong. A first comparison
runs without the lock; only differences are confirmed under it (a change in flight holds it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..db import namespaces as table
from ..db.locks import lock_namespaces
from ..registry.namespaces import Definition, NamespaceInvalid, from_dict
from ..storage import layout
from ..storage.base import NotFound, StorageError

MISSING_OBJECT = "missing_object"   # a row without its bucket object
MISSING_ROW = "missing_row"         # an object without a row
DIFFERENT = "different"             # both, not equal (or one unreadable)


@dataclass(frozen=True)
class NamespaceDifference:
    namespace: str
    problem: str

    def message(self) -> str:
        return {MISSING_OBJECT: "the database defines it, the bucket has no object",
                MISSING_ROW: "the bucket defines it, the database has no row",
                DIFFERENT: "the bucket object and the row differ"}[self.problem]


def _parse(data: Any) -> Definition | None:
    try:
        return from_dict(data) if isinstance(data, dict) else None
    except NamespaceInvalid:
        return None


def _object(storage: Any, name: str) -> Definition | bool | None:
    """The definition in the bucket; False when there is no object, None when unreadable."""
    try:
        return _parse(json.loads(storage.get_bytes(layout.namespace_definition(name))))
    except NotFound:
        return False
    except (StorageError, ValueError):
        return None


def _compare(rows: dict[str, Definition | None], objects: dict[str, Definition | bool | None]
             ) -> list[NamespaceDifference]:
    found = []
    for name in sorted(set(rows) | {n for n, o in objects.items() if o is not False}):
        obj = objects.get(name, False)
        if name not in rows:
            found.append(NamespaceDifference(name, MISSING_ROW))
        elif obj is False:
            found.append(NamespaceDifference(name, MISSING_OBJECT))
        elif obj is None or obj != rows[name]:
            found.append(NamespaceDifference(name, DIFFERENT))
    return found


def _rows(cur: Any) -> dict[str, Definition | None]:
    return {row["name"]: _parse(row) for row in table.all_definitions(cur)}


def compare_namespaces(reg: Any) -> list[NamespaceDifference]:
    """Definitions whose row and bucket object differ (confirmed under the lock)."""
    with reg.db.read() as cur:
        rows = _rows(cur)
    names = {name for info in reg.storage.list_objects(layout.namespaces_dir())
             if (name := layout.parse_namespace_key(info.key)) is not None}
    suspects = _compare(rows, {n: _object(reg.storage, n) for n in names | set(rows)})
    if not suspects:
        return []
    with reg.db.transaction() as cur:  # a few small reads under the lock, only on a suspect
        lock_namespaces(cur)
        rows = _rows(cur)
        names = {d.namespace for d in suspects}
        return _compare({n: d for n, d in rows.items() if n in names},
                        {n: _object(reg.storage, n) for n in names})
