# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The run: the lock, the blob listing, the repository listings, pruning what is gone."""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from psycopg2.extensions import cursor

from ..db import blobs as blob_rows
from ..db import locks, repositories
from ..db.pool import Database
from ..db.rebuild import count_rebuilt_rows, empty_rebuilt_tables
from ..db.session import Session, now
from ..db.transaction import transaction
from ..storage import layout
from ..storage.base import StorageDriver, StorageError
from .namespaces import restore_namespaces
from .options import RebuildBusy, RebuildFailed, RebuildOptions, Stopped
from .report import Report
from .repository import RepoKeys, RepositoryJob, classify

BLOB_BATCH = 5000
_GLOB = re.compile(r"[*?\[]")

ProgressCallback = Callable[[str, Report], None]


class Run:
    """One rebuild: three bounded thread pools (listings, repositories, object reads).

    Listing threads hand each repository to a repository worker as soon as its keys are
    in (at most ``4 x jobs`` waiting: memory stays bounded); a worker sends its object reads
    to the reader pool, so one large repository still reads ``jobs`` objects at a time.
    """

    def __init__(self, db: Database, storage: StorageDriver, options: RebuildOptions,
                 progress: ProgressCallback | None,
                 after_repository: Callable[[str], None] | None) -> None:
        if options.jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.db, self.storage, self.options = db, storage, options
        self.report = Report()
        self.progress = progress or (lambda event, report: None)
        self.after_repository = after_repository
        self.blobs: dict[str, int] = {}
        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.fatal: BaseException | None = None
        self.started_at: datetime | None = None
        self._lock = threading.Lock()
        self._repo_futures: list[Future[None]] = []
        self._pending = threading.BoundedSemaphore(options.jobs * 4)
        jobs = options.jobs
        self.lister = ThreadPoolExecutor(jobs, thread_name_prefix="rebuild-list")
        self.workers = ThreadPoolExecutor(jobs, thread_name_prefix="rebuild-repo")
        self.readers = ThreadPoolExecutor(jobs, thread_name_prefix="rebuild-read")

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        start = time.monotonic()
        status = "ok"
        try:
            with self._exclusive():
                with self.db.read() as cur:
                    self.started_at = now(cur)
                if self.options.from_scratch:
                    self._empty_tables()
                restore_namespaces(self)
                self._blobs_phase()
                complete = self._repositories_phase()
                if self.options.prune and not self.stop.is_set():
                    self._prune_absent(complete)
        except KeyboardInterrupt:
            status = "interrupted"
        except RebuildBusy:
            raise
        except BaseException as exc:  # noqa: BLE001 - any failure ends the run as RebuildFailed
            self._shutdown()
            cause = self.fatal or exc
            summary = self.report.summary("failed", time.monotonic() - start, self.options)
            raise RebuildFailed(f"{type(cause).__name__}: {cause}", summary) from cause
        finally:
            self._shutdown()
        if status == "ok" and self.report.error_count:
            status = "errors"
        return self.report.summary(status, time.monotonic() - start, self.options)

    def _shutdown(self) -> None:
        self.stop.set()
        self.lister.shutdown(wait=False, cancel_futures=True)
        self.readers.shutdown(wait=False, cancel_futures=True)
        self.workers.shutdown(wait=True, cancel_futures=True)
        self.readers.shutdown(wait=True)
        self.lister.shutdown(wait=True)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the GC lock on a dedicated connection: no sweep, no second rebuild."""
        if self.options.dry_run:
            yield
            return
        # closing the session releases the lock
        with Session(self.db.session_url, "hareg-rebuild") as session, session.cursor() as cur:
            if not locks.try_session_lock(cur, locks.GC, locks.GC_NAME):
                raise RebuildBusy("a garbage collection sweep or another rebuild-db is "
                                  "running (it holds the GC lock); try again when it ends")
            yield

    @contextmanager
    def tx(self) -> Iterator[cursor]:
        """A transaction that commits, or in a dry run rolls back."""
        with self.db.connection() as conn, \
                transaction(conn, commit=not self.options.dry_run) as cur:
            yield cur

    def _empty_tables(self) -> None:
        with self.db.read() as cur:
            self.report.emptied = count_rebuilt_rows(cur)
        if not self.options.dry_run:  # a dry run reports what it would empty, no more
            with self.db.transaction() as cur:
                empty_rebuilt_tables(cur)

    def _wanted(self, name: str) -> bool:
        pattern = self.options.repository
        return pattern is None or fnmatch.fnmatchcase(name, pattern)

    # --------------------------------------------------------------- 1. blobs

    def _blobs_phase(self) -> None:
        storage = self.storage
        fanouts = [fan for alg in storage.list_dirs(layout.blobs_root())
                   for fan in storage.list_dirs(alg)]
        futures = [self.lister.submit(self._list_blob_dir, prefix) for prefix in fanouts]
        batch: list[tuple[str, int]] = []
        for future in as_completed(futures):
            found = future.result()  # a blob listing that fails is fatal: nothing is known
            for digest, size in found:
                self.blobs[digest] = size
            batch.extend(found)
            if len(batch) >= BLOB_BATCH:
                self._write_blobs(batch)
                batch = []
            self.progress("blobs", self.report)
        if batch:
            self._write_blobs(batch)
        self.report.count("blobs", "found", len(self.blobs))

    def _list_blob_dir(self, prefix: str) -> list[tuple[str, int]]:
        found, listed, ignored = [], 0, 0
        for info in self.storage.list_objects(prefix):
            if self.stop.is_set():
                raise Stopped
            listed += 1
            digest = layout.parse_blob_data_key(info.key)
            if digest is None:
                ignored += 1
            else:
                found.append((digest, info.size))
        self.report.add("objects_listed", listed)
        self.report.add("objects_ignored", ignored)
        return found

    def _write_blobs(self, items: list[tuple[str, int]]) -> None:
        """Insert blob rows; a size that disagrees with storage is corrected (storage wins)."""
        with self.tx() as cur:
            inserted = blob_rows.insert_or_correct_blobs(cur, [d for d, _ in items],
                                                         [s for _, s in items])
        self.report.count("blobs", "added", sum(inserted))
        self.report.count("blobs", "updated", len(inserted) - sum(inserted))

    # -------------------------------------------------------- 2. repositories

    def _repositories_phase(self) -> bool:
        """List every repository and process it; True if every listing completed."""
        root = layout.repositories_root()
        literal = _GLOB.split(self.options.repository or "", maxsplit=1)[0]
        tops = [p for p in self.storage.list_dirs(root)
                if p[len(root):-1].startswith(literal) or literal.startswith(p[len(root):-1])]
        streams = {self.lister.submit(self._stream, top): top for top in tops}
        complete = True
        for future in as_completed(streams):
            try:
                future.result()
            except Stopped:
                complete = False
            except StorageError as exc:
                complete = False
                self.report.error("listing", str(exc), key=streams[future])
        for future in list(self._repo_futures):
            try:
                future.result()
            except CancelledError:
                complete = False
        if self.fatal is not None:
            raise self.fatal
        return complete and not self.stop.is_set()

    def _stream(self, prefix: str) -> None:
        """List one top-level directory; hand each repository over once its keys are in."""
        current: str | None = None
        keys = RepoKeys()
        seen: set[str] = set()
        listed = ignored = 0
        for info in self.storage.list_objects(prefix):
            if self.stop.is_set():
                raise Stopped
            listed += 1
            if listed % 1000 == 0:
                self.report.add("objects_listed", 1000)
            key = layout.parse_repository_key(info.key)
            if key is None:
                ignored += 1
                continue
            if key.repo != current:
                if current is not None:
                    self._dispatch(current, keys)
                if key.repo in seen:  # would mean a partial group: never judge one
                    raise StorageError(f"listing of {prefix!r} is not in key order")
                current, keys = key.repo, RepoKeys()
                seen.add(current)
            classify(keys, key, info)
        if current is not None:
            self._dispatch(current, keys)
        self.report.add("objects_listed", listed % 1000)
        self.report.add("objects_ignored", ignored)

    def _dispatch(self, name: str, keys: RepoKeys) -> None:
        if not self._wanted(name):
            return
        with self._lock:
            self.seen.add(name)
        while not self._pending.acquire(timeout=0.2):  # bounded memory: backpressure
            if self.stop.is_set():
                raise Stopped
        try:
            future = self.workers.submit(self._repository, name, keys)
        except RuntimeError:  # the pool shut down: the run is stopping
            self._pending.release()
            raise Stopped from None
        future.add_done_callback(lambda _: self._pending.release())
        with self._lock:
            self._repo_futures.append(future)

    def _repository(self, name: str, keys: RepoKeys) -> None:
        if self.stop.is_set():
            return
        try:
            RepositoryJob(self, name, keys).run()
            self.report.add("repositories_done")
            self.progress("repository", self.report)
            if self.after_repository is not None:
                self.after_repository(name)
        except Stopped:
            return
        except BaseException as exc:  # fatal: stop every other worker and listing too
            with self._lock:
                self.fatal = self.fatal or exc
            self.stop.set()
            raise

    def read(self, func: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run a storage read on the reader pool (bounded by ``jobs``)."""
        try:
            return self.readers.submit(func, *args)
        except RuntimeError:
            raise Stopped from None

    # ---------------------------------------------------------------- 3. prune

    def _prune_absent(self, complete: bool) -> None:
        """Remove repositories (and, on a full run, blobs) that storage no longer has."""
        if not complete:
            self.report.warning("prune", "listing incomplete: absent repositories and blobs "
                                "were not pruned")
            return
        with self.db.read() as cur:
            gone = [(i, n) for i, n in repositories.repositories_created_before(
                cur, self.started_at) if self._wanted(n) and n not in self.seen]
        for repo_id, _ in gone:
            with self.tx() as cur:
                repositories.delete_repository(cur, repo_id)
        self.report.count("repositories", "pruned", len(gone))
        if self.options.repository is None:
            self._prune_blobs()

    def _prune_blobs(self) -> None:
        with self.db.read() as cur:
            candidates = [d for d in blob_rows.blobs_created_before(cur, self.started_at)
                          if d not in self.blobs]
        # Confirm each one: a listing is a snapshot, and a row must never go for a blob that is
        # still (or again) there.
        exists = {d: self.read(self.storage.exists, layout.blob_data(d)) for d in candidates}
        gone = [d for d, future in exists.items() if not future.result()]
        for batch in chunks(gone, 1000):
            with self.tx() as cur:
                pruned = blob_rows.delete_blobs_and_references(cur, batch)
            self.report.count("blobs", "pruned", pruned)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]

