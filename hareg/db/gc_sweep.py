# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The sweep's statements (hareg.gc.sweep): re-check a batch against the live tables, delete.

Each runs in a READ COMMITTED transaction that the sweep opens after taking the batch's
advisory locks, so every re-check is a new statement with a new snapshot that shows what
writers committed before those locks. Row locks are taken ``SKIP LOCKED``: the sweep never
queues behind a push. What garbage is comes from hareg.db.garbage with ``planned=False``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

import psycopg2.errors
from psycopg2.extensions import cursor

from .garbage import (
    MANIFEST_IS_GARBAGE,
    REPOSITORY_OLD,
    UPLOAD_ABANDONED,
    blob_is_garbage,
    link_is_garbage,
    repository_is_empty,
)
from .remote_cache import last_pulled

#: Errors after which the sweep retries a batch item by item (and skips a single item):
#: another transaction holds what the batch wants right now.
CONTENTION = (
    psycopg2.errors.ForeignKeyViolation,
    psycopg2.errors.LockNotAvailable,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.SerializationFailure,
)

# ------------------------------------------------------------------------ tags


class LiveTag(NamedTuple):
    manifest_id: int
    updated_at: datetime      # pushed at
    pulled_on: date | None    # last pulled (hareg.db.remote_cache.last_pulled)


def live_tags(cur: cursor, repository_ids: list[int], names: list[str]
              ) -> tuple[datetime | None, dict[tuple[int, str], LiveTag]]:
    """The database's clock, and the state of those (repository id, tag) pairs that still
    exist."""
    cur.execute(
        "SELECT now(), t.repository_id, t.name, t.manifest_id, t.updated_at,"
        f" {last_pulled('m')}"
        " FROM tags t JOIN unnest(%s::bigint[], %s::text[]) AS k(rid, name)"
        " ON t.repository_id = k.rid AND t.name = k.name"
        " JOIN manifests m ON m.id = t.manifest_id", (repository_ids, names))
    rows = cur.fetchall()
    return (rows[0][0] if rows else None), {(r[1], r[2]): LiveTag(r[3], r[4], r[5])
                                            for r in rows}


def delete_tags(cur: cursor, repository_ids: list[int], names: list[str]) -> None:
    cur.execute(
        "DELETE FROM tags t USING unnest(%s::bigint[], %s::text[]) AS k(rid, name)"
        " WHERE t.repository_id = k.rid AND t.name = k.name", (repository_ids, names))


# ------------------------------------------------------------------- manifests


def lock_manifests(cur: cursor, ids: list[int]) -> list[int]:
    """Lock the rows FOR UPDATE, skipping those a writer holds; the ids locked.

    Before the re-check: ``tags`` cascades from ``manifests``, so a tag added between an
    unlocked check and the delete would vanish with the manifest.
    """
    cur.execute("SELECT id FROM manifests WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED", (ids,))
    return [r[0] for r in cur.fetchall()]


def confirm_manifests(cur: cursor, ids: list[int], grace: int, keep_referrers: bool
                      ) -> set[int]:
    """The ids among ``ids`` that are still garbage."""
    cur.execute(
        "SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id"
        f" WHERE m.id = ANY(%(ids)s) AND {MANIFEST_IS_GARBAGE}",
        {"ids": ids, "grace": grace, "referrers": keep_referrers})
    return {r[0] for r in cur.fetchall()}


def delete_manifests(cur: cursor, ids: list[int]) -> None:
    cur.execute("DELETE FROM manifests WHERE id = ANY(%s)", (ids,))


# ----------------------------------------------------------------------- links


def confirm_links(cur: cursor, repository_ids: list[int], digests: list[str], grace: int
                  ) -> set[tuple[int, str]]:
    """The (repository id, digest) links among those given that are still garbage."""
    cur.execute(
        "SELECT rb.repository_id, rb.digest FROM repository_blobs rb"
        " JOIN unnest(%(rids)s::bigint[], %(digests)s::text[]) AS k(rid, digest)"
        " ON rb.repository_id = k.rid AND rb.digest = k.digest"
        f" WHERE {link_is_garbage(planned=False)}",
        {"rids": repository_ids, "digests": digests, "grace": grace})
    return {(r[0], r[1]) for r in cur.fetchall()}


def delete_links(cur: cursor, repository_ids: list[int], digests: list[str]) -> None:
    cur.execute(
        "DELETE FROM repository_blobs rb"
        " USING unnest(%s::bigint[], %s::text[]) AS k(rid, digest)"
        " WHERE rb.repository_id = k.rid AND rb.digest = k.digest",
        (repository_ids, digests))


# ----------------------------------------------------------------------- blobs


def confirm_blobs(cur: cursor, digests: list[str], grace: int) -> dict[str, int]:
    """digest -> size of the blobs among ``digests`` that are still garbage."""
    cur.execute(
        "SELECT b.digest, b.size FROM blobs b WHERE b.digest = ANY(%(digests)s)"
        f" AND {blob_is_garbage(planned=False)}",
        {"digests": digests, "grace": grace})
    return {r[0]: r[1] for r in cur.fetchall()}


def delete_blobs(cur: cursor, digests: list[str]) -> None:
    cur.execute("DELETE FROM blobs WHERE digest = ANY(%s)", (digests,))


# --------------------------------------------------------------------- uploads


def lock_abandoned_uploads(cur: cursor, ids: list[str], max_age: int) -> set[str]:
    """Lock the uploads among ``ids`` that are still abandoned; the ids locked.

    A PATCH or PUT in progress holds a live claim on its row (``UPLOAD_ABANDONED`` excludes
    it), and the condition is judged on the locked row: a claim committed before the lock is
    seen; a claim attempted after it waits for the sweep's commit and finds no row. SKIP
    LOCKED passes over rows a cancel (or a previous release's PATCH) has locked.
    """
    cur.execute(
        "SELECT u.id::text FROM uploads u WHERE u.id = ANY(%(ids)s::uuid[])"
        f" AND {UPLOAD_ABANDONED} FOR UPDATE SKIP LOCKED",
        {"ids": ids, "max_age": max_age})
    return {r[0] for r in cur.fetchall()}


def delete_uploads(cur: cursor, ids: list[str]) -> None:
    cur.execute("DELETE FROM uploads WHERE id = ANY(%s::uuid[])", (ids,))


# ---------------------------------------------------------------- repositories


def lock_old_repositories(cur: cursor, ids: list[int], grace: int) -> list[int]:
    """Lock the old repositories among ``ids`` FOR UPDATE, skipping those in use.

    FOR UPDATE conflicts with the FOR KEY SHARE of writers (ensure_repository and foreign key
    checks): a repository a push is using right now is skipped.
    """
    cur.execute(
        f"SELECT r.id FROM repositories r WHERE r.id = ANY(%(ids)s) AND {REPOSITORY_OLD}"
        " FOR UPDATE SKIP LOCKED", {"ids": ids, "grace": grace})
    return [r[0] for r in cur.fetchall()]


def confirm_empty_repositories(cur: cursor, ids: list[int]) -> set[int]:
    """The ids among ``ids`` (locked) whose repository is empty."""
    cur.execute(
        f"SELECT r.id FROM repositories r WHERE r.id = ANY(%(ids)s)"
        f" AND {repository_is_empty(planned=False)}", {"ids": ids})
    return {r[0] for r in cur.fetchall()}


def delete_repositories(cur: cursor, ids: list[int]) -> None:
    cur.execute("DELETE FROM repositories WHERE id = ANY(%s)", (ids,))
