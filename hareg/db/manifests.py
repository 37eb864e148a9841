# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``manifests`` table and its reference tables ``manifest_blobs`` (the blobs a manifest
needs) and ``manifest_children`` (an index's manifests, ``child_id`` NULL while absent)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from psycopg2.extensions import cursor

from . import locks


class ManifestRow(NamedTuple):
    digest: str
    media_type: str
    size: int
    payload: bytes | None  # None when not asked for


class ManifestContent(NamedTuple):
    digest: str
    media_type: str
    payload: bytes


class Referrer(NamedTuple):
    media_type: str
    size: int
    digest: str
    artifact_type: str | None
    annotations: dict[str, Any] | None


def _row(row: tuple | None) -> ManifestRow | None:
    if row is None:
        return None
    return ManifestRow(row[0], row[1], row[2], bytes(row[3]) if row[3] is not None else None)


def find_by_digest(cur: cursor, repository: str, digest: str,
                   with_payload: bool) -> ManifestRow | None:
    payload_col = "m.payload" if with_payload else "NULL"
    cur.execute(
        f"SELECT m.digest, m.media_type, octet_length(m.payload), {payload_col}"
        " FROM manifests m JOIN repositories r ON r.id = m.repository_id"
        " WHERE r.name = %s AND m.digest = %s",
        (repository, digest),
    )
    return _row(cur.fetchone())


def find_by_tag(cur: cursor, repository: str, tag: str,
                with_payload: bool) -> ManifestRow | None:
    payload_col = "m.payload" if with_payload else "NULL"
    cur.execute(
        f"SELECT m.digest, m.media_type, octet_length(m.payload), {payload_col}"
        " FROM tags t JOIN repositories r ON r.id = t.repository_id"
        " JOIN manifests m ON m.id = t.manifest_id"
        " WHERE r.name = %s AND t.name = %s",
        (repository, tag),
    )
    return _row(cur.fetchone())


def lock_manifest_id(cur: cursor, repo_id: int, digest: str) -> int | None:
    """The id of the repository's manifest ``digest``, its row locked FOR SHARE (a delete of
    it waits for this transaction); None when absent."""
    cur.execute("SELECT id FROM manifests WHERE repository_id = %s AND digest = %s"
                " FOR SHARE", (repo_id, digest))
    row = cur.fetchone()
    return row[0] if row else None


def lock_manifest(cur: cursor, manifest_id: int) -> None:
    """Lock a manifest row FOR SHARE until the transaction ends (no-op when it is gone)."""
    cur.execute("SELECT 1 FROM manifests WHERE id = %s FOR SHARE", (manifest_id,))


def lock_digest_exclusive(cur: cursor, digest: str, timeout_ms: int) -> None:
    """The digest's BLOB lock, EXCLUSIVE, until the transaction ends, waiting at most
    ``timeout_ms`` (then psycopg2's LockNotAvailable): every writer of the digest's objects
    (holding it shared) has committed or rolled back, and none starts before we end. Used to
    take back the objects of a failed write, as the sweep deletes them."""
    cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(timeout_ms)}ms",))
    locks.xact_lock(cur, locks.BLOB, digest)


def exists_by_name(cur: cursor, repository: str, digest: str) -> bool:
    """Whether ``repository`` (by name) has the manifest ``digest``."""
    cur.execute("SELECT 1 FROM manifests m JOIN repositories r ON r.id = m.repository_id"
                " WHERE r.name = %s AND m.digest = %s", (repository, digest))
    return cur.fetchone() is not None


def lock_for_delete(cur: cursor, repository: str, digest: str) -> int | None:
    """The id of ``repository``'s manifest ``digest``, locked FOR UPDATE; None when absent."""
    cur.execute(
        "SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id"
        " WHERE r.name = %s AND m.digest = %s FOR UPDATE OF m",
        (repository, digest),
    )
    row = cur.fetchone()
    return row[0] if row else None


