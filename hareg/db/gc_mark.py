# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The plan's queries (hareg.gc.plan), all in one REPEATABLE READ transaction.

Each phase stores what it dooms in a temporary table (dropped at COMMIT) that the next phase
reads as "already gone": retention's tags, then the manifests no root reaches, then the links
no kept manifest needs; blobs, uploads and repositories follow. What garbage is comes from
hareg.db.garbage with ``planned=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from psycopg2.extensions import cursor
from psycopg2.extras import execute_values

from .garbage import (
    DOOMED_TAGS,
    KEPT,
    PLANNED_LINKS,
    PLANNED_MANIFESTS,
    PROMOTED_SOURCE,
    REPOSITORY_OLD,
    SUBJECT_OF_REFERRER,
    TAG_NOT_DOOMED,
    UPLOAD_ABANDONED,
    blob_is_garbage,
    link_is_garbage,
    repository_is_empty,
    within,
)
from .remote_cache import last_pulled


def repositories(cur: cursor) -> list[tuple[int, str]]:
    """(id, name) of every repository."""
    cur.execute("SELECT id, name FROM repositories")
    return [(r[0], r[1]) for r in cur.fetchall()]


def tags_of(cur: cursor, repository_ids: list[int]
            ) -> list[tuple[int, str, int, str, datetime, date | None]]:
    """(repository id, tag, manifest id, digest, pushed at, last pulled) of the
    repositories' tags (last pulled: hareg.db.remote_cache.last_pulled)."""
    cur.execute(
        "SELECT t.repository_id, t.name, t.manifest_id, m.digest, t.updated_at,"
        f" {last_pulled('m')}"
        " FROM tags t JOIN manifests m ON m.id = t.manifest_id"
        " WHERE t.repository_id = ANY(%s)", (repository_ids,))
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in cur.fetchall()]


def doom_tags(cur: cursor, tags: Sequence[tuple[int, str]]) -> None:
    """Record the (repository id, tag) retention deletes, for the marking that follows."""
    cur.execute(f"CREATE TEMP TABLE {DOOMED_TAGS} (repository_id bigint, name text)"
                " ON COMMIT DROP")
    execute_values(cur, f"INSERT INTO {DOOMED_TAGS} VALUES %s", list(tags))


def mark(cur: cursor, grace: int, keep_referrers: bool, delete_untagged: bool) -> None:
    """Fill ``gc_kept`` with every manifest reachable from a root (garbage: the rest)."""
    referrer_edges = (
        " UNION ALL SELECT s.id, m.id FROM manifests m JOIN manifests s"
        f" ON {SUBJECT_OF_REFERRER}"
        " WHERE m.subject IS NOT NULL" if keep_referrers else "")
    cur.execute(
        f"CREATE TEMP TABLE {KEPT} ON COMMIT DROP AS"
        " WITH RECURSIVE edges(src, dst) AS MATERIALIZED ("
        "   SELECT parent_id, child_id FROM manifest_children WHERE child_id IS NOT NULL"
        f"  {referrer_edges}"
        " ), roots(id) AS ("
        f"   SELECT m.id FROM manifests m WHERE {within('m.created_at')} OR NOT %(untagged)s"
        f"   UNION SELECT t.manifest_id FROM tags t WHERE {TAG_NOT_DOOMED}"
        "   UNION SELECT m.id FROM promotions p, repositories r, manifests m"
        f"  WHERE m.repository_id = r.id AND {PROMOTED_SOURCE}"
        " ), kept(id) AS ("
        "   SELECT id FROM roots"
        "   UNION SELECT e.dst FROM edges e JOIN kept k ON e.src = k.id"
        " ) SELECT id FROM kept",
        {"grace": grace, "untagged": delete_untagged},
    )
    cur.execute(f"ANALYZE {KEPT}")


def garbage_manifests(cur: cursor, index_types: Sequence[str]
                      ) -> list[tuple[int, int, str, str, int, str, str | None]]:
    """Store the manifests not kept in ``gc_manifests``; return (id, repository id,
    repository, digest, size, media type, subject): indexes first, referrers last, so that
    parents and subjects go before what they keep."""
    cur.execute(
        f"CREATE TEMP TABLE {PLANNED_MANIFESTS} ON COMMIT DROP AS"
        " SELECT m.id, m.repository_id, r.name AS repository, m.digest,"
        " octet_length(m.payload) AS size, m.media_type, m.subject"
        " FROM manifests m JOIN repositories r ON r.id = m.repository_id"
        f" WHERE NOT EXISTS (SELECT 1 FROM {KEPT} k WHERE k.id = m.id)")
    cur.execute(f"ANALYZE {PLANNED_MANIFESTS}")
    cur.execute(
        "SELECT id, repository_id, repository, digest, size, media_type, subject"
        f" FROM {PLANNED_MANIFESTS}"
        " ORDER BY (media_type = ANY(%s)) DESC, (subject IS NOT NULL), id",
        (sorted(index_types),))
    return [tuple(r) for r in cur.fetchall()]


def garbage_links(cur: cursor, grace: int) -> list[tuple[int, str, str, int]]:
    """Store the garbage links in ``gc_links``; return (repository id, repository, digest,
    size)."""
    cur.execute(
        f"CREATE TEMP TABLE {PLANNED_LINKS} ON COMMIT DROP AS"
        " SELECT rb.repository_id, r.name AS repository, rb.digest, b.size"
        " FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id"
        " JOIN blobs b ON b.digest = rb.digest"
        f" WHERE {link_is_garbage(planned=True)}",
        {"grace": grace})
    cur.execute(f"ANALYZE {PLANNED_LINKS}")
    cur.execute(f"SELECT repository_id, repository, digest, size FROM {PLANNED_LINKS}"
                " ORDER BY digest, repository_id")
    return [(r[0], r[1], r[2], r[3]) for r in cur.fetchall()]


def garbage_blobs(cur: cursor, grace: int) -> list[tuple[str, int]]:
    """(digest, size) of the garbage blobs."""
    cur.execute(f"SELECT b.digest, b.size FROM blobs b WHERE {blob_is_garbage(planned=True)}"
                " ORDER BY b.digest", {"grace": grace})
    return [(r[0], r[1]) for r in cur.fetchall()]


def abandoned_uploads(cur: cursor, max_age: int) -> list[tuple[str, str, str | None, int]]:
    """(id, repository, storage upload id, bytes received) of the abandoned uploads."""
    cur.execute(
        "SELECT u.id::text, u.repository, u.storage_upload_id, u.byte_offset FROM uploads u"
        f" WHERE {UPLOAD_ABANDONED} ORDER BY u.updated_at",
        {"max_age": max_age})
    return [(r[0], r[1], r[2], r[3]) for r in cur.fetchall()]


def empty_repositories(cur: cursor, grace: int, max_age: int) -> list[tuple[int, str]]:
    """(id, name) of the repositories empty once the plan's garbage is gone."""
    params: dict[str, Any] = {"grace": grace, "max_age": max_age}
    cur.execute(
        "SELECT r.id, r.name FROM repositories r"
        f" WHERE {REPOSITORY_OLD} AND {repository_is_empty(planned=True)}"
        " ORDER BY r.name", params)
    return [(r[0], r[1]) for r in cur.fetchall()]
