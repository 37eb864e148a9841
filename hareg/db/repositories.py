# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``repositories`` table: finding, creating and listing repositories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from psycopg2.extensions import cursor


def repository_id(cur: cursor, name: str) -> int | None:
    cur.execute("SELECT id FROM repositories WHERE name = %s", (name,))
    row = cur.fetchone()
    return row[0] if row else None


def repository_exists(cur: cursor, name: str) -> bool:
    cur.execute("SELECT 1 FROM repositories WHERE name = %s", (name,))
    return cur.fetchone() is not None


def ensure_repository(cur: cursor, name: str) -> int:
    """Return the repository's id, creating the row if needed.

    An existing row is locked FOR KEY SHARE until the transaction ends: garbage collection
    deletes an empty repository only under FOR UPDATE, so it either skips this one or has
    deleted it before we look (we then create it anew) - never between our SELECT and the
    INSERT of a row that references it.
    """
    for _ in range(5):
        cur.execute("SELECT id FROM repositories WHERE name = %s FOR KEY SHARE", (name,))
        row = cur.fetchone()
        if row is not None:
            return row[0]
        cur.execute(
            "INSERT INTO repositories (name) VALUES (%s) ON CONFLICT (name) DO NOTHING"
            " RETURNING id",
            (name,),
        )
        row = cur.fetchone()
        if row is not None:
            return row[0]
        # A concurrent transaction created it (and a sweep may even have deleted it again).
    raise RuntimeError(f"could not create or find repository {name!r}")


#: A repository holds a manifest or a blob link. Scalar subqueries with ``ORDER BY ... LIMIT
#: 1``, not ``EXISTS``, on purpose: PostgreSQL may plan an ``EXISTS`` inside an ``OR`` as a
#: hashed subplan that reads the whole table on every page or, when a few repositories hold
#: most manifests, as a sequential scan expected to stop early that finds nothing for most
#: repositories (issue 11: 240 ms a page at 2,000 repositories). A scalar subquery is never
#: hashed, and its ORDER BY is what the primary key gives for free: its cheapest plan is an
#: index probe.
_NONEMPTY = (
    "((SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id"
    "   ORDER BY b.digest LIMIT 1) IS NOT NULL"
    " OR (SELECT 1 FROM manifests m WHERE m.repository_id = r.id"
    "   ORDER BY m.digest LIMIT 1) IS NOT NULL)"
)
_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789/_-")


def literal_prefix(regex: str) -> str:
    """What every name matching the anchored ``regex`` starts with ("" when unknown).

    Reads the regexes ``hareg.auth.globs`` makes (``^team/app/[^/]*\\Z``) and stops at the
    first character that is not plainly literal, so any other regex gets a shorter prefix or
    none, never a wrong one.
    """
    if not regex.startswith("^") or "|" in regex:  # "^a|b" also matches "xb"
        return ""
    out: list[str] = []
    i = 1
    while i < len(regex):
        if regex[i] in _LITERAL:
            out.append(regex[i])
            i += 1
        elif regex.startswith("\\.", i):
            out.append(".")
            i += 2
        else:
            if regex[i] in "*?{+":  # the last literal is optional
                out = out[:-1]
            break
    return "".join(out)


def list_nonempty(cur: cursor, after: str, matching: Sequence[str] | None,
                  limit: int) -> list[str]:
    """Names of the repositories that hold a manifest or a blob link, in byte order after
    ``after``; with ``matching``, only names matching one of those (anchored) regexes.

    A page is a range scan of ``repositories_name_bytewise`` that probes each name it meets
    with at most two index lookups, so its cost depends on ``limit`` (and on the empty or
    filtered-out names it skips), not on the size of the tables. With ``matching``, a regex
    with a literal prefix (``^team/``) scans only the names in that prefix's range: one
    range scan per regex, merged in order, so a caller who may pull a few repositories
    does not read every name of a large registry for each page.
    """
    if matching is None:
        cur.execute(
            'SELECT r.name FROM repositories r WHERE r.name COLLATE "C" > %s AND '
            + _NONEMPTY + ' ORDER BY r.name COLLATE "C" LIMIT %s', (after, limit))
        return [r[0] for r in cur.fetchall()]
    branches: list[str] = []
    args: list[object] = []
    for regex in dict.fromkeys(matching):
        prefix = literal_prefix(regex)
        where = 'r.name COLLATE "C" > %s AND r.name ~ %s'
        args += [after, regex]
        if prefix:
            # Every name with this prefix sorts in [prefix, prefix with its last byte + 1).
            where += ' AND r.name COLLATE "C" >= %s AND r.name COLLATE "C" < %s'
            args += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        branches.append(f'(SELECT r.name FROM repositories r WHERE {where} AND {_NONEMPTY}'
                        f' ORDER BY r.name COLLATE "C" LIMIT %s)')
        args.append(limit)
    # UNION: a name several regexes match is listed once; the ordered branches merge.
    cur.execute('SELECT name FROM (' + " UNION ".join(branches) + ') page'
                ' ORDER BY name COLLATE "C" LIMIT %s', (*args, limit))
    return [r[0] for r in cur.fetchall()]


def repositories_created_before(cur: cursor, created_before: datetime | None
                                ) -> list[tuple[int, str]]:
    """(id, name) of the repositories created before ``created_before``."""
    cur.execute("SELECT id, name FROM repositories WHERE created_at < %s", (created_before,))
    return [(r[0], r[1]) for r in cur.fetchall()]


def delete_repository(cur: cursor, repo_id: int) -> None:
    """Delete a repository with everything in it, whatever references what.

    Its rows go by ON DELETE CASCADE, but an index's reference to a child manifest
    (``manifest_children.child_id``) is ON DELETE RESTRICT: the repository's index entries
    are deleted first, so that the cascade never trips over them.
    """
    cur.execute("DELETE FROM manifest_children WHERE parent_id IN"
                " (SELECT id FROM manifests WHERE repository_id = %s)", (repo_id,))
    cur.execute("DELETE FROM repositories WHERE id = %s", (repo_id,))
