# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``blobs`` table (content, once per digest) and ``repository_blobs`` (which repository
links which blob: a blob is visible only where it is linked)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from psycopg2.extensions import cursor


def blob_exists(cur: cursor, digest: str) -> bool:
    cur.execute("SELECT 1 FROM blobs WHERE digest = %s", (digest,))
    return cur.fetchone() is not None


def insert_blob(cur: cursor, digest: str, size: int) -> None:
    """Record a blob's content (no-op when the row exists)."""
    cur.execute(
        "INSERT INTO blobs (digest, size) VALUES (%s, %s) ON CONFLICT (digest) DO NOTHING",
        (digest, size),
    )


def link_blob(cur: cursor, repo_id: int, digest: str) -> bool:
    """Make a blob visible in a repository; True when the link is new."""
    cur.execute(
        "INSERT INTO repository_blobs (repository_id, digest) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING",
        (repo_id, digest),
    )
    return cur.rowcount == 1


def unlink_blob(cur: cursor, repository: str, digest: str) -> bool:
    """Remove a blob's link from a repository (by name); False when there was none."""
    cur.execute(
        "DELETE FROM repository_blobs rb USING repositories r"
        " WHERE rb.repository_id = r.id AND r.name = %s AND rb.digest = %s",
        (repository, digest),
    )
    return cur.rowcount != 0


def linked_blob_size(cur: cursor, repository: str, digest: str) -> int | None:
    """Size of a blob visible in ``repository`` (a layer/config link, or a manifest's payload)."""
    cur.execute(
        "SELECT b.size FROM repositories r"
        " JOIN repository_blobs rb ON rb.repository_id = r.id"
        " JOIN blobs b ON b.digest = rb.digest"
        " WHERE r.name = %s AND rb.digest = %s"
        " UNION ALL"
        " SELECT octet_length(m.payload) FROM repositories r"
        " JOIN manifests m ON m.repository_id = r.id"
        " WHERE r.name = %s AND m.digest = %s"
        " LIMIT 1",
        (repository, digest, repository, digest),
    )
    row = cur.fetchone()
    return row[0] if row else None


def lock_some_link(cur: cursor, digest: str, source: str | None,
                   matching: Sequence[str] | None) -> bool:
    """Lock (FOR SHARE) one link of ``digest``: in ``source`` when given, else in any
    repository whose name matches one of ``matching`` (None: any repository). False when no
    such link exists. The lock keeps the link until the transaction ends."""
    sql = ("SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id"
           " WHERE rb.digest = %s")
    args: tuple = (digest,)
    if source is not None:
        sql += " AND r.name = %s"
        args = (digest, source)
    elif matching is not None:
        sql += " AND r.name ~ ANY(%s)"
        args = (digest, list(matching))
    cur.execute(sql + " LIMIT 1 FOR SHARE OF rb", args)
    return cur.fetchone() is not None


def lock_linked(cur: cursor, repo_id: int, digests: Sequence[str]) -> set[str]:
    """Which of ``digests`` the repository links, each link locked FOR SHARE."""
    cur.execute(
        "SELECT digest FROM repository_blobs WHERE repository_id = %s AND digest = ANY(%s)"
        " FOR SHARE",
        (repo_id, list(digests)),
    )
    return {r[0] for r in cur.fetchall()}


# --- Many rows at once (hareg rebuild-db): one statement per batch, whatever its size ---

#: Blob rows from parallel arrays of digests and sizes.
_INSERT_MANY = ("INSERT INTO blobs (digest, size)"
                " SELECT * FROM unnest(%s::text[], %s::bigint[])")


def insert_blobs(cur: cursor, digests: Sequence[str], sizes: Sequence[int]) -> None:
    """:func:`insert_blob` for many blobs in one round trip (rows that exist stay as they
    are)."""
    cur.execute(_INSERT_MANY + " ON CONFLICT DO NOTHING", (list(digests), list(sizes)))


def insert_or_correct_blobs(cur: cursor, digests: Sequence[str], sizes: Sequence[int]
                            ) -> list[bool]:
    """Insert blob rows; an existing row whose size differs takes the given size.

    Unlike :func:`insert_blob`, which keeps an existing row, the caller's sizes win: a
    rebuild takes them from the storage listing, the truth the rows must agree with. One
    entry per row written: True when inserted, False when its size was corrected (rows
    already right are not written and not listed).
    """
    cur.execute(
        _INSERT_MANY + " ON CONFLICT (digest) DO UPDATE SET size = EXCLUDED.size"
        " WHERE blobs.size <> EXCLUDED.size RETURNING (xmax = 0)",
        (list(digests), list(sizes)),
    )
    return [row[0] for row in cur.fetchall()]


def link_blobs(cur: cursor, repo_id: int, digests: Sequence[str]) -> int:
    """:func:`link_blob` for many digests in one round trip; the number of new links."""
    cur.execute(
        "INSERT INTO repository_blobs (repository_id, digest)"
        " SELECT %s, d FROM unnest(%s::text[]) d ON CONFLICT DO NOTHING",
        (repo_id, list(digests)),
    )
    return cur.rowcount


def unlink_blobs_except(cur: cursor, repo_id: int, keep: Sequence[str],
                        created_before: datetime | None) -> int:
    """Remove the repository's links to digests not in ``keep`` that were created before
    ``created_before`` (newer links are left alone); the number removed."""
    cur.execute(
        "DELETE FROM repository_blobs WHERE repository_id = %s"
        " AND NOT (digest = ANY(%s::text[])) AND created_at < %s",
        (repo_id, list(keep), created_before),
    )
    return cur.rowcount


def blobs_created_before(cur: cursor, created_before: datetime | None) -> list[str]:
    """Digests of the blob rows created before ``created_before``."""
    cur.execute("SELECT digest FROM blobs WHERE created_at < %s", (created_before,))
    return [r[0] for r in cur.fetchall()]


def delete_blobs_and_references(cur: cursor, digests: Sequence[str]) -> int:
    """Remove ``digests`` from every manifest's and repository's references, then their blob
    rows, except a blob that is still some manifest's payload; the number of rows deleted.

    For blobs whose data is gone from storage (a rebuild's prune): unlike the sweep, which
    deletes only what nothing references, this removes the references too.
    """
    batch = list(digests)
    cur.execute("DELETE FROM manifest_blobs WHERE digest = ANY(%s)", (batch,))
    cur.execute("DELETE FROM repository_blobs WHERE digest = ANY(%s)", (batch,))
    cur.execute("DELETE FROM blobs b WHERE digest = ANY(%s) AND NOT EXISTS"
                " (SELECT 1 FROM manifests m WHERE m.digest = b.digest)", (batch,))
    return cur.rowcount
