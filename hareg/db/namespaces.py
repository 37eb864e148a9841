# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``namespaces`` table: remote and virtual namespace definitions, as JSON.

Writers hold the ``NAMESPACES`` lock (``hareg.db.locks.lock_namespaces``) so that a change is
validated against the set it replaces (hareg/registry/namespace_store.py).
"""

from __future__ import annotations

from datetime import datetime
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


def definitions_updated_before(cur: cursor, before: datetime | None) -> list[str]:
    """Names of the definitions last changed before ``before`` (rebuild-db's prune)."""
    cur.execute("SELECT name FROM namespaces WHERE updated_at < %s ORDER BY name", (before,))
    return [row[0] for row in cur.fetchall()]


def namespaces_in_use(cur: cursor) -> set[str]:
    """The first path component of every repository with a slash in its name that holds a
    manifest or a blob link: the namespaces local content already uses (a definition may not
    take one over). One scan of ``repositories``; definitions change rarely."""
    cur.execute(
        "SELECT DISTINCT split_part(r.name, '/', 1) FROM repositories r"
        " WHERE strpos(r.name, '/') > 0"
        " AND (EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)"
        "      OR EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id))")
    return {row[0] for row in cur.fetchall()}
