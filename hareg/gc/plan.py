# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The mark phase: what a sweep would delete, computed from one consistent snapshot.

Retention first picks the tags its rules delete. Then, as if those tags were gone, every
manifest reachable from a root is kept: roots are tagged manifests, manifests younger than the
grace period and the source manifests of active promotions; edges go from an index to its
children and (``keep_referrers``) from a manifest to its referrers in the same repository.
Whatever else is left is garbage, and with it the repository links, blobs and repositories
nothing kept uses. The plan only proposes: each deletion is re-checked against the live
database under its lock (hareg.gc.sweep), so a plan that went stale while the sweep ran can
only make the sweep skip things, never delete something in use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from psycopg2.extensions import cursor
from psycopg2.extras import execute_values

from ..config import GcConfig, RetentionRule
from ..registry.formats import INDEX_TYPES
from ..registry.rules import rule_for
from . import policy
from .connection import GcConnection

#: SQL condition: promotion ``p`` is active (its target repository still has the manifest).
ACTIVE_PROMOTION = (
    "EXISTS (SELECT 1 FROM repositories tr JOIN manifests tm ON tm.repository_id = tr.id"
    " WHERE tr.name = p.target_repository AND tm.digest = p.digest)"
)


@dataclass(frozen=True)
class TagItem:
    repository_id: int
    repository: str
    tag: str
    manifest_id: int
    digest: str
    updated_at: datetime
    reason: str


@dataclass(frozen=True)
class ManifestItem:
    id: int
    repository_id: int
    repository: str
    digest: str
    size: int
    is_index: bool
    subject: str | None


@dataclass(frozen=True)
class LinkItem:
    repository_id: int
    repository: str
    digest: str
    size: int


@dataclass(frozen=True)
class BlobItem:
    digest: str
    size: int


@dataclass(frozen=True)
class UploadItem:
    id: str
    repository: str
    storage_upload_id: str | None
    size: int


@dataclass(frozen=True)
class RepositoryItem:
    id: int
    name: str


@dataclass
class Plan:
    now: datetime
    tags: list[TagItem] = field(default_factory=list)
    manifests: list[ManifestItem] = field(default_factory=list)
    links: list[LinkItem] = field(default_factory=list)
    blobs: list[BlobItem] = field(default_factory=list)
    uploads: list[UploadItem] = field(default_factory=list)
    repositories: list[RepositoryItem] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(b.size for b in self.blobs)


def make_plan(conn: GcConnection, gc: GcConfig, rules: Sequence[RetentionRule]) -> Plan:
    """Compute the plan in one REPEATABLE READ snapshot (reads block no writer)."""
    grace = gc.grace_seconds
    with conn.transaction("REPEATABLE READ") as cur:
        cur.execute("SELECT now()")
        plan = Plan(now=cur.fetchone()[0])
        plan.tags = _retention(cur, rules, plan.now)
        cur.execute("CREATE TEMP TABLE gc_doomed_tags (repository_id bigint, name text)"
                    " ON COMMIT DROP")
        execute_values(cur, "INSERT INTO gc_doomed_tags VALUES %s",
                       [(t.repository_id, t.tag) for t in plan.tags])
        _mark(cur, grace, gc.keep_referrers, gc.delete_untagged)
        plan.manifests = _garbage_manifests(cur)
        plan.links = _garbage_links(cur, grace)
        plan.blobs = _garbage_blobs(cur, grace)
        plan.uploads = _abandoned_uploads(cur, gc.upload_max_age_seconds)
        plan.repositories = _empty_repositories(cur, grace, gc.upload_max_age_seconds)
    return plan


def active_promotions(cur: cursor) -> set[tuple[str, str, str]]:
    """(source repository, source tag, digest) of every active promotion."""
    cur.execute(
        f"SELECT p.source_repository, p.source_tag, p.digest FROM promotions p"
        f" WHERE {ACTIVE_PROMOTION}")
    return {tuple(r) for r in cur.fetchall()}


def _retention(cur: cursor, rules: Sequence[RetentionRule], now: datetime) -> list[TagItem]:
    if not rules:
        return []
    cur.execute("SELECT id, name FROM repositories")
    governed = {rid: (name, rule) for rid, name in cur.fetchall()
                if (rule := rule_for(rules, name)) is not None}
    if not governed:
        return []
    promoted = active_promotions(cur)
    cur.execute(
        "SELECT t.repository_id, t.name, t.manifest_id, m.digest, t.updated_at"
        " FROM tags t JOIN manifests m ON m.id = t.manifest_id"
        " WHERE t.repository_id = ANY(%s)", (list(governed),))
    by_repo: dict[int, list[policy.TagState]] = defaultdict(list)
    for rid, name, manifest_id, digest, updated_at in cur.fetchall():
        by_repo[rid].append(policy.TagState(name, manifest_id, digest, updated_at))
    out = []
    for rid, tags in sorted(by_repo.items()):
        repo, rule = governed[rid]
        protected = {(tag, digest) for r, tag, digest in promoted if r == repo}
        for verdict in policy.expired_tags(rule, tags, now, protected):
            t = verdict.tag
            out.append(TagItem(rid, repo, t.name, t.manifest_id, t.digest, t.updated_at,
                               verdict.reason))
    return out


