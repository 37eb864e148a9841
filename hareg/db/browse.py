# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What the web interface lists (hareg.ui): keyset pages over repositories, tags, promotions
and sweeps, and the few lookups its pages need.

Every page is an index range scan after a marker (``after``: the last name of the previous
page, in byte order, or the last id for newest-first lists) with ``LIMIT``: never ``OFFSET``,
so the thousandth page costs what the first does. Per-row figures (tag count, size, last
push) are scalar subqueries evaluated for the rows of the page only.

``matching`` is a pull filter's anchored regexes (hareg.registry.visibility): None means every
repository; callers never pass an empty tuple (they answer "nothing" without a query).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from psycopg2.extensions import cursor

from .remote_cache import last_pulled

#: A page of repositories counts at most this many tags, and sums at most this many blob
#: links, per repository: one huge repository must not make the list slow. Beyond, the page
#: says "at least".
COUNT_CAP = 1000


class RepositorySummary(NamedTuple):
    name: str
    tags: int                      # at most COUNT_CAP + 1 (more: "COUNT_CAP+")
    size: int                      # bytes of the (first COUNT_CAP + 1) blobs it links
    links: int                     # blob links counted, at most COUNT_CAP + 1
    last_push: datetime | None     # newest tag push, else newest manifest


class TagRow(NamedTuple):
    name: str
    manifest_id: int
    digest: str
    media_type: str
    artifact_type: str | None
    manifest_size: int             # bytes of the manifest itself
    pushed_at: datetime
    payload: bytes
    pulled_on: date | None         # last pulled (hareg.db.remote_cache.last_pulled)


class ChildRow(NamedTuple):
    parent_id: int
    digest: str
    media_type: str | None         # None: absent from the repository (a sparse index)
    payload: bytes | None


class ManifestDetail(NamedTuple):
    id: int
    digest: str
    media_type: str
    artifact_type: str | None
    subject: str | None
    created_at: datetime
    payload: bytes


def _only(column: str, matching: Sequence[str] | None) -> tuple[str, list[Any]]:
    if matching is None:
        return "", []
    return f" AND {column} ~ ANY(%s)", [list(matching)]


def repository_page(cur: cursor, *, after: str, limit: int, contains: str = "",
                    matching: Sequence[str] | None = None) -> list[RepositorySummary]:
    """Repositories holding a manifest or a blob link, in byte order after ``after``;
    ``contains``: only names with that substring.

    The page is chosen first (an index range scan; the "holds something" test is two
    scalar subqueries, not EXISTS, which PostgreSQL would turn into hashed scans of whole
    tables), then its figures are computed for its rows only, each bounded by COUNT_CAP.
    """
    only, only_args = _only("r.name", matching)
    search, search_args = "", []
    if contains and matching is not None:
        # The cheap substring test first and the pull filter's regexes only on the names it
        # keeps: as two conditions, the planner would run the regexes on every row.
        search = " AND CASE WHEN strpos(r.name, %s) > 0 THEN r.name ~ ANY(%s) ELSE false END"
        search_args, only, only_args = [contains, list(matching)], "", []
    elif contains:
        search, search_args = " AND strpos(r.name, %s) > 0", [contains]
    cap = COUNT_CAP + 1
    cur.execute(
        "WITH page AS MATERIALIZED ("
        '  SELECT r.id, r.name FROM repositories r WHERE r.name COLLATE "C" > %s'
        + search + only +
        "  AND coalesce((SELECT 1 FROM manifests m WHERE m.repository_id = r.id LIMIT 1),"
        "               (SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id"
        "                LIMIT 1)) IS NOT NULL"
        '  ORDER BY r.name COLLATE "C" LIMIT %s)'
        " SELECT p.name,"
        " (SELECT count(*) FROM (SELECT 1 FROM tags t WHERE t.repository_id = p.id"
        "  LIMIT %s) c),"
        " s.size, s.links,"
        " coalesce((SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = p.id),"
        "          (SELECT max(m.created_at) FROM manifests m WHERE m.repository_id = p.id))"
        " FROM page p CROSS JOIN LATERAL ("
        "  SELECT coalesce(sum(l.size), 0) AS size, count(*) AS links FROM ("
        "   SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest"
        "   WHERE rb.repository_id = p.id LIMIT %s) l) s"
        ' ORDER BY p.name COLLATE "C"',
        (after, *search_args, *only_args, limit, cap, cap))
    return [RepositorySummary(r[0], r[1], int(r[2]), r[3], r[4]) for r in cur.fetchall()]


def tag_page(cur: cursor, repo_id: int, *, after: str, limit: int,
             prefix: str = "") -> list[TagRow]:
    """A repository's tags with their manifests, in byte order after ``after``;
    ``prefix``: only tags starting with it."""
    search, search_args = ("", []) if not prefix else (" AND starts_with(t.name, %s)",
                                                       [prefix])
    cur.execute(
        "SELECT t.name, m.id, m.digest, m.media_type, m.artifact_type,"
        f" octet_length(m.payload), t.updated_at, m.payload, {last_pulled('m')}"
        " FROM tags t JOIN manifests m ON m.id = t.manifest_id"
        ' WHERE t.repository_id = %s AND t.name COLLATE "C" > %s' + search +
        ' ORDER BY t.name COLLATE "C" LIMIT %s',
        (repo_id, after, *search_args, limit))
    return [TagRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]), r[8])
            for r in cur.fetchall()]


