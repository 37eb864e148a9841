# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""One repository: read what the database lacks, then write it in small transactions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import psycopg2
from psycopg2.extensions import cursor

from ..db import blobs as blob_rows
from ..db import manifests as manifest_rows
from ..db import tags as tag_rows
from ..db.repositories import ensure_repository, repository_id
from ..db.transaction import release_savepoint, rollback_to_savepoint, savepoint
from ..registry.errors import RegistryError
from ..registry.formats import ParsedManifest, parse_manifest
from ..registry.manifests import record_manifest
from ..registry.names import MAX_NAME_LENGTH
from ..storage import layout
from ..storage.base import ObjectInfo, StorageError
from .options import Stopped

if TYPE_CHECKING:
    import threading

    from ..db.pool import Database
    from ..storage.base import StorageDriver
    from .options import RebuildOptions
    from .report import Report

#: References recorded per transaction. record_manifest takes a shared advisory lock per
#: referenced blob until commit, and PostgreSQL's lock table is shared and bounded
#: (max_locks_per_transaction x max_connections): ``jobs`` workers must stay well inside it.
MAX_BATCH_REFERENCES = 256
#: What makes the database refuse a manifest: that manifest is skipped and reported.
REFUSED = (psycopg2.Error, RegistryError, ValueError)


@dataclass
class Manifest:
    """A payload read, verified against its digest and parsed; not yet recorded."""

    digest: str
    payload: bytes
    parsed: ParsedManifest
    modified: datetime


@dataclass
class RepoKeys:
    """What the listing found for one repository."""

    layers: set[str] = field(default_factory=set)
    revisions: dict[str, datetime] = field(default_factory=dict)
    tags: dict[str, ObjectInfo] = field(default_factory=dict)


def classify(keys: RepoKeys, key: layout.RepoKey, info: ObjectInfo) -> None:
    if key.kind is layout.RepoKeyKind.LAYER_LINK:
        keys.layers.add(key.digest)  # type: ignore[arg-type]
    elif key.kind is layout.RepoKeyKind.REVISION_LINK:
        keys.revisions[key.digest] = info.modified  # type: ignore[index]
    elif key.kind is layout.RepoKeyKind.TAG_CURRENT_LINK:
        keys.tags[key.tag] = info  # type: ignore[index]
    # tag index links are history, uploads live in the database: neither is rebuilt


def batches(manifests: list[Manifest], limit: int) -> Iterator[list[Manifest]]:
    """At most ``limit`` manifests and about MAX_BATCH_REFERENCES blob references each."""
    batch: list[Manifest] = []
    weight = 0
    for m in manifests:
        refs = len(m.parsed.required_blobs) + len(m.parsed.optional_blobs)
        if batch and (len(batch) >= limit or weight + refs > MAX_BATCH_REFERENCES):
            yield batch
            batch, weight = [], 0
        batch.append(m)
        weight += refs
    if batch:
        yield batch


class RunContext(Protocol):
    """What a repository job uses of its run (:class:`hareg.rebuild.run.Run` is one); a
    protocol, so that this module does not import the run that imports it."""

    db: Database
    storage: StorageDriver
    options: RebuildOptions
    report: Report
    blobs: dict[str, int]
    stop: threading.Event
    started_at: datetime | None

    def tx(self) -> AbstractContextManager[cursor]: ...

    def read(self, func: Callable[..., Any], *args: Any) -> Future[Any]: ...


