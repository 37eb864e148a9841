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
    """Return the repository's id, creating the row if needed, without locking it."""
    repo_id = repository_id(cur, name)
    if repo_id is not None:
        return repo_id
    cur.execute(
        "INSERT INTO repositories (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id",
        (name,),
    )
    row = cur.fetchone()
    if row:
        return row[0]
    repo_id = repository_id(cur, name)  # a concurrent transaction created it
    assert repo_id is not None
    return repo_id


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
