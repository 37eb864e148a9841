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

What garbage is, is defined once in hareg.db.garbage; the queries are in hareg.db.gc_mark.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from psycopg2.extensions import cursor

from ..config import GcConfig, RetentionRule
from ..db import gc_mark
from ..db.garbage import active_promotions
from ..db.session import Session
from ..db.session import now as db_now
from ..registry.formats import INDEX_TYPES
from ..registry.rules import rule_for
from . import policy


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


def make_plan(conn: Session, gc: GcConfig, rules: Sequence[RetentionRule]) -> Plan:
    """Compute the plan in one REPEATABLE READ snapshot (reads block no writer)."""
    grace = gc.grace_seconds
    with conn.transaction("REPEATABLE READ") as cur:
        plan = Plan(now=db_now(cur))
        plan.tags = _retention(cur, rules, plan.now)
        gc_mark.doom_tags(cur, [(t.repository_id, t.tag) for t in plan.tags])
        gc_mark.mark(cur, grace, gc.keep_referrers, gc.delete_untagged)
        plan.manifests = [
            ManifestItem(mid, rid, repo, digest, size, media_type in INDEX_TYPES, subject)
            for mid, rid, repo, digest, size, media_type, subject
            in gc_mark.garbage_manifests(cur, sorted(INDEX_TYPES))]
        plan.links = [LinkItem(*row) for row in gc_mark.garbage_links(cur, grace)]
        plan.blobs = [BlobItem(*row) for row in gc_mark.garbage_blobs(cur, grace)]
        plan.uploads = [UploadItem(*row)
                        for row in gc_mark.abandoned_uploads(cur, gc.upload_max_age_seconds)]
        plan.repositories = [RepositoryItem(*row) for row in gc_mark.empty_repositories(
            cur, grace, gc.upload_max_age_seconds)]
    return plan


def _retention(cur: cursor, rules: Sequence[RetentionRule], now: datetime) -> list[TagItem]:
    if not rules:
        return []
    governed = {rid: (name, rule) for rid, name in gc_mark.repositories(cur)
                if (rule := rule_for(rules, name)) is not None}
    if not governed:
        return []
    promoted = active_promotions(cur)
    by_repo: dict[int, list[policy.TagState]] = defaultdict(list)
    for rid, name, manifest_id, digest, updated_at, pulled_on in gc_mark.tags_of(
            cur, list(governed)):
        by_repo[rid].append(policy.TagState(name, manifest_id, digest, updated_at, pulled_on))
    out = []
    for rid, tags in sorted(by_repo.items()):
        repo, rule = governed[rid]
        protected = {(tag, digest) for r, tag, digest in promoted if r == repo}
        for verdict in policy.expired_tags(rule, tags, now, protected):
            t = verdict.tag
            out.append(TagItem(rid, repo, t.name, t.manifest_id, t.digest, t.updated_at,
                               verdict.reason))
    return out
