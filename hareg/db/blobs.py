# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``blobs`` table (content, once per digest) and ``repository_blobs`` (which repository
links which blob: a blob is visible only where it is linked)."""

from __future__ import annotations

from collections.abc import Sequence

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