def delete_manifest(cur: cursor, manifest_id: int) -> None:
    """Delete a manifest row (its tags and references go by ON DELETE CASCADE; a parent
    index's reference raises ForeignKeyViolation)."""
    cur.execute("DELETE FROM manifests WHERE id = %s", (manifest_id,))


def lock_present(cur: cursor, repo_id: int, digests: Sequence[str]) -> dict[str, int]:
    """digest -> id of those of ``digests`` the repository has, each row locked FOR SHARE."""
    cur.execute(
        "SELECT digest, id FROM manifests WHERE repository_id = %s AND digest = ANY(%s)"
        " FOR SHARE",
        (repo_id, list(digests)),
    )
    return dict(cur.fetchall())


def insert_manifest(cur: cursor, repo_id: int, digest: str, *, media_type: str,
                    artifact_type: str | None, subject: str | None,
                    annotations: dict[str, Any] | None, payload: bytes) -> int | None:
    """Insert a manifest row; its id, or None when the repository has it already."""
    cur.execute(
        "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject,"
        " annotations, payload) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id",
        (repo_id, digest, media_type, artifact_type, subject,
         json.dumps(annotations) if annotations else None, payload),
    )
    row = cur.fetchone()
    return row[0] if row else None


def insert_blob_references(cur: cursor, manifest_id: int, digests: Sequence[str]) -> None:
    """The blobs a manifest needs (``manifest_blobs``); one round trip (executemany would
    make one per blob), none for an empty list."""
    if digests:
        cur.execute("INSERT INTO manifest_blobs (manifest_id, digest)"
                    " SELECT %s, unnest(%s::text[])", (manifest_id, list(digests)))


def insert_child_references(cur: cursor, manifest_id: int,
                            children: Sequence[tuple[str, int | None]]) -> None:
    """An index's children as (digest, id or None while absent): one round trip, none for
    an empty list."""
    if children:
        cur.execute(
            "INSERT INTO manifest_children (parent_id, child_digest, child_id)"
            " SELECT %s, d, c FROM unnest(%s::text[], %s::bigint[]) AS u (d, c)"
            " ON CONFLICT DO NOTHING",
            (manifest_id, [d for d, _ in children], [c for _, c in children]),
        )


def resolve_sparse_children(cur: cursor, repo_id: int, digest: str, manifest_id: int) -> None:
    """Indexes of the repository pushed before their child ``digest`` existed now reference
    the new row ``manifest_id``."""
    cur.execute(
        "UPDATE manifest_children mc SET child_id = %s FROM manifests p"
        " WHERE mc.child_id IS NULL AND mc.child_digest = %s AND mc.parent_id = p.id"
        " AND p.repository_id = %s",
        (manifest_id, digest, repo_id),
    )


def manifest_digest(cur: cursor, manifest_id: int) -> str | None:
    cur.execute("SELECT digest FROM manifests WHERE id = %s", (manifest_id,))
    row = cur.fetchone()
    return row[0] if row else None


def lock_content(cur: cursor, manifest_id: int) -> ManifestContent | None:
    """A manifest's digest, media type and payload, its row locked FOR SHARE."""
    cur.execute("SELECT digest, media_type, payload FROM manifests WHERE id = %s FOR SHARE",
                (manifest_id,))
    row = cur.fetchone()
    return ManifestContent(row[0], row[1], bytes(row[2])) if row else None


def present_child_ids(cur: cursor, manifest_id: int) -> list[int]:
    """Ids of an index's children that exist, in child digest order."""
    cur.execute("SELECT child_id FROM manifest_children WHERE parent_id = %s"
                " AND child_id IS NOT NULL ORDER BY child_digest", (manifest_id,))
    return [r[0] for r in cur.fetchall()]


