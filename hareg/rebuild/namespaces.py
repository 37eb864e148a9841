# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Restore the namespace definitions (docs/virtual-remote.rst) from their bucket objects.

The bucket holds one JSON object per remote or virtual namespace
(``layout.namespace_definition``), written before its row by every change
(hareg.registry.namespace_store): the rows are made equal to those objects, passwords
included, under the ``NAMESPACES`` lock. A definition that cannot be read is reported and
skipped. Rows without an object are removed with ``--from-scratch`` (which empties the other
rebuilt tables too) or ``--prune`` (unless changed after the run started), never on a run
limited by ``--repository``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..db import namespaces as table
from ..db.locks import lock_namespaces
from ..registry.namespaces import Definition, NamespaceInvalid, from_dict
from ..storage import layout
from ..storage.base import StorageError

if TYPE_CHECKING:
    from .repository import RunContext


def _read(run: RunContext, key: str, name: str) -> Definition | None:
    try:
        data = json.loads(run.storage.get_bytes(key))
        if not isinstance(data, dict):
            raise NamespaceInvalid("not a JSON object")
        definition = from_dict(data)
    except (StorageError, ValueError, NamespaceInvalid) as exc:
        message = exc.message if isinstance(exc, NamespaceInvalid) else str(exc)
        run.report.error("namespace", f"cannot read definition: {message}", namespace=name,
                         key=key)
        return None
    if definition.name != name:
        run.report.error("namespace", f"the object defines {definition.name!r}",
                         namespace=name, key=key)
        return None
    return definition


def restore_namespaces(run: RunContext) -> None:
    """Make the ``namespaces`` rows those of the bucket (one transaction)."""
    report, options = run.report, run.options
    found: dict[str, Definition] = {}
    for info in run.storage.list_objects(layout.namespaces_dir()):
        report.add("objects_listed")
        name = layout.parse_namespace_key(info.key)
        if name is None:
            report.add("objects_ignored")
            continue
        definition = _read(run, info.key, name)
        if definition is not None:
            found[name] = definition
    report.count("namespaces", "found", len(found))
    with run.tx() as cur:
        lock_namespaces(cur)
        existing: dict[str, Definition | None] = {}
        for row in table.all_definitions(cur):
            try:
                existing[row["name"]] = from_dict(row)
            except NamespaceInvalid:
                existing[row["name"]] = None
        for name, definition in sorted(found.items()):
            if existing.get(name) == definition:
                report.count("namespaces", "unchanged")
                continue
            table.save_definition(cur, name, str(definition.kind), definition.to_dict())
            report.count("namespaces", "updated" if name in existing else "added")
        if options.repository is not None or not (options.from_scratch or options.prune):
            return
        candidates = (list(existing) if options.from_scratch
                      else table.definitions_updated_before(cur, run.started_at))
        gone = [name for name in candidates if name not in found]
        for name in gone:
            table.delete_definition(cur, name)
        report.count("namespaces", "pruned", len(gone))