class RepositoryJob:
    """Rebuild one repository: read what is missing, then write in small transactions."""

    def __init__(self, run: RunContext, name: str, keys: RepoKeys) -> None:
        self.parent, self.name, self.keys = run, name, keys
        self.report = run.report
        self.options = run.options

    def run(self) -> None:
        name, keys, report = self.name, self.keys, self.report
        report.count("repositories", "found")
        if len(name) > MAX_NAME_LENGTH:
            report.error("repository", f"name longer than {MAX_NAME_LENGTH} characters",
                         repository=name)
            return
        report.count("repository_blobs", "found", len(keys.layers))
        report.count("manifests", "found", len(keys.revisions))
        report.count("tags", "found", len(keys.tags))
        blobs = self.parent.blobs
        self.linked = sorted(d for d in keys.layers if d in blobs)
        report.count("repository_blobs", "dangling", len(keys.layers) - len(self.linked))
        self.present = {d: m for d, m in keys.revisions.items() if d in blobs}
        for digest in sorted(keys.revisions.keys() - self.present.keys()):
            report.error("manifest", "revision link without blob data (payload missing)",
                         repository=name, digest=digest)
        repo_id, existing, tag_times = self._existing()
        if (not (self.linked or self.present or keys.tags)
                and (repo_id is None or not self.options.prune)):
            return  # only uploads or dangling links: nothing to record
        report.count("manifests", "existing", len(self.present.keys() & existing))
        manifests, targets = self._read(existing, tag_times)
        with self._units() as unit:
            with unit() as cur:
                repo_id = self._write_links(cur, manifests)
            for batch in batches(manifests, self.options.manifest_batch):
                if self.parent.stop.is_set():
                    raise Stopped
                with unit() as cur:
                    self._write_manifests(cur, repo_id, batch)
            with unit() as cur:
                self._write_tags(cur, repo_id, targets, manifests)

    def _units(self) -> AbstractContextManager[Callable[[], AbstractContextManager[cursor]]]:
        """Transactions for this repository: one per unit, or in a dry run one rolled back."""
        if not self.options.dry_run:
            return nullcontext(self.parent.tx)
        return self._dry_units()

    @contextmanager
    def _dry_units(self) -> Iterator[Callable[[], AbstractContextManager[cursor]]]:
        with self.parent.tx() as cur:
            yield lambda: nullcontext(cur)

    def _existing(self) -> tuple[int | None, set[str], dict[str, datetime]]:
        """The repository's id, manifest digests and tag times the database already has."""
        with self.parent.db.read() as cur:
            repo_id = repository_id(cur, self.name)
            if repo_id is None:
                return None, set(), {}
            existing = manifest_rows.manifest_digests(cur, repo_id)
            return repo_id, existing, tag_rows.tag_times(cur, repo_id)

    # ---------------------------------------------------------------- reads

    def _read(self, existing: set[str], tag_times: dict[str, datetime]
              ) -> tuple[list[Manifest], dict[str, tuple[str, datetime]]]:
        run = self.parent
        to_read = [d for d in self.present if d not in existing]
        loads = {d: run.read(self._load_manifest, d) for d in to_read}
        # A tag row written by an earlier rebuild carries its link's time: unchanged since.
        stale = {t: i for t, i in self.keys.tags.items() if tag_times.get(t) != i.modified}
        self.report.count("tags", "unchanged", len(self.keys.tags) - len(stale))
        links = {t: run.read(self._read_tag, info) for t, info in stale.items()}
        manifests = [m for m in (result(f) for f in loads.values()) if m is not None]
        targets = {t: (d, stale[t].modified) for t, f in links.items()
                   if (d := result(f)) is not None}
        manifests.sort(key=lambda m: (m.parsed.is_index, m.digest))  # children first
        return manifests, targets

    def _load_manifest(self, digest: str) -> Manifest | None:
        where = {"repository": self.name, "digest": digest}
        size = self.parent.blobs[digest]
        if size > self.options.max_manifest_size:
            self.report.error("manifest", f"payload of {size} bytes exceeds max_manifest_size",
                              **where)
            return None
        try:
            payload = self.parent.storage.get_bytes(layout.blob_data(digest))
        except StorageError as exc:
            self.report.error("manifest", f"cannot read payload: {exc}", **where)
            return None
        alg, hexpart = layout.split_digest(digest)
        if hashlib.new(alg, payload).hexdigest() != hexpart:
            self.report.error("manifest", "payload does not match its digest", **where)
            return None
        try:
            parsed = parse_manifest(payload, "")
        except Exception as exc:  # noqa: BLE001 - any bad object is reported and skipped
            message = exc.message if isinstance(exc, RegistryError) else repr(exc)
            self.report.error("manifest", f"cannot parse: {message}", **where)
            return None
        self.report.add("manifests_parsed")
        return Manifest(digest, payload, parsed, self.present[digest])

    def _read_tag(self, info: ObjectInfo) -> str | None:
        tag = layout.parse_repository_key(info.key).tag  # type: ignore[union-attr]
        try:
            return layout.parse_link(self.parent.storage.get_bytes(info.key))
        except (StorageError, ValueError) as exc:
            self.report.error("tag", f"cannot read current link: {exc}",
                              repository=self.name, tag=tag)
            return None

    # --------------------------------------------------------------- writes

    def _write_links(self, cur: cursor, manifests: list[Manifest]) -> int:
        """Repository row, blob rows it needs, repository-to-blob links (pruned if asked)."""
        report = self.report
        repo_id = repository_id(cur, self.name)
        if repo_id is None:
            repo_id = ensure_repository(cur, self.name)
            report.count("repositories", "added")
        needed = list(dict.fromkeys([*self.linked, *(m.digest for m in manifests)]))
        # Normally already there (blob phase); needed for dry runs and races.
        blob_rows.insert_blobs(cur, needed, [self.parent.blobs[d] for d in needed])
        report.count("repository_blobs", "added", blob_rows.link_blobs(cur, repo_id, self.linked))
        if self.options.prune:
            pruned = blob_rows.unlink_blobs_except(cur, repo_id, self.linked,
                                                   self.parent.started_at)
            report.count("repository_blobs", "pruned", pruned)
        return repo_id

    def _write_manifests(self, cur: cursor, repo_id: int, batch: list[Manifest]) -> None:
        """Record a batch; if the database refuses one, record the others one by one."""
        savepoint(cur, "batch")
        try:
            recorded = [(self._record(cur, repo_id, m), m) for m in batch]
            release_savepoint(cur, "batch")
        except REFUSED:
            rollback_to_savepoint(cur, "batch")
            recorded = []
            for m in batch:
                savepoint(cur, "one")
                try:
                    recorded.append((self._record(cur, repo_id, m), m))
                    release_savepoint(cur, "one")
                except REFUSED as exc:
                    rollback_to_savepoint(cur, "one")
                    self.report.error("manifest", f"database refused it: {exc}".strip(),
                                      repository=self.name, digest=m.digest)
        # Rows created by this run get their push time back (the revision link's time):
        # the referrers API lists in creation order.
        added = manifest_rows.restore_created_at(
            cur, [i for i, _ in recorded], [m.modified for _, m in recorded],
            self.parent.started_at)
        self.report.count("manifests", "added", added)

    def _record(self, cur: cursor, repo_id: int, m: Manifest) -> int:
        return record_manifest(cur, repo_id, m.digest, m.payload, m.parsed,
                               sparse=True, strict=False)

    def _write_tags(self, cur: cursor, repo_id: int, targets: dict[str, tuple[str, datetime]],
                    manifests: list[Manifest]) -> None:
        report, started = self.report, self.parent.started_at
        if self.options.prune:
            self._prune_manifests(cur, repo_id)
        # Children recorded before their index in an earlier run, or by an older release.
        manifest_rows.resolve_all_sparse_children(cur, repo_id)
        ids = manifest_rows.manifest_ids(cur, repo_id)
        rows = []
        for tag, (digest, modified) in sorted(targets.items()):
            if digest in ids:
                rows.append((tag, ids[digest], modified))
            else:
                report.error("tag", f"points at {digest}, which is not a manifest of this "
                             "repository", repository=self.name, tag=tag)
        if rows:
            names, manifest_ids, times = zip(*rows, strict=True)
            inserted = tag_rows.restore_tags(cur, repo_id, names, manifest_ids, times, started)
            report.count("tags", "added", sum(inserted))
            report.count("tags", "updated", len(inserted) - sum(inserted))
            report.count("tags", "unchanged", len(rows) - len(inserted))
        if self.options.prune:
            pruned = tag_rows.delete_tags_except(cur, repo_id, list(self.keys.tags), started)
            report.count("tags", "pruned", pruned)
        self._report_incomplete(manifests, set(ids))

    def _prune_manifests(self, cur: cursor, repo_id: int) -> None:
        """Rows whose revision link or payload is gone (tags on them go too)."""
        gone = manifest_rows.manifests_created_before_except(
            cur, repo_id, list(self.present), self.parent.started_at)
        # An index that stays keeps the entry, as a sparse index would.
        manifest_rows.delete_manifests_keeping_parents(cur, gone)
        self.report.count("manifests", "pruned", len(gone))

    def _report_incomplete(self, manifests: Iterable[Manifest], recorded: set[str]) -> None:
        linked = set(self.linked)
        for m in manifests:
            if m.digest not in recorded:
                continue
            blobs = [d for d in m.parsed.required_blobs if d not in linked]
            children = [d for d in m.parsed.children if d not in recorded]
            if blobs or children:
                self.report.count("manifests", "incomplete")
                self.report.warning(
                    "manifest", "recorded without the references storage no longer has",
                    repository=self.name, digest=m.digest,
                    missing_blobs=blobs, missing_children=children)


def result(future: Future[Any]) -> Any:
    """A reader's result; a read cancelled because the run is stopping ends the task."""
    try:
        return future.result()
    except CancelledError:
        raise Stopped from None