def _mark(cur: cursor, grace: int, keep_referrers: bool, delete_untagged: bool) -> None:
    referrer_edges = (
        " UNION ALL SELECT s.id, r.id FROM manifests r JOIN manifests s"
        " ON s.repository_id = r.repository_id AND s.digest = r.subject"
        " WHERE r.subject IS NOT NULL" if keep_referrers else "")
    cur.execute(
        "CREATE TEMP TABLE gc_kept ON COMMIT DROP AS"
        " WITH RECURSIVE edges(src, dst) AS MATERIALIZED ("
        "   SELECT parent_id, child_id FROM manifest_children WHERE child_id IS NOT NULL"
        f"  {referrer_edges}"
        " ), roots(id) AS ("
        "   SELECT id FROM manifests"
        "   WHERE created_at > now() - %(grace)s * interval '1 second' OR NOT %(untagged)s"
        "   UNION SELECT t.manifest_id FROM tags t WHERE NOT EXISTS ("
        "     SELECT 1 FROM gc_doomed_tags d"
        "     WHERE d.repository_id = t.repository_id AND d.name = t.name)"
        "   UNION SELECT m.id FROM promotions p"
        "   JOIN repositories r ON r.name = p.source_repository"
        "   JOIN manifests m ON m.repository_id = r.id AND m.digest = p.digest"
        f"  WHERE {ACTIVE_PROMOTION}"
        " ), kept(id) AS ("
        "   SELECT id FROM roots"
        "   UNION SELECT e.dst FROM edges e JOIN kept k ON e.src = k.id"
        " ) SELECT id FROM kept",
        {"grace": grace, "untagged": delete_untagged},
    )
    cur.execute("ANALYZE gc_kept")


def _garbage_manifests(cur: cursor) -> list[ManifestItem]:
    cur.execute(
        "CREATE TEMP TABLE gc_manifests ON COMMIT DROP AS"
        " SELECT m.id, m.repository_id, r.name AS repository, m.digest,"
        " octet_length(m.payload) AS size, m.media_type, m.subject"
        " FROM manifests m JOIN repositories r ON r.id = m.repository_id"
        " WHERE NOT EXISTS (SELECT 1 FROM gc_kept k WHERE k.id = m.id)")
    cur.execute("ANALYZE gc_manifests")
    # Parents before children, subjects before referrers: most go in the first pass.
    cur.execute(
        "SELECT id, repository_id, repository, digest, size, media_type, subject"
        " FROM gc_manifests ORDER BY (media_type = ANY(%s)) DESC, (subject IS NOT NULL), id",
        (sorted(INDEX_TYPES),))
    return [ManifestItem(mid, rid, repo, digest, size, media_type in INDEX_TYPES, subject)
            for mid, rid, repo, digest, size, media_type, subject
            in cur.fetchall()]


def _garbage_links(cur: cursor, grace: int) -> list[LinkItem]:
    cur.execute(
        "CREATE TEMP TABLE gc_links ON COMMIT DROP AS"
        " SELECT rb.repository_id, r.name AS repository, rb.digest, b.size"
        " FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id"
        " JOIN blobs b ON b.digest = rb.digest"
        " WHERE rb.created_at < now() - %s * interval '1 second'"
        " AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id"
        "   WHERE mb.digest = rb.digest AND m.repository_id = rb.repository_id"
        "   AND NOT EXISTS (SELECT 1 FROM gc_manifests g WHERE g.id = m.id))",
        (grace,))
    cur.execute("ANALYZE gc_links")
    cur.execute("SELECT repository_id, repository, digest, size FROM gc_links"
                " ORDER BY digest, repository_id")
    return [LinkItem(*row) for row in cur.fetchall()]


def _garbage_blobs(cur: cursor, grace: int) -> list[BlobItem]:
    cur.execute(
        "SELECT b.digest, b.size FROM blobs b"
        " WHERE b.created_at < now() - %s * interval '1 second'"
        " AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest"
        "   AND NOT EXISTS (SELECT 1 FROM gc_links l"
        "     WHERE l.repository_id = rb.repository_id AND l.digest = rb.digest))"
        " AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest"
        "   AND NOT EXISTS (SELECT 1 FROM gc_manifests g WHERE g.id = mb.manifest_id))"
        " AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest"
        "   AND NOT EXISTS (SELECT 1 FROM gc_manifests g WHERE g.id = m.id))"
        " ORDER BY b.digest",
        (grace,))
    return [BlobItem(*row) for row in cur.fetchall()]


def _abandoned_uploads(cur: cursor, max_age: int) -> list[UploadItem]:
    cur.execute(
        "SELECT id::text, repository, storage_upload_id, byte_offset FROM uploads"
        " WHERE updated_at < now() - %s * interval '1 second' ORDER BY updated_at",
        (max_age,))
    return [UploadItem(*row) for row in cur.fetchall()]


def _empty_repositories(cur: cursor, grace: int, max_age: int) -> list[RepositoryItem]:
    cur.execute(
        "SELECT r.id, r.name FROM repositories r"
        " WHERE r.created_at < now() - %s * interval '1 second'"
        " AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id"
        "   AND NOT EXISTS (SELECT 1 FROM gc_manifests g WHERE g.id = m.id))"
        " AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = r.id"
        "   AND NOT EXISTS (SELECT 1 FROM gc_links l"
        "     WHERE l.repository_id = rb.repository_id AND l.digest = rb.digest))"
        " AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.repository = r.name"
        "   AND u.updated_at >= now() - %s * interval '1 second')"
        " ORDER BY r.name",
        (grace, max_age))
    return [RepositoryItem(*row) for row in cur.fetchall()]
