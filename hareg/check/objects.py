# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Compare the database with the bucket: rows whose object is missing, links that disagree
with the rows, objects no row knows.

Invariant 3 of docs/architecture.rst says no committed row may point at missing data;
dangling objects are allowed (garbage collection removes them). :func:`check_storage`
verifies both sides with one snapshot of the database and one listing of the bucket, never
one request per object, so 10,000 blobs take seconds:

1. read, in one REPEATABLE READ snapshot, every key a row requires: ``blobs`` -> the blob's
   ``data``, ``repository_blobs`` -> the layer link, ``manifests`` -> the revision link,
   ``tags`` -> the tag's ``current/link``;
2. list ``blobs/`` and ``repositories/`` once and cross the keys off;
3. read the content of every listed revision link and tag current link (one small GET each,
   several at a time: hareg.check.links) and compare it with the snapshot;
4. re-check what looks wrong, because pushes and sweeps go on meanwhile: a required key that
   was not listed is missing only if its row still exists and a ``stat`` of the object
   fails; an object no row knew is counted only if still no row knows it; a link that
   disagrees with the rows (hareg.check.links: also a revision, tag or layer link no row
   knows) is reported only if it still does under its writers' lock, and skipped as in
   flight when a writer holds that lock.

Used by ``hareg check`` and by the garbage collector's tests (:func:`find_missing_objects`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..db import check as check_rows
from ..plural import counted
from ..progress import NoProgress, Progress
from ..storage import layout
from ..storage.base import NotFound, ObjectInfo
from .kinds import BLOB, JSON_KINDS, LAYER, REVISION, TAG, UPLOAD, label
from .links import DEFAULT_JOBS, PROBLEMS, Disagreement, Link, confirm, judge, read_links
from .namespaces import NamespaceDifference, compare_namespaces

__all__ = ["BLOB", "JSON_KINDS", "LAYER", "REVISION", "TAG", "UPLOAD", "CheckReport", "Missing",
           "check_storage", "find_missing_objects", "summarize", "to_json"]

_UNKNOWN_EXAMPLES = 20
_BATCH = 1000


@dataclass(frozen=True)
class Missing:
    """A row whose object is not in storage."""

    kind: str
    row: str  # "sha256:...", "repo@sha256:...", "repo:tag"
    key: str


@dataclass
class CheckReport:
    rows: Counter[str] = field(default_factory=Counter)
    objects: int = 0
    missing: list[Missing] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)
    unknown_examples: list[str] = field(default_factory=list)
    links_read: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)  # keys skipped: a write held the lock
    #: Links no row knows, younger than ``pending_age``: a push in flight, or one cut short by
    #: a crash (invariant 3 allows those objects; ``hareg gc --orphans`` removes them).
    pending: list[str] = field(default_factory=list)
    #: Namespace definitions whose bucket object and row differ (hareg.check.namespaces).
    namespaces: list[NamespaceDifference] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.missing and not self.disagreements and not self.namespaces


# ------------------------------------------------------------------- rows -> keys

def _key_of(kind: str, row: tuple[str, ...]) -> str:
    if kind == BLOB:
        return layout.blob_data(row[0])
    if kind == LAYER:
        return layout.layer_link(row[0], row[1])
    if kind == REVISION:
        return layout.revision_link(row[0], row[1])
    if kind == TAG:
        return layout.tag_current_link(row[0], row[1])
    raise ValueError(kind)


#: The rows of each kind, as hareg.db.check names them.
_TABLE = {BLOB: check_rows.BLOBS, LAYER: check_rows.LAYER_LINKS,
          REVISION: check_rows.MANIFESTS, TAG: check_rows.TAGS, UPLOAD: check_rows.UPLOADS}


