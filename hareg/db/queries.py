# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""SQL shared by several registry operations. Plain SQL, no ORM: every query is visible."""

from __future__ import annotations

from psycopg2.extensions import cursor


def repository_id(cur: cursor, name: str) -> int | None:
    cur.execute("SELECT id FROM repositories WHERE name = %s", (name,))
    row = cur.fetchone()
    return row[0] if row else None


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


def blob_exists(cur: cursor, digest: str) -> bool:
    cur.execute("SELECT 1 FROM blobs WHERE digest = %s", (digest,))
    return cur.fetchone() is not None


def insert_blob(cur: cursor, digest: str, size: int) -> None:
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
