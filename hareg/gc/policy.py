# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Retention policies: which tags a rule deletes, pure functions over a rule and tag lists.

Immutable tags are the registry's (hareg.registry.rules); the rules are the same config.

The first ``[[retention]]`` entry whose ``repository`` glob matches a repository name applies
to it. Globs are those of ``[[auth.rules]]`` (hareg.auth.globs): ``*`` stays within one path
component, ``**`` crosses ``/``. Tag patterns are regular expressions that must match the
WHOLE tag (``v.*`` matches ``v1.2``; ``v`` does not).

For the repository's tags, newest push first (``tags.updated_at``), a tag is kept when it:

1. matches ``protect``, or was promoted from here and still points at the promoted manifest;
2. matches ``keep_tags``;
3. is among the ``keep_last`` most recently pushed tags of the repository;

otherwise it is deleted when it is older than ``expire_after`` or, without ``expire_after``,
when ``keep_last`` is set. A rule with neither ``keep_last`` nor ``expire_after`` deletes
nothing (it may still declare ``immutable_tags``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import RetentionRule
from ..durations import parse_duration
from ..registry.rules import tag_matches


@dataclass(frozen=True)
class TagState:
    """A tag as retention sees it."""

    name: str
    manifest_id: int
    digest: str
    updated_at: datetime


@dataclass(frozen=True)
class Verdict:
    tag: TagState
    reason: str


def expired_tags(rule: RetentionRule, tags: Sequence[TagState], now: datetime,
                 promoted: Collection[tuple[str, str]] = ()) -> list[Verdict]:
    """The tags ``rule`` deletes from one repository. ``promoted`` holds (tag, digest) pairs
    of active promotions whose source is this repository."""
    if rule.keep_last is None and not rule.expire_after:
        return []
    max_age = timedelta(seconds=parse_duration(rule.expire_after)) if rule.expire_after else None
    newest_first = sorted(tags, key=lambda t: (t.updated_at, t.name), reverse=True)
    recent = set()
    if rule.keep_last is not None:
        recent = {t.name for t in newest_first[: rule.keep_last]}
    out = []
    for tag in newest_first:
        if (tag_matches(rule.protect, tag.name) or (tag.name, tag.digest) in promoted
                or tag_matches(rule.keep_tags, tag.name) or tag.name in recent):
            continue
        if max_age is not None:
            if now - tag.updated_at > max_age:
                out.append(Verdict(tag, f"older than {rule.expire_after}"))
        else:
            out.append(Verdict(tag, f"beyond keep_last={rule.keep_last}"))
    return out


def still_expired(rule: RetentionRule | None, tag: TagState, now: datetime) -> bool:
    """Re-check of one tag under its lock: the parts of the verdict that depend on the tag
    alone (its name and age). ``keep_last`` was judged on the plan's snapshot."""
    if rule is None or tag_matches(rule.protect, tag.name) or tag_matches(rule.keep_tags, tag.name):
        return False
    if rule.expire_after:
        return now - tag.updated_at > timedelta(seconds=parse_duration(rule.expire_after))
    return rule.keep_last is not None


@dataclass(frozen=True)
class Fate:
    """What retention does to one tag, and why (the web interface shows it)."""

    kept: bool
    reason: str
    until: datetime | None = None  # kept until then (expire_after), when that is the reason


def tag_fate(rule: RetentionRule | None, name: str, updated_at: datetime, now: datetime, *,
             recent: bool, promoted: bool) -> Fate:
    """The verdict :func:`expired_tags` reaches for one tag, explained. ``recent``: the tag is
    among the rule's ``keep_last`` most recently pushed tags of its repository; ``promoted``:
    an active promotion has it as its source."""
    if rule is None:
        return Fate(True, "no retention rule")
    if rule.keep_last is None and not rule.expire_after:
        return Fate(True, f"rule {rule.repository} removes nothing")
    if tag_matches(rule.protect, name):
        return Fate(True, f"protected (protect = {rule.protect})")
    if promoted:
        return Fate(True, "promoted from here")
    if tag_matches(rule.keep_tags, name):
        return Fate(True, f"kept (keep_tags = {rule.keep_tags})")
    if recent:
        return Fate(True, f"among the {rule.keep_last} newest (keep_last)")
    if rule.expire_after:
        until = updated_at + timedelta(seconds=parse_duration(rule.expire_after))
        if now - updated_at > until - updated_at:
            return Fate(False, f"older than {rule.expire_after}")
        return Fate(True, f"until older than {rule.expire_after}", until)
    return Fate(False, f"beyond keep_last={rule.keep_last}")