def _existing_rows(db: Any, kind: str, rows: list[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Which of ``rows`` exist now."""
    found: set[tuple[str, ...]] = set()
    for i in range(0, len(rows), _BATCH):
        batch = rows[i : i + _BATCH]
        with db.read() as cur:
            found.update(check_rows.existing_rows(cur, _TABLE[kind], batch))
    return found


@dataclass
class _Snapshot:
    required: dict[str, tuple[str, tuple[str, ...]]]  # required key -> (kind, row)
    uploads: set[tuple[str, str]]                      # known upload sessions
    targets: dict[tuple[str, ...], str]                # (repository, tag) -> digest
    counts: Counter[str]                               # rows per kind


def _snapshot(db: Any, progress: Progress) -> _Snapshot:
    """Every row that requires an object, in one REPEATABLE READ snapshot."""
    snap = _Snapshot({}, set(), {}, Counter())
    with db.transaction(isolation="REPEATABLE READ", read_only=True) as cur:
        for kind, table in _TABLE.items():
            found = (check_rows.tag_targets(cur) if kind == TAG
                     else check_rows.all_rows(cur, table))
            progress.phase(f"reading {kind} rows", found.total)
            for full in found.rows:
                row = tuple(full[:2])
                snap.counts[kind] += 1
                if kind == UPLOAD:
                    snap.uploads.add((row[0], row[1]))
                else:
                    snap.required[_key_of(kind, row)] = (kind, row)
                if kind == TAG:
                    snap.targets[row] = full[2]
                progress.advance()
    return snap


# ------------------------------------------------------------------ keys -> kind

def _classify(key: str) -> tuple[str, tuple[str, ...]] | None:
    """(kind, row) a listed key would belong to; None for keys no row describes."""
    digest = layout.parse_blob_data_key(key)
    if digest is not None:
        return BLOB, (digest,)
    parsed = layout.parse_repository_key(key)
    if parsed is None:
        return None
    kinds = layout.RepoKeyKind
    if parsed.kind is kinds.LAYER_LINK:
        return LAYER, (parsed.repo, str(parsed.digest))
    if parsed.kind is kinds.REVISION_LINK:
        return REVISION, (parsed.repo, str(parsed.digest))
    if parsed.kind is kinds.TAG_CURRENT_LINK:
        return TAG, (parsed.repo, str(parsed.tag))
    if parsed.kind is kinds.UPLOAD:
        return UPLOAD, (parsed.repo, str(parsed.upload_id))
    return None  # tag index links: a tag's history, not described by a row


def _listing(storage: Any, progress: Progress) -> Iterator[ObjectInfo]:
    for root in (layout.blobs_root(), layout.repositories_root()):
        progress.phase(f"listing {root}", None)
        for info in storage.list_objects(root):
            progress.advance()
            yield info


def _still_missing(reg: Any, suspects: dict[str, tuple[str, tuple[str, ...]]]) -> list[Missing]:
    by_kind: dict[str, list[tuple[str, ...]]] = {}
    for kind, row in suspects.values():
        by_kind.setdefault(kind, []).append(row)
    missing = []
    for kind, rows in by_kind.items():
        for row in sorted(_existing_rows(reg.db, kind, rows)):
            key = _key_of(kind, row)
            try:
                reg.storage.stat(key)
            except NotFound:
                missing.append(Missing(kind, label(kind, row), key))
    return sorted(missing, key=lambda m: (m.kind, m.row))


def _still_unknown(reg: Any, unknown: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    by_kind: dict[str, list[tuple[str, ...]]] = {}
    for kind, row in unknown.values():
        by_kind.setdefault(kind, []).append(row)
    now_known: set[tuple[str, tuple[str, ...]]] = set()
    for kind, rows in by_kind.items():
        now_known.update((kind, row) for row in _existing_rows(reg.db, kind, rows))
    return {key: kind for key, (kind, row) in unknown.items() if (kind, row) not in now_known}


# --------------------------------------------------------------------- the check

def check_storage(reg: Any, progress: Progress | None = None, *, links: bool = True,
                  jobs: int = DEFAULT_JOBS, pending_age: timedelta | None = None
                  ) -> CheckReport:
    """Compare ``reg.db`` with ``reg.storage`` (a :class:`hareg.registry.context.Registry`).

    With ``links`` (the default) the content of revision and tag links is read, ``jobs`` at
    a time, and links that disagree with the rows are reported; without, only rows whose
    object is missing and objects no row knows. Links that no row knows and that are younger
    than ``pending_age`` (``hareg check`` passes ``[gc] grace_period``) are listed as pending,
    not as disagreements: a crash between a storage write and its commit leaves them, which
    invariant 3 of docs/architecture.rst allows, and the orphans pass removes them."""
    progress = progress or NoProgress()
    started = time.monotonic()
    report = CheckReport()
    try:
        snap = _snapshot(reg.db, progress)
        required, report.rows = snap.required, snap.counts
        unknown: dict[str, tuple[str, tuple[str, ...]]] = {}
        to_read: list[Link] = []
        young: set[str] = set()
        cutoff = (datetime.now(UTC) - pending_age) if pending_age is not None else None
        for info in _listing(reg.storage, progress):
            key = info.key
            report.objects += 1
            known = required.pop(key, None)
            if known is not None:
                if links and known[0] in (REVISION, TAG):
                    to_read.append(Link(known[0], known[1], key))
                continue
            found = _classify(key)
            if found is None:
                continue
            if found[0] != UPLOAD or found[1] not in snap.uploads:
                unknown[key] = found
                if cutoff is not None and info.modified > cutoff:
                    young.add(key)
        candidates = _read_links(reg, snap, to_read, jobs, progress) if links else []
        report.links_read = len(to_read)
        progress.phase("re-checking differences", len(required) + len(unknown))
        report.missing = _still_missing(reg, required)
        still = _still_unknown(reg, unknown)
        progress.advance(len(required) + len(unknown))
        if links:
            rowless = [key for key, kind in still.items() if kind in (REVISION, TAG, LAYER)]
            report.pending = sorted(key for key in rowless if key in young)
            candidates += [Link(still[key], unknown[key][1], key) for key in rowless
                           if key not in young]
            progress.phase("confirming links that disagree", len(candidates))
            report.disagreements, report.in_flight = confirm(reg, candidates, jobs, progress)
        progress.phase("comparing namespace definitions", None)
        report.namespaces = compare_namespaces(reg)
    finally:
        progress.close()
    report.unknown = Counter(still.values())
    report.unknown_examples = sorted(still)[:_UNKNOWN_EXAMPLES]
    report.seconds = time.monotonic() - started
    return report


def _read_links(reg: Any, snap: _Snapshot, to_read: list[Link], jobs: int,
                progress: Progress) -> list[Link]:
    """Links whose content disagrees with the snapshot (candidates, to be confirmed). A link
    gone since the listing goes back to ``snap.required``: a missing-object suspect."""
    progress.phase("reading links", len(to_read))
    candidates = []
    for link, content in read_links(reg.storage, to_read, jobs, progress):
        if content is None:
            snap.required[link.key] = (link.kind, link.row)
            continue
        row = snap.targets.get(link.row) if link.kind == TAG else link.row[1]
        if judge(link, content, row) is not None:
            candidates.append(link)
    return candidates


def find_missing_objects(reg: Any, progress: Progress | None = None) -> list[Missing]:
    """Rows whose object is missing from storage (empty when invariant 3 holds)."""
    return check_storage(reg, progress, links=False).missing


def _counts(counter: Counter[str]) -> str:
    return ", ".join(counted(n, kind) for kind, n in sorted(counter.items()))


def summarize(report: CheckReport) -> Iterable[str]:
    """Human-readable lines for the CLI; the last one is the verdict, ``ok: ...`` or
    ``problems: ...``."""
    rows = _counts(report.rows) or "no rows"
    yield (f"checked {rows} against {counted(report.objects, 'object')}"
           f" in {report.seconds:.1f} s")
    if report.unknown:
        total = sum(report.unknown.values())
        yield (f"info: {counted(total, 'object')} no row knows, garbage collection removes"
               f" {'it' if total == 1 else 'them'} ({_counts(report.unknown)}); e.g.:")
        for key in report.unknown_examples:
            yield f"  {key}"
    if report.in_flight:
        n = len(report.in_flight)
        yield (f"info: {counted(n, 'link')} skipped, a write in flight holds"
               f" {'its lock' if n == 1 else 'their locks'} (check again to include"
               f" {'it' if n == 1 else 'them'}); e.g.:")
        for key in report.in_flight[:_UNKNOWN_EXAMPLES]:
            yield f"  {key}"
    if report.pending:
        n = len(report.pending)
        yield (f"info: {counted(n, 'link')} no row knows, younger than the grace period (a push"
               f" in flight or cut short; gc --orphans removes {'it' if n == 1 else 'them'}"
               " once older); e.g.:")
        for key in report.pending[:_UNKNOWN_EXAMPLES]:
            yield f"  {key}"
    if report.missing:
        yield "missing objects (kind, row: key):"
        for m in report.missing:
            yield f"  {m.kind} {m.row}: {m.key}"
    if report.disagreements:
        yield "links that disagree with the database (row: problem (key)):"
        for d in report.disagreements:
            yield f"  {d.row}: {d.message()} ({d.key})"
    if report.namespaces:
        yield "namespace definitions that differ between the bucket and the database:"
        for difference in report.namespaces:
            yield f"  {difference.namespace}: {difference.message()}"
    if report.ok:
        yield "ok: every row's object exists"
        return
    problems = []
    if report.missing:
        n = len(report.missing)
        problems.append(f"{counted(n, 'row')} {'points' if n == 1 else 'point'} at"
                        f" {'an object that does' if n == 1 else 'objects that do'} not exist")
    if report.disagreements:
        n = len(report.disagreements)
        problems.append(f"{counted(n, 'link')} {'disagrees' if n == 1 else 'disagree'}"
                        " with the database")
    if report.namespaces:
        n = len(report.namespaces)
        problems.append(f"{counted(n, 'namespace definition')}"
                        f" {'differs' if n == 1 else 'differ'} between the bucket and the"
                        " database")
    yield "problems: " + "; ".join(problems)


def to_json(report: CheckReport | None, error: str | None = None) -> dict[str, Any]:
    """The document ``hareg check --json`` prints (fields: docs/cli-json.rst).

    ``report`` is None when the check failed before it finished (``error`` says why)."""
    if report is None:
        status = "failed"
        report = CheckReport()
    else:
        status = "ok" if report.ok else "problems"
    return {
        "status": status,
        "ok": status == "ok",
        "duration_seconds": round(report.seconds, 3),
        "objects": report.objects,
        "rows": {JSON_KINDS[k]: report.rows.get(k, 0) for k in JSON_KINDS},
        "missing_count": len(report.missing),
        "missing": [{"kind": JSON_KINDS[m.kind], "row": m.row, "key": m.key}
                    for m in report.missing],
        "unknown_count": sum(report.unknown.values()),
        "unknown": {JSON_KINDS[k]: report.unknown.get(k, 0) for k in JSON_KINDS},
        "unknown_examples": list(report.unknown_examples),
        "links_read": report.links_read,
        "disagreement_count": len(report.disagreements),
        "disagreement_counts": {p: sum(d.problem == p for d in report.disagreements)
                                for p in PROBLEMS},
        "disagreements": [{"problem": d.problem, "kind": JSON_KINDS[d.kind], "row": d.row,
                           "key": d.key, "link": d.link, "database": d.database}
                          for d in report.disagreements],
        "pending_count": len(report.pending),
        "pending": list(report.pending),
        "in_flight_count": len(report.in_flight),
        "in_flight": list(report.in_flight),
        "namespace_difference_count": len(report.namespaces),
        "namespace_differences": [{"namespace": d.namespace, "problem": d.problem}
                                  for d in report.namespaces],
        "error": error,
    }
