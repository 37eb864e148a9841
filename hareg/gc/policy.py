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

otherwise it is deleted when it is older than ``expire_after``, or when it was not pulled for
``not_pulled_for`` (either suffices), or, with neither of the two, when ``keep_last`` is set. A
rule with none of ``keep_last``, ``expire_after`` and ``not_pulled_for`` deletes nothing (it may
still declare ``immutable_tags``).

"Not pulled for": the manifest the tag names, or one of its children (a client pulls an index's
platform manifest by digest), was last pulled more than that ago, judged from
``manifests.pulled_on`` (a UTC day, written by hareg.remote.pull.record_pulled when a manifest
is pulled through a remote name, or through a virtual name from a remote member's cache). A day
counts to its end, so a pull is never taken as older than it is. A tag pushed or moved after
the last pull counts from its push (``tags.updated_at``), and so does one never pulled
(``pulled_on`` NULL): a rule never deletes a tag for not being pulled since before it existed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

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
    pulled_on: date | None  # last pull of the manifest or a child (UTC day); None: never


def last_used(updated_at: datetime, pulled_on: date | None) -> datetime:
    """When a tag was last pushed or (its manifest) pulled: the later of its push and the end
    of the UTC day of its last pull."""
    if pulled_on is None:
        return updated_at
    return max(updated_at, datetime.combine(pulled_on + timedelta(days=1), time.min, UTC))


def _seconds(duration: str) -> timedelta | None:
    return timedelta(seconds=parse_duration(duration)) if duration else None


def _why_removed(rule: RetentionRule, updated_at: datetime, pulled_on: date | None,
                 now: datetime) -> str | None:
    """Why a tag that nothing keeps goes (None: it stays): ``expire_after``, then
    ``not_pulled_for``, then ``keep_last`` alone."""
    max_age, idle = _seconds(rule.expire_after), _seconds(rule.not_pulled_for)
    if max_age is not None and now - updated_at > max_age:
        return f"older than {rule.expire_after}"
    if idle is not None and now - last_used(updated_at, pulled_on) > idle:
        since = f"last pulled {pulled_on.isoformat()}" if pulled_on else "never pulled"
        return f"not pulled for {rule.not_pulled_for} ({since})"
    if max_age is None and idle is None and rule.keep_last is not None:
        return f"beyond keep_last={rule.keep_last}"
    return None


def removes_nothing(rule: RetentionRule) -> bool:
    """The rule has none of ``keep_last``, ``expire_after`` and ``not_pulled_for``."""
    return rule.keep_last is None and not rule.expire_after and not rule.not_pulled_for


@dataclass(frozen=True)
class Verdict:
    tag: TagState
    reason: str


def expired_tags(rule: RetentionRule, tags: Sequence[TagState], now: datetime,
                 promoted: Collection[tuple[str, str]] = ()) -> list[Verdict]:
    """The tags ``rule`` deletes from one repository. ``promoted`` holds (tag, digest) pairs
    of active promotions whose source is this repository."""
    if removes_nothing(rule):
        return []
    newest_first = sorted(tags, key=lambda t: (t.updated_at, t.name), reverse=True)
    recent = set()
    if rule.keep_last is not None:
        recent = {t.name for t in newest_first[: rule.keep_last]}
    out = []
    for tag in newest_first:
        if (tag_matches(rule.protect, tag.name) or (tag.name, tag.digest) in promoted
                or tag_matches(rule.keep_tags, tag.name) or tag.name in recent):
            continue
        reason = _why_removed(rule, tag.updated_at, tag.pulled_on, now)
        if reason is not None:
            out.append(Verdict(tag, reason))
    return out


def still_expired(rule: RetentionRule | None, tag: TagState, now: datetime) -> bool:
    """Re-check of one tag under its lock: the parts of the verdict that depend on the tag
    alone (its name, age and last pull, read live). ``keep_last`` was judged on the plan's
    snapshot."""
    if rule is None or tag_matches(rule.protect, tag.name) or tag_matches(rule.keep_tags, tag.name):
        return False
    return _why_removed(rule, tag.updated_at, tag.pulled_on, now) is not None


@dataclass(frozen=True)
class Fate:
    """What retention does to one tag, and why (the web interface shows it)."""

    kept: bool
    reason: str
    until: datetime | None = None  # kept until then (expire_after, not_pulled_for)


def tag_fate(rule: RetentionRule | None, name: str, updated_at: datetime, now: datetime, *,
             recent: bool, promoted: bool, pulled_on: date | None) -> Fate:
    """The verdict :func:`expired_tags` reaches for one tag, explained. ``recent``: the tag is
    among the rule's ``keep_last`` most recently pushed tags of its repository; ``promoted``:
    an active promotion has it as its source; ``pulled_on``: as :attr:`TagState.pulled_on`."""
    if rule is None:
        return Fate(True, "no retention rule")
    if removes_nothing(rule):
        return Fate(True, f"rule {rule.repository} removes nothing")
    if tag_matches(rule.protect, name):
        return Fate(True, f"protected (protect = {rule.protect})")
    if promoted:
        return Fate(True, "promoted from here")
    if tag_matches(rule.keep_tags, name):
        return Fate(True, f"kept (keep_tags = {rule.keep_tags})")
    if recent:
        return Fate(True, f"among the {rule.keep_last} newest (keep_last)")
    reason = _why_removed(rule, updated_at, pulled_on, now)
    if reason is not None:
        return Fate(False, reason)
    deadlines = []  # (until, reason): the first one reached removes the tag
    if (max_age := _seconds(rule.expire_after)) is not None:
        deadlines.append((updated_at + max_age, f"until older than {rule.expire_after}"))
    if (idle := _seconds(rule.not_pulled_for)) is not None:
        since = f"last pulled {pulled_on.isoformat()}" if pulled_on else "never pulled"
        deadlines.append((last_used(updated_at, pulled_on) + idle,
                          f"until not pulled for {rule.not_pulled_for} ({since})"))
    until, why = min(deadlines)
    return Fate(True, why, until)
