# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Links in storage that disagree with the rows: what ``hareg rebuild-db`` would get wrong.

``hareg rebuild-db`` makes rows from links: a revision link becomes a manifest, a tag's
current link decides which manifest the tag names, a layer link links the blob. So a link
that disagrees with the database is a problem even when every row has its object:

- a revision link without a ``manifests`` row, or whose content does not parse or names
  another digest than its key;
- a tag's current link without a ``tags`` row, whose content does not parse, or that names
  another manifest than the row;
- a layer link without a ``repository_blobs`` row.

(Rows whose link is missing are the other direction, reported as missing objects by
hareg.check.objects.) Tag index entries are history, not compared.

Writers change links and rows together, storage first, so a request in flight shows up as a
disagreement between the snapshot and the listing. Each candidate is therefore confirmed
before it is reported, in a READ COMMITTED transaction: take, without waiting, the lock the
link's writers take (``TAG`` for tag links, the digest's ``BLOB`` lock, exclusive, for
revision and layer links); read the rows in a new statement and the object again; judge
again. A lock that is taken means a write is in flight: the item is skipped as such, not
reported. The locks end with the transaction (a few statements and reads per batch).

Reading links costs one GET per tag and per manifest, :data:`DEFAULT_JOBS` at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..db import check as check_rows
from ..db import locks
from ..progress import Progress
from ..storage import layout
from ..storage.base import NotFound
from .kinds import LAYER, REVISION, TAG, label

#: Problems, as ``hareg check --json`` names them (docs/cli-json.rst).
REVISION_LINK_WITHOUT_MANIFEST = "revision_link_without_manifest"
BAD_REVISION_LINK = "bad_revision_link"
TAG_LINK_WITHOUT_TAG = "tag_link_without_tag"
TAG_LINK_NAMES_OTHER = "tag_link_names_other_manifest"
BAD_TAG_LINK = "bad_tag_link"
LAYER_LINK_WITHOUT_ROW = "layer_link_without_row"
PROBLEMS = (BAD_REVISION_LINK, BAD_TAG_LINK, LAYER_LINK_WITHOUT_ROW,
            REVISION_LINK_WITHOUT_MANIFEST, TAG_LINK_NAMES_OTHER, TAG_LINK_WITHOUT_TAG)

#: Links read at once: the reads are small, their latency is what counts.
DEFAULT_JOBS = 8
_BATCH = 1000


@dataclass(frozen=True)
class Link:
    """A link object and the row it stands for: (repository, digest) for revision and layer
    links, (repository, tag) for tag current links."""

    kind: str
    row: tuple[str, ...]
    key: str


@dataclass(frozen=True)
class Disagreement:
    """A link that disagrees with the database, confirmed under its writers' lock."""

    problem: str
    kind: str
    row: str            # "repo@sha256:..." or "repo:tag"
    key: str
    link: str | None    # the digest the link names; None when unparsed or not read
    database: str | None  # the digest the row names; None without a row

    def message(self) -> str:
        if self.problem == TAG_LINK_NAMES_OTHER:
            return f"tag link names {self.link}, row names {self.database}"
        if self.problem == BAD_REVISION_LINK and self.link is not None:
            return f"bad revision link: names {self.link}"
        return self.problem.replace("_", " ")


def _named(content: bytes) -> str | None:
    try:
        return layout.parse_link(content)
    except ValueError:
        return None


def judge(link: Link, content: bytes | None, database: str | None) -> Disagreement | None:
    """What is wrong with ``link`` given its ``content`` (None: the object does not exist) and
    the digest its row names (None: no row; for revision and layer links the row's digest
    is the key's)."""
    if content is None:
        return None  # a row without its object is a missing object (hareg.check.objects)
    named = _named(content)

    def found(problem: str, shown: str | None = named) -> Disagreement:
        return Disagreement(problem, link.kind, label(link.kind, link.row), link.key, shown,
                            database)

    if link.kind == LAYER:
        return found(LAYER_LINK_WITHOUT_ROW, None) if database is None else None
    if link.kind == REVISION:
        if database is None:
            return found(REVISION_LINK_WITHOUT_MANIFEST)
        return found(BAD_REVISION_LINK) if named != database else None
    if database is None:
        return found(TAG_LINK_WITHOUT_TAG)
    if named is None:
        return found(BAD_TAG_LINK)
    return found(TAG_LINK_NAMES_OTHER) if named != database else None


def _read(storage: Any, key: str) -> bytes | None:
    try:
        return bytes(storage.get_bytes(key))
    except NotFound:
        return None


def read_links(storage: Any, links: list[Link], jobs: int, progress: Progress
               ) -> Iterator[tuple[Link, bytes | None]]:
    """Each link with its content (None when it no longer exists), ``jobs`` reads at a time,
    in order; at most one batch of contents in memory."""
    if not links:
        return
    with ThreadPoolExecutor(max(1, min(jobs, len(links))),
                            thread_name_prefix="check-read") as pool:
        for i in range(0, len(links), _BATCH):
            batch = links[i : i + _BATCH]
            for link, content in zip(batch, pool.map(lambda x: _read(storage, x.key), batch),
                                     strict=True):
                progress.advance()
                yield link, content


def _lock_name(link: Link) -> tuple[int, str]:
    if link.kind == TAG:
        return locks.TAG, locks.tag_key(link.row[0], link.row[1])
    return locks.BLOB, link.row[1]


def _rows_now(cur: Any, links: list[Link]) -> dict[Link, str | None]:
    """The digest each link's row names now (None without a row): one statement per kind."""
    manifests = check_rows.existing_rows(
        cur, check_rows.MANIFESTS, [x.row for x in links if x.kind == REVISION])
    layers = check_rows.existing_rows(
        cur, check_rows.LAYER_LINKS, [x.row for x in links if x.kind == LAYER])
    targets = check_rows.current_tag_targets(
        cur, [(x.row[0], x.row[1]) for x in links if x.kind == TAG])
    now: dict[Link, str | None] = {}
    for x in links:
        if x.kind == TAG:
            now[x] = targets.get((x.row[0], x.row[1]))
        else:
            now[x] = x.row[1] if x.row in (manifests if x.kind == REVISION else layers) else None
    return now


def confirm(reg: Any, candidates: Iterable[Link], jobs: int, progress: Progress
            ) -> tuple[list[Disagreement], list[str]]:
    """The candidates that still disagree under their writers' lock, and the keys of those
    skipped because a write holds the lock (in flight). Both sorted by key."""
    todo = sorted(set(candidates), key=lambda x: x.key)
    found: list[Disagreement] = []
    in_flight: list[str] = []
    for i in range(0, len(todo), _BATCH):
        batch = todo[i : i + _BATCH]
        with reg.db.transaction(isolation="READ COMMITTED") as cur:
            held: set[tuple[int, str]] = set()
            for kind in (locks.BLOB, locks.TAG):
                names = [_lock_name(x)[1] for x in batch if _lock_name(x)[0] == kind]
                held |= {(kind, n) for n in check_rows.try_xact_locks(cur, kind, names)}
            locked = [x for x in batch if _lock_name(x) in held]
            in_flight += [x.key for x in batch if _lock_name(x) not in held]
            rows = _rows_now(cur, locked)  # a new statement: sees every commit before the lock
            for link, content in read_links(reg.storage, locked, jobs, progress):
                problem = judge(link, content, rows[link])
                if problem is not None:
                    found.append(problem)
    return found, in_flight
