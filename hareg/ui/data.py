# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The data of each page, read through hareg.db's query functions and hareg.registry (no
Flask here): the views only parse the request and render what these return.

Each function borrows one pooled connection for a few statements and returns plain values
(invariant 7 of docs/architecture.rst: nothing is held while the page renders). What the
viewer may pull is a parameter (a :class:`RepositoryFilter`), never ambient state.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..config import Config
from ..db import browse, gc_runs, repositories
from ..db.garbage import active_promotions
from ..db.session import now as db_now
from ..gc import policy
from ..registry.context import Registry
from ..registry.listing import list_referrers
from ..registry.namespaces import Kind
from ..registry.rules import is_immutable, rule_for
from ..registry.visibility import RepositoryFilter
from . import present


@dataclass(frozen=True)
class RepositoryItem:
    name: str
    kind: str
    tags: int
    size: int
    last_push: datetime | None
    tags_capped: bool = False  # more than browse.COUNT_CAP tags: "1000+"
    size_capped: bool = False  # more than browse.COUNT_CAP blobs: "at least"


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_marker: str | None  # ``after`` (or ``before``) of the next page; None: last page


def _namespace_kind(reg: Registry, name: str) -> str:
    try:
        return str(reg.namespaces.current().kind(name.split("/", 1)[0]))
    except Exception:  # noqa: BLE001 - a broken namespace table must not take the list down
        return str(Kind.LOCAL)


def repository_list(reg: Registry, visible: RepositoryFilter, *, contains: str, after: str,
                    limit: int) -> Page:
    if visible.regexes == ():
        return Page([], None)
    with reg.db.read() as cur:
        rows = browse.repository_page(cur, after=after, limit=limit + 1, contains=contains,
                                      matching=visible.regexes)
    cap = browse.COUNT_CAP
    items = [RepositoryItem(r.name, _namespace_kind(reg, r.name), min(r.tags, cap), r.size,
                            r.last_push, r.tags > cap, r.links > cap)
             for r in rows[:limit]]
    return Page(items, items[-1].name if len(rows) > limit else None)


@dataclass(frozen=True)
class TagItem:
    name: str
    digest: str
    media_type: str
    artifact_type: str | None
    size: int
    platforms: list[str]
    pushed_at: datetime
    immutable: bool
    fate: policy.Fate


@dataclass(frozen=True)
class RepositoryView:
    name: str
    kind: str
    rule: Any  # RetentionRule | None
    tags: Page
    now: datetime


def _index_sizes(rows: list[browse.ChildRow]) -> dict[int, int]:
    """parent id -> bytes of the distinct blobs its present image children reference."""
    seen: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        doc = present.load(row.payload)
        config = doc.get("config")
        for desc in [config, *(doc.get("layers") or [])]:
            if isinstance(desc, dict) and isinstance(desc.get("digest"), str):
                size = desc.get("size")
                seen[row.parent_id][desc["digest"]] = size if isinstance(size, int) else 0
    return {parent: sum(blobs.values()) for parent, blobs in seen.items()}


def repository_view(reg: Registry, name: str, *, after: str, prefix: str,
                    limit: int) -> RepositoryView | None:
    """One page of a repository's tags with what retention does to each; None when the
    repository does not exist."""
    rule = rule_for(reg.retention, name)
    with reg.db.read() as cur:
        repo_id = repositories.repository_id(cur, name)
        if repo_id is None:
            return None
        now = db_now(cur)
        rows = browse.tag_page(cur, repo_id, after=after, limit=limit + 1, prefix=prefix)
        page = rows[:limit]
        index_ids = [r.manifest_id for r in page if present.is_index(r.media_type)]
        children = browse.children_of(cur, index_ids)
        recent: set[str] = set()
        promoted: set[tuple[str, str]] = set()
        if rule is not None and not policy.removes_nothing(rule):
            if rule.keep_last is not None:
                recent = set(browse.newest_tags(cur, repo_id, rule.keep_last))
            promoted = {(tag, digest) for _, tag, digest in active_promotions(cur, [name])}
    index_sizes = _index_sizes(children)
    items = []
    for r in page:
        doc = present.load(r.payload)
        index = present.is_index(r.media_type)
        items.append(TagItem(
            name=r.name, digest=r.digest, media_type=r.media_type,
            artifact_type=r.artifact_type,
            size=index_sizes.get(r.manifest_id, 0) if index else present.image_size(doc),
            platforms=present.platforms(doc) if index else [],
            pushed_at=r.pushed_at,
            immutable=is_immutable(reg.retention, name, r.name),
            fate=policy.tag_fate(rule, r.name, r.pushed_at, now, recent=r.name in recent,
                                 promoted=(r.name, r.digest) in promoted,
                                 pulled_on=r.pulled_on)))
    return RepositoryView(name, _namespace_kind(reg, name), rule,
                          Page(items, items[-1].name if len(rows) > limit else None), now)