def children_of(cur: cursor, parent_ids: Sequence[int]) -> list[ChildRow]:
    """The entries of the indexes ``parent_ids``, with the child's payload when present."""
    if not parent_ids:
        return []
    cur.execute(
        "SELECT mc.parent_id, mc.child_digest, c.media_type, c.payload"
        " FROM manifest_children mc LEFT JOIN manifests c ON c.id = mc.child_id"
        " WHERE mc.parent_id = ANY(%s) ORDER BY mc.parent_id, mc.child_digest",
        (list(parent_ids),))
    return [ChildRow(r[0], r[1], r[2], bytes(r[3]) if r[3] is not None else None)
            for r in cur.fetchall()]


def newest_tags(cur: cursor, repo_id: int, n: int) -> list[str]:
    """The ``n`` most recently pushed tags of the repository (ties: the greater name first,
    as hareg.gc.policy orders them)."""
    if n <= 0:
        return []
    cur.execute("SELECT name FROM tags WHERE repository_id = %s"
                ' ORDER BY updated_at DESC, name COLLATE "C" DESC LIMIT %s', (repo_id, n))
    return [r[0] for r in cur.fetchall()]


def all_tags(cur: cursor, repo_id: int
             ) -> list[tuple[str, int, str, datetime, date | None]]:
    """(tag, manifest id, digest, pushed at, last pulled) of every tag of the repository (GC
    preview; last pulled: hareg.db.remote_cache.last_pulled)."""
    cur.execute("SELECT t.name, t.manifest_id, m.digest, t.updated_at,"
                f" {last_pulled('m')} FROM tags t"
                " JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = %s",
                (repo_id,))
    return [(r[0], r[1], r[2], r[3], r[4]) for r in cur.fetchall()]


def manifest_detail(cur: cursor, repository: str, digest: str) -> ManifestDetail | None:
    cur.execute(
        "SELECT m.id, m.digest, m.media_type, m.artifact_type, m.subject, m.created_at,"
        " m.payload FROM manifests m JOIN repositories r ON r.id = m.repository_id"
        " WHERE r.name = %s AND m.digest = %s", (repository, digest))
    r = cur.fetchone()
    return ManifestDetail(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) if r else None


def tags_of_manifest(cur: cursor, manifest_id: int, limit: int) -> list[str]:
    """Up to ``limit`` tags naming the manifest, in byte order."""
    cur.execute('SELECT name FROM tags WHERE manifest_id = %s ORDER BY name COLLATE "C"'
                " LIMIT %s", (manifest_id, limit))
    return [r[0] for r in cur.fetchall()]


def present_manifests(cur: cursor, repo_id: int, digests: Sequence[str]) -> set[str]:
    """Those of ``digests`` the repository has as manifests."""
    if not digests:
        return set()
    cur.execute("SELECT digest FROM manifests WHERE repository_id = %s AND digest = ANY(%s)",
                (repo_id, list(digests)))
    return {r[0] for r in cur.fetchall()}


def promotion_page(cur: cursor, *, before: int | None, limit: int,
                   matching: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Promotions newest first (by id, below ``before``), only those whose source and
    target both match ``matching``."""
    only_src, src_args = _only("p.source_repository", matching)
    only_dst, dst_args = _only("p.target_repository", matching)
    cur.execute(
        "SELECT p.id, p.source_repository, p.source_tag, p.target_repository, p.target_tag,"
        " p.digest, p.media_type, p.promoted_by, p.promoted_at FROM promotions p"
        " WHERE p.id < %s" + only_src + only_dst + " ORDER BY p.id DESC LIMIT %s",
        (before if before is not None else 2**63 - 1, *src_args, *dst_args, limit))
    keys = ("id", "source_repository", "source_tag", "target_repository", "target_tag",
            "digest", "media_type", "promoted_by", "promoted_at")
    return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]


def promotions_of(cur: cursor, repository: str, digest: str, limit: int
                  ) -> list[dict[str, Any]]:
    """Promotions of ``digest`` out of or into ``repository``, newest first."""
    cur.execute(
        "SELECT p.id, p.source_repository, p.source_tag, p.target_repository, p.target_tag,"
        " p.promoted_by, p.promoted_at FROM promotions p WHERE p.digest = %s"
        " AND (p.source_repository = %s OR p.target_repository = %s)"
        " ORDER BY p.id DESC LIMIT %s", (digest, repository, repository, limit))
    keys = ("id", "source_repository", "source_tag", "target_repository", "target_tag",
            "promoted_by", "promoted_at")
    return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]
