# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The reads of ``hareg check`` (hareg.check.objects): every row that names a storage object.

Each kind of row is read with the columns that name its object (a repository name and a
digest, tag or upload id), all as text, in two ways: every row (the snapshot, read in one
REPEATABLE READ transaction by the caller) and, for the re-check, those of given rows that
exist now. The two statements of a kind are built from one text, so they never disagree.

For the link comparison, tags are also read with the digest they name (:func:`tag_targets`,
:func:`current_tag_targets`), and :func:`try_xact_locks` takes, without waiting, the locks
the writers of links take, until the caller's transaction ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from psycopg2.extensions import cursor

#: The kinds of rows, by table.
BLOBS, LAYER_LINKS, MANIFESTS, TAGS, UPLOADS = (
    "blobs", "repository_blobs", "manifests", "tags", "uploads")

_ALL = {
    BLOBS: "SELECT digest FROM blobs",
    LAYER_LINKS: "SELECT r.name, rb.digest FROM repository_blobs rb"
                 " JOIN repositories r ON r.id = rb.repository_id",
    MANIFESTS: "SELECT r.name, m.digest FROM manifests m"
               " JOIN repositories r ON r.id = m.repository_id",
    TAGS: "SELECT r.name, t.name FROM tags t JOIN repositories r ON r.id = t.repository_id",
    UPLOADS: "SELECT repository, id::text FROM uploads",
}

# The same rows, restricted to given ones: %s are parallel text arrays.
_EXISTING = {
    BLOBS: "SELECT digest FROM blobs WHERE digest = ANY(%s)",
    LAYER_LINKS: _ALL[LAYER_LINKS] + " WHERE (r.name, rb.digest) IN"
                                     " (SELECT * FROM unnest(%s::text[], %s::text[]))",
    MANIFESTS: _ALL[MANIFESTS] + " WHERE (r.name, m.digest) IN"
                                 " (SELECT * FROM unnest(%s::text[], %s::text[]))",
    TAGS: _ALL[TAGS] + " WHERE (r.name, t.name) IN"
                       " (SELECT * FROM unnest(%s::text[], %s::text[]))",
    UPLOADS: "SELECT repository, id::text FROM uploads WHERE (repository, id::text) IN"
             " (SELECT * FROM unnest(%s::text[], %s::text[]))",
}

_TAG_TARGETS = ("SELECT r.name, t.name, m.digest FROM tags t"
                " JOIN repositories r ON r.id = t.repository_id"
                " JOIN manifests m ON m.id = t.manifest_id")


class Rows(NamedTuple):
    """Every row of one kind: how many, and the rows (fetched with the statement)."""

    total: int
    rows: Iterator[tuple[str, ...]]


def all_rows(cur: cursor, kind: str) -> Rows:
    """Every row of ``kind`` (one of :data:`KINDS`) as a tuple of its key columns."""
    cur.execute(_ALL[kind])
    return Rows(cur.rowcount, iter(cur))


def existing_rows(cur: cursor, kind: str, rows: Sequence[tuple[str, ...]]
                  ) -> set[tuple[str, ...]]:
    """Which of ``rows`` (key tuples of ``kind``, as :func:`all_rows` gives them) exist now;
    one round trip, whatever their number."""
    if not rows:
        return set()
    cur.execute(_EXISTING[kind], [list(c) for c in zip(*rows, strict=True)])
    return {tuple(str(v) for v in r) for r in cur.fetchall()}


def tag_targets(cur: cursor) -> Rows:
    """Every tag as (repository, tag, digest of the manifest it names)."""
    cur.execute(_TAG_TARGETS)
    return Rows(cur.rowcount, iter(cur))


def current_tag_targets(cur: cursor, tags: Sequence[tuple[str, str]]
                        ) -> dict[tuple[str, str], str]:
    """(repository, tag) -> digest it names now, for those of ``tags`` that exist; one round
    trip."""
    if not tags:
        return {}
    cur.execute(_TAG_TARGETS + " WHERE (r.name, t.name) IN"
                               " (SELECT * FROM unnest(%s::text[], %s::text[]))",
                [list(c) for c in zip(*tags, strict=True)])
    return {(r[0], r[1]): r[2] for r in cur.fetchall()}


def try_xact_locks(cur: cursor, kind: int, names: Sequence[str]) -> set[str]:
    """Take every exclusive advisory lock ``(kind, hashtext(name))`` of ``names`` that is free
    now (``pg_try_advisory_xact_lock``: held until the transaction ends, so also behind a
    transaction-pooling proxy); return the names locked. One round trip, sorted order."""
    if not names:
        return set()
    cur.execute("SELECT n FROM unnest(%s::text[]) AS n"
                " WHERE pg_try_advisory_xact_lock(%s, hashtext(n)) ORDER BY n",
                (sorted(set(names)), kind))
    return {r[0] for r in cur.fetchall()}
