# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Which rows exist, for the objects the orphan pass found (hareg.gc.orphans).

One query per kind of object and batch; each returns the subset of its arguments that a row
knows. An object whose row is missing is an orphan candidate.
"""

from __future__ import annotations

from psycopg2.extensions import cursor


def existing_blobs(cur: cursor, digests: list[str]) -> set[str]:
    cur.execute("SELECT digest FROM blobs WHERE digest = ANY(%s)", (digests,))
    return {r[0] for r in cur.fetchall()}


def _pairs(cur: cursor, sql: str, first: list[str], second: list[str]) -> set[tuple[str, str]]:
    cur.execute(sql, (first, second))
    return {(r[0], r[1]) for r in cur.fetchall()}


def existing_links(cur: cursor, repositories: list[str], digests: list[str]
                   ) -> set[tuple[str, str]]:
    """(repository, digest) pairs with a ``repository_blobs`` row (a layer link)."""
    return _pairs(cur, "SELECT r.name, rb.digest FROM repository_blobs rb"
                       " JOIN repositories r ON r.id = rb.repository_id"
                       " JOIN unnest(%s::text[], %s::text[]) AS k(name, x)"
                       " ON r.name = k.name AND rb.digest = k.x", repositories, digests)


def existing_manifests(cur: cursor, repositories: list[str], digests: list[str]
                       ) -> set[tuple[str, str]]:
    """(repository, digest) pairs with a ``manifests`` row (a revision link)."""
    return _pairs(cur, "SELECT r.name, m.digest FROM manifests m"
                       " JOIN repositories r ON r.id = m.repository_id"
                       " JOIN unnest(%s::text[], %s::text[]) AS k(name, x)"
                       " ON r.name = k.name AND m.digest = k.x", repositories, digests)


def existing_tags(cur: cursor, repositories: list[str], tags: list[str]
                  ) -> set[tuple[str, str]]:
    """(repository, tag) pairs with a ``tags`` row (a tag's current link)."""
    return _pairs(cur, "SELECT r.name, t.name FROM tags t"
                       " JOIN repositories r ON r.id = t.repository_id"
                       " JOIN unnest(%s::text[], %s::text[]) AS k(name, x)"
                       " ON r.name = k.name AND t.name = k.x", repositories, tags)


def existing_tag_index_entries(cur: cursor, repositories: list[str], tags: list[str],
                               digests: list[str]) -> set[tuple[str, str, str]]:
    """(repository, tag, digest) triples whose tag and manifest both exist."""
    cur.execute(
        "SELECT r.name, t.name, m.digest FROM tags t"
        " JOIN repositories r ON r.id = t.repository_id"
        " JOIN manifests m ON m.repository_id = r.id"
        " JOIN unnest(%s::text[], %s::text[], %s::text[]) AS k(name, tag, digest)"
        " ON r.name = k.name AND t.name = k.tag AND m.digest = k.digest",
        (repositories, tags, digests))
    return {(r[0], r[1], r[2]) for r in cur.fetchall()}


def existing_uploads(cur: cursor, ids: list[str]) -> set[str]:
    """The upload ids (UUIDs as text) with a session row."""
    cur.execute("SELECT id::text FROM uploads WHERE id = ANY(%s::uuid[])", (ids,))
    return {r[0] for r in cur.fetchall()}
