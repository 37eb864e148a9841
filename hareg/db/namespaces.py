# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``namespaces`` table: remote and virtual namespace definitions, as JSON.

Writers hold the ``NAMESPACES`` lock (``hareg.db.locks.lock_namespaces``) so that a change is
validated against the set it replaces (hareg/registry/namespace_store.py).
"""

from __future__ import annotations

from typing import Any

from psycopg2.extensions import cursor
from psycopg2.extras import Json


def all_definitions(cur: cursor) -> list[dict[str, Any]]:
    """Every definition's JSON form, by name."""
    cur.execute("SELECT definition FROM namespaces ORDER BY name")
    return [row[0] for row in cur.fetchall()]


def save_definition(cur: cursor, name: str, kind: str, definition: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO namespaces (name, kind, definition) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind,"
        " definition = EXCLUDED.definition, updated_at = now()",
        (name, kind, Json(definition)))


def delete_definition(cur: cursor, name: str) -> bool:
    cur.execute("DELETE FROM namespaces WHERE name = %s", (name,))
    return cur.rowcount > 0