def referenced_blobs(cur: cursor, manifest_id: int) -> list[str]:
    """Digests of the blobs a manifest references, sorted."""
    cur.execute("SELECT digest FROM manifest_blobs WHERE manifest_id = %s ORDER BY digest",
                (manifest_id,))
    return [r[0] for r in cur.fetchall()]


def referrers(cur: cursor, repository: str, subject: str,
              artifact_type: str | None) -> list[Referrer]:
    """The repository's manifests whose subject is ``subject`` (optionally of one artifact
    type), oldest first."""
    sql = ("SELECT m.media_type, octet_length(m.payload), m.digest, m.artifact_type,"
           " m.annotations FROM manifests m JOIN repositories r ON r.id = m.repository_id"
           " WHERE r.name = %s AND m.subject = %s")
    args: list[Any] = [repository, subject]
    if artifact_type:
        sql += " AND m.artifact_type = %s"
        args.append(artifact_type)
    cur.execute(sql + " ORDER BY m.created_at, m.digest", args)
    return [Referrer(*row) for row in cur.fetchall()]


# --- A repository's manifests as a whole (hareg rebuild-db) ---


def manifest_digests(cur: cursor, repo_id: int) -> set[str]:
    """Digests of every manifest the repository has."""
    cur.execute("SELECT digest FROM manifests WHERE repository_id = %s", (repo_id,))
    return {r[0] for r in cur.fetchall()}


def manifest_ids(cur: cursor, repo_id: int) -> dict[str, int]:
    """digest -> id of every manifest the repository has."""
    cur.execute("SELECT digest, id FROM manifests WHERE repository_id = %s", (repo_id,))
    return dict(cur.fetchall())


def restore_created_at(cur: cursor, ids: Sequence[int], times: Sequence[datetime],
                       created_since: datetime | None) -> int:
    """Set the creation time of manifests ``ids`` to ``times`` (parallel lists), only for rows
    created at or after ``created_since``; the number of rows changed.

    A rebuild gives the rows it created their push time back (the revision link's time), so
    that the referrers API lists in push order; rows that existed before it stay as they are.
    """
    cur.execute(
        "UPDATE manifests m SET created_at = v.t"
        " FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, t)"
        " WHERE m.id = v.id AND m.created_at >= %s",
        (list(ids), list(times), created_since),
    )
    return cur.rowcount


def resolve_all_sparse_children(cur: cursor, repo_id: int) -> None:
    """Every index entry of the repository still without its child (``child_id`` NULL) whose
    child manifest exists now references it (:func:`resolve_sparse_children` for all
    digests at once)."""
    cur.execute(
        "UPDATE manifest_children mc SET child_id = c.id FROM manifests p, manifests c"
        " WHERE mc.parent_id = p.id AND p.repository_id = %s AND mc.child_id IS NULL"
        " AND c.repository_id = p.repository_id AND c.digest = mc.child_digest",
        (repo_id,),
    )


def manifests_created_before_except(cur: cursor, repo_id: int, keep: Sequence[str],
                                    created_before: datetime | None) -> list[int]:
    """Ids of the repository's manifests whose digest is not in ``keep``, created before
    ``created_before``."""
    cur.execute(
        "SELECT id FROM manifests WHERE repository_id = %s AND NOT (digest = ANY(%s))"
        " AND created_at < %s",
        (repo_id, list(keep), created_before),
    )
    return [r[0] for r in cur.fetchall()]


def delete_manifests_keeping_parents(cur: cursor, ids: Sequence[int]) -> None:
    """Delete manifests ``ids`` (their tags and references go by ON DELETE CASCADE) even when
    an index references them: the index keeps its entry, without the child, as a sparse
    index would (no round trip for an empty list)."""
    if ids:
        gone = list(ids)
        cur.execute("UPDATE manifest_children SET child_id = NULL WHERE child_id = ANY(%s)",
                    (gone,))
        cur.execute("DELETE FROM manifests WHERE id = ANY(%s)", (gone,))