@dataclass(frozen=True)
class ManifestPage:
    repository: str
    digest: str
    media_type: str
    created_at: datetime
    size: int
    view: present.ManifestView
    tags: list[str]
    referrers: list[tuple[str, list[tuple[str, list[Any]]]]]
    referrer_count: int
    promotions: list[dict[str, Any]] = field(default_factory=list)
    child_sizes: dict[str, int] = field(default_factory=dict)  # child digest -> image size


MAX_TAGS_SHOWN = 100
MAX_PROMOTIONS_SHOWN = 20


def manifest_page(reg: Registry, repository: str, digest: str) -> ManifestPage | None:
    with reg.db.read() as cur:
        detail = browse.manifest_detail(cur, repository, digest)
        if detail is None:
            return None
        repo_id = repositories.repository_id(cur, repository)
        wanted = [c.digest for c in present.manifest_view(detail.payload,
                                                          detail.media_type).children]
        have = browse.present_manifests(cur, repo_id, wanted) if repo_id and wanted else set()
        tags = browse.tags_of_manifest(cur, detail.id, MAX_TAGS_SHOWN)
        promotions = browse.promotions_of(cur, repository, digest, MAX_PROMOTIONS_SHOWN)
        children = browse.children_of(cur, [detail.id]) if wanted else []
    referrers = list_referrers(reg, repository, digest, None)
    view = present.manifest_view(detail.payload, detail.media_type, have)
    child_sizes = {c.digest: present.image_size(present.load(c.payload)) for c in children
                   if c.payload is not None}
    if children:
        view = dataclasses.replace(view, total_size=_index_sizes(children).get(detail.id, 0))
    return ManifestPage(repository, detail.digest, detail.media_type, detail.created_at,
                        len(detail.payload), view, tags, present.group_referrers(referrers),
                        len(referrers), promotions, child_sizes)


@dataclass(frozen=True)
class Schedule:
    every: str               # "" when no in-server schedule
    last_sweep: datetime | None
    next_due: datetime | None


def gc_history(reg: Registry, config: Config, *, before: int | None, limit: int
               ) -> tuple[Page, Schedule]:
    with reg.db.read() as cur:
        runs = gc_runs.history_page(cur, before, limit + 1)
        last = gc_runs.last_completed_start(cur)
    items = []
    for run in runs[:limit]:
        finished = run["finished_at"]
        run["duration_s"] = ((finished - run["started_at"]).total_seconds()
                             if finished is not None else None)
        items.append(run)
    interval = config.gc.schedule_seconds
    next_due = None
    if interval and last is not None:
        next_due = last + timedelta(seconds=interval)
    marker = str(items[-1]["id"]) if len(runs) > limit else None
    return Page(items, marker), Schedule(config.gc.schedule.strip(), last, next_due)


@dataclass(frozen=True)
class PreviewItem:
    tag: str
    digest: str
    pushed_at: datetime
    removed: bool
    reason: str


@dataclass(frozen=True)
class Preview:
    repository: str
    rule: Any
    now: datetime
    items: list[PreviewItem]

    @property
    def removed(self) -> list[PreviewItem]:
        return [i for i in self.items if i.removed]


def gc_preview(reg: Registry, repository: str) -> Preview | None:
    """What retention would remove from one repository if a sweep ran now, and why: the
    planner's own policy (hareg.gc.policy.expired_tags) over the repository's tags."""
    rule = rule_for(reg.retention, repository)
    with reg.db.read() as cur:
        repo_id = repositories.repository_id(cur, repository)
        if repo_id is None:
            return None
        now = db_now(cur)
        rows = browse.all_tags(cur, repo_id)
        promoted = {(tag, digest) for _, tag, digest in active_promotions(cur, [repository])}
    states = [policy.TagState(*row) for row in rows]
    doomed = {}
    if rule is not None:
        doomed = {v.tag.name: v.reason for v in policy.expired_tags(rule, states, now, promoted)}
    recent: set[str] = set()
    if rule is not None and rule.keep_last is not None:
        newest = sorted(states, key=lambda t: (t.updated_at, t.name), reverse=True)
        recent = {t.name for t in newest[:rule.keep_last]}
    items = []
    for t in sorted(states, key=lambda t: (t.updated_at, t.name), reverse=True):
        if t.name in doomed:
            items.append(PreviewItem(t.name, t.digest, t.updated_at, True, doomed[t.name]))
        else:
            fate = policy.tag_fate(rule, t.name, t.updated_at, now, recent=t.name in recent,
                                   promoted=(t.name, t.digest) in promoted,
                                   pulled_on=t.pulled_on)
            items.append(PreviewItem(t.name, t.digest, t.updated_at, False, fate.reason))
    return Preview(repository, rule, now, items)


def promotion_list(reg: Registry, visible: RepositoryFilter, *, before: int | None,
                   limit: int) -> Page:
    if visible.regexes == ():
        return Page([], None)
    with reg.db.read() as cur:
        rows = browse.promotion_page(cur, before=before, limit=limit + 1,
                                     matching=visible.regexes)
    items = rows[:limit]
    return Page(items, str(items[-1]["id"]) if len(rows) > limit else None)
