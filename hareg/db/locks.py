# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""PostgreSQL advisory locks: the cluster-wide mutexes of invariants 4 and 5 of
docs/architecture.rst (its Locks section lists every kind and name).

Two-key advisory locks: the first key names the kind of lock, the second is ``hashtext`` of
the locked name. A hash collision only serializes two unrelated operations, never breaks one.
"""

from __future__ import annotations

from psycopg2.extensions import cursor

from .rows import returned

MIGRATIONS = 1
BLOB = 2      # per digest: "finish upload, insert row" vs "delete object, delete row"
TAG = 3       # per repository/tag: S3 tag link and DB row move together
GC = 4        # one sweep (or rebuild) at a time: name GC_NAME
NAMESPACES = 5  # namespace definitions change one at a time: name NAMESPACES_NAME

#: The one name used with GC: ``hareg gc``, the in-server schedule and ``hareg rebuild-db``
#: exclude each other by taking (GC, GC_NAME).
GC_NAME = "sweep"
#: The one name used with NAMESPACES: a change is validated against the set it replaces.
NAMESPACES_NAME = "definitions"


def tag_key(repository: str, tag: str) -> str:
    """The name of a (TAG, name) lock: one per repository and tag."""
    return f"{repository}:{tag}"


def xact_lock(cur: cursor, kind: int, name: str) -> None:
    """Take a transaction-scoped lock; released by COMMIT or ROLLBACK."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (kind, name))


def try_session_lock(cur: cursor, kind: int, name: str) -> bool:
    """Take a session-level lock without waiting; only on a hareg.db.session.Session (a
    pooled connection would keep it for whoever uses that server connection next)."""
    cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (kind, name))
    return bool(returned(cur)[0])


def xact_lock_shared(cur: cursor, kind: int, name: str) -> None:
    """Shared flavour: many writers may link a digest at once; only a sweep excludes them."""
    cur.execute("SELECT pg_advisory_xact_lock_shared(%s, hashtext(%s))", (kind, name))


def xact_lock_shared_many(cur: cursor, kind: int, names: list[str]) -> None:
    """Shared locks on several names in one round trip, taken in sorted order."""
    if names:
        cur.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, hashtext(n))"
            " FROM unnest(%s::text[]) AS n ORDER BY n",
            (kind, sorted(set(names))),
        )


# Named locks of the registry's write paths (manifests, uploads, blobs, promotion).


def lock_tag(cur: cursor, repository: str, tag: str) -> None:
    """Exclusive (TAG) lock of one tag until the transaction ends: its links and row move
    together."""
    xact_lock(cur, TAG, tag_key(repository, tag))


def lock_tags(cur: cursor, tags: list[tuple[str, str]]) -> None:
    """Exclusive TAG locks of several (repository, tag) pairs, one after another in sorted key
    order so two transactions locking overlapping sets cannot deadlock."""
    for name in sorted({tag_key(repository, tag) for repository, tag in tags}):
        xact_lock(cur, TAG, name)


def lock_namespaces(cur: cursor) -> None:
    """Exclusive NAMESPACES lock until the transaction ends: one definition change at a time."""
    xact_lock(cur, NAMESPACES, NAMESPACES_NAME)


def lock_blob_shared(cur: cursor, digest: str) -> None:
    """Shared (BLOB) lock of one digest: writers linking it exclude only a sweep deleting it."""
    xact_lock_shared(cur, BLOB, digest)


def lock_blobs_shared(cur: cursor, digests: list[str]) -> None:
    """Shared BLOB locks of several digests in one round trip (none when the list is empty)."""
    xact_lock_shared_many(cur, BLOB, digests)


# --- Batches of session-level locks, taken without waiting (the sweep, hareg.gc.locks) ---


def try_session_lock_many(cur: cursor, kind: int, names: list[str]) -> set[str]:
    """Take, at session level, every lock of ``names`` that is free right now (exclusive,
    ``pg_try_advisory_lock``); return the names locked. One round trip."""
    if not names:
        return set()
    cur.execute(
        "SELECT n FROM unnest(%s::text[]) AS n WHERE pg_try_advisory_lock(%s, hashtext(n))",
        (names, kind),
    )
    return {r[0] for r in cur.fetchall()}


def session_unlock_many(cur: cursor, kind: int, names: list[str]) -> None:
    """Release session-level locks of ``names`` taken by this connection. One round trip."""
    if names:
        cur.execute("SELECT pg_advisory_unlock(%s, hashtext(n)) FROM unnest(%s::text[]) AS n",
                    (kind, names))
