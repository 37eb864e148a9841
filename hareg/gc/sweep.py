# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The delete phases of a sweep. Every deletion follows the same protocol (docs/gc.rst):

1. take the EXCLUSIVE advisory lock of each item of a small batch without waiting
   (``pg_try_advisory_lock``; items a push holds right now are left for the next sweep);
2. in a NEW statement (READ COMMITTED: a new snapshot, taken after the locks), re-check
   against the live tables that the item is still garbage; lock rows with SKIP LOCKED so a
   sweep never queues behind a push;
3. delete the rows and COMMIT;
4. delete the objects (one ``delete_many`` call per batch: DeleteObjects on S3);
5. release the advisory locks.

Because the advisory lock is held from before the re-check until after the objects are gone,
a writer of the same digest or tag runs entirely before (the re-check sees its rows and the
item is skipped) or entirely after (it finds no row and writes object and row anew). A crash
between 3 and 4 leaves objects without rows, which the orphan pass removes; never a row
without its object.

What garbage is, is defined once in hareg.db.garbage; the statements are in hareg.db.gc_sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..config import GcConfig, RetentionRule
from ..db import gc_sweep
from ..db import locks as db_locks
from ..db.garbage import active_promotions
from ..db.gc_sweep import CONTENTION
from ..db.session import Session
from ..progress import Progress
from ..registry.context import Registry
from ..registry.rules import rule_for
from ..storage import layout
from ..storage.base import StorageError
from . import policy
from .locks import LockStats, locked
from .plan import (
    BlobItem,
    LinkItem,
    ManifestItem,
    RepositoryItem,
    TagItem,
    UploadItem,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The longest a sweep statement waits for a row lock. A sweep holds exclusive advisory locks
#: on the digests of its batch while it works, so it must never queue behind a push for long:
#: on timeout the batch is retried item by item and contended items are left for next time.
LOCK_TIMEOUT = "200ms"

#: Index -> child -> referrer chains need a pass per level; real chains are short.
MAX_MANIFEST_PASSES = 8


@dataclass
class Counts:
    tags: int = 0
    manifests: int = 0
    links: int = 0
    blobs: int = 0
    uploads: int = 0
    repositories: int = 0
    orphans: int = 0
    bytes_freed: int = 0
    skipped: int = 0
    storage_errors: int = 0


class BatchSizer:
    """Adapts the batch size so that holding a batch's locks takes about ``target`` seconds.

    The advisory locks of a batch are held from its re-check until its objects are deleted,
    and the object deletes dominate: one DeleteObjects call on S3 (up to 1,000 keys, so
    ``batch_size`` caps the size), one unlink per key on a filesystem. Shrinking when a batch
    took too long and doubling when it was quick keeps the wait of a push that wants one of
    those digests short, whatever the storage, while batches stay as big as that allows.

    A storage whose every call costs more than the target (a distant S3 endpoint) cannot be
    helped by tiny batches: the target then becomes twice the quickest batch seen, so batches
    stay big enough that the per-key part of a call is at most its fixed part.
    """

    def __init__(self, maximum: int, target: float, start: int = 64, minimum: int = 4) -> None:
        self.maximum = max(1, maximum)
        self.minimum = min(minimum, self.maximum)
        self.target = target
        self.size = max(self.minimum, min(start, self.maximum))
        self.floor = float("inf")  # the quickest batch: about the fixed cost of one

    def observe(self, n: int, seconds: float) -> None:
        self.floor = min(self.floor, seconds)
        target = max(self.target, 2 * self.floor)
        if seconds > target and n > self.minimum:
            self.size = max(self.minimum, min(self.size, int(n * target / seconds)))
        elif seconds < 0.6 * target and n >= self.size:
            self.size = min(self.maximum, self.size * 2)


#: The lock hold a batch aims at (seconds); a single item may take longer (one storage call).
TARGET_HOLD = 0.05


def _pairs(rows: Iterable[tuple[int, str]]) -> tuple[list[int], list[str]]:
    rows = list(rows)
    return [r[0] for r in rows], [r[1] for r in rows]


class Sweeper:
    """Runs the delete phases for a plan on the sweep's own connection."""

    def __init__(self, reg: Registry, conn: Session, gc: GcConfig,
                 rules: Sequence[RetentionRule], progress: Progress, stats: LockStats,
                 counts: Counts) -> None:
        self.reg = reg
        self.conn = conn
        self.grace = gc.grace_seconds
        self.max_age = gc.upload_max_age_seconds
        self.keep_referrers = gc.keep_referrers
        self.batch = gc.batch_size
        self.rules = rules
        self.progress = progress
        self.stats = stats
        self.counts = counts

    # ------------------------------------------------------------------ helpers

    def _each(self, batch: list[T], work: Callable[[list[T]], list[T]]) -> list[T]:
        """Run ``work`` on a batch; on contention retry one by one. Returns items left."""
        try:
            return work(batch)
        except CONTENTION as exc:
            if len(batch) == 1:
                log.info("gc: skipped %r: %s", batch[0], type(exc).__name__)
                return batch
            left: list[T] = []
            for item in batch:
                left.extend(self._each([item], work))
            return left

    def _delete_objects(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            self.reg.storage.delete_many(keys)
        except StorageError as exc:  # rows are gone: the objects are orphans for --orphans
            self.counts.storage_errors += 1
            log.warning("gc: could not delete %d objects (left as orphans): %s", len(keys), exc)

    def _batches(self, items: Sequence[T], work: Callable[[list[T]], list[T]],
                 maximum: int) -> list[T]:
        """Run ``work`` over ``items`` in adaptive batches; returns the items left."""
        sizer = BatchSizer(maximum, TARGET_HOLD)
        left: list[T] = []
        i = 0
        while i < len(items):
            batch = list(items[i : i + sizer.size])
            i += len(batch)
            start = time.monotonic()
            remaining = self._each(batch, work)
            sizer.observe(len(batch), time.monotonic() - start)
            left.extend(remaining)
            self.progress.advance(len(batch))
        return left

    def _run(self, name: str, items: Sequence[T], maximum: int,
             work: Callable[[list[T]], list[T]]) -> list[T]:
        self.progress.phase(name, len(items))
        return self._batches(items, work, maximum)

    # --------------------------------------------------------------------- tags

    def tags(self, items: Sequence[TagItem]) -> None:
        left = self._run("tags", items, min(self.batch, 100), self._tag_batch)
        self.counts.skipped += len(left)

    def _tag_batch(self, batch: list[TagItem]) -> list[TagItem]:
        storage = self.reg.storage
        # Listed before locking: a tag move in between changes updated_at and is caught below.
        keys = {(t.repository, t.tag): [o.key for o in storage.list_objects(
            layout.tag_dir(t.repository, t.tag))] for t in batch}
        by_name = {db_locks.tag_key(t.repository, t.tag): t for t in batch}
        done: list[TagItem] = []
        with self.conn.cursor() as cur, locked(cur, db_locks.TAG, by_name, self.stats) as held:
            todo = [t for n, t in by_name.items() if n in held]
            if not todo:
                return batch
            with self.conn.transaction() as tx:
                now, live = gc_sweep.live_tags(tx, *_pairs((t.repository_id, t.tag) for t in todo))
                promoted = active_promotions(tx, sorted({t.repository for t in todo}))
                for t in todo if now is not None else ():  # None: none of them is left
                    row = live.get((t.repository_id, t.tag))
                    if (now is not None and row is not None
                            and (row.manifest_id, row.updated_at) == (t.manifest_id, t.updated_at)
                            and (t.repository, t.tag, t.digest) not in promoted
                            and policy.still_expired(
                                rule_for(self.rules, t.repository),
                                policy.TagState(t.tag, t.manifest_id, t.digest, t.updated_at,
                                                row.pulled_on), now)):
                        done.append(t)
                if done:
                    gc_sweep.delete_tags(tx, *_pairs((t.repository_id, t.tag) for t in done))
            self._delete_objects([k for t in done for k in keys[(t.repository, t.tag)]])
        self.counts.tags += len(done)
        return [t for t in batch if t not in done]

    # ---------------------------------------------------------------- manifests

    def manifests(self, items: Sequence[ManifestItem]) -> None:
        pending = list(items)
        self.progress.phase("manifests", len(pending))
        for _ in range(MAX_MANIFEST_PASSES):
            left = self._batches(pending, self._manifest_batch, self.batch)
            if not left or len(left) == len(pending):
                pending = left
                break
            pending = left  # referrers and children whose subject/parent just went
        self.counts.skipped += len(pending)

    def _manifest_batch(self, batch: list[ManifestItem]) -> list[ManifestItem]:
        deleted: list[ManifestItem] = []
        with self.conn.cursor() as cur, \
                locked(cur, db_locks.BLOB, (m.digest for m in batch), self.stats) as held:
            ids = [m.id for m in batch if m.digest in held]
            if not ids:
                return batch
            with self.conn.transaction() as tx:
                rows_locked = gc_sweep.lock_manifests(tx, ids)
                # A new statement, hence a new snapshot: what committed before our locks shows.
                confirmed = gc_sweep.confirm_manifests(tx, rows_locked, self.grace,
                                                       self.keep_referrers)
                if confirmed:
                    gc_sweep.delete_manifests(tx, sorted(confirmed))
                deleted = [m for m in batch if m.id in confirmed]
            self._delete_objects([layout.revision_link(m.repository, m.digest) for m in deleted])
        self.counts.manifests += len(deleted)
        return [m for m in batch if m.id not in confirmed]

    # -------------------------------------------------------------------- links

    def links(self, items: Sequence[LinkItem]) -> None:
        self.counts.skipped += len(self._run("links", items, self.batch, self._link_batch))

    def _link_batch(self, batch: list[LinkItem]) -> list[LinkItem]:
        done: list[LinkItem] = []
        with self.conn.cursor() as cur, \
                locked(cur, db_locks.BLOB, (x.digest for x in batch), self.stats) as held:
            todo = [x for x in batch if x.digest in held]
            if not todo:
                return batch
            with self.conn.transaction() as tx:
                confirmed = gc_sweep.confirm_links(
                    tx, *_pairs((x.repository_id, x.digest) for x in todo), self.grace)
                done = [x for x in todo if (x.repository_id, x.digest) in confirmed]
                if done:
                    gc_sweep.delete_links(tx, *_pairs((x.repository_id, x.digest) for x in done))
            self._delete_objects([layout.layer_link(x.repository, x.digest) for x in done])
        self.counts.links += len(done)
        return [x for x in batch if x not in done]

    # -------------------------------------------------------------------- blobs

    def blobs(self, items: Sequence[BlobItem]) -> None:
        self.counts.skipped += len(self._run("blobs", items, self.batch, self._blob_batch))

    def _blob_batch(self, batch: list[BlobItem]) -> list[BlobItem]:
        done: dict[str, int] = {}
        with self.conn.cursor() as cur, \
                locked(cur, db_locks.BLOB, (b.digest for b in batch), self.stats) as held:
            if not held:
                return batch
            with self.conn.transaction() as tx:
                done = gc_sweep.confirm_blobs(tx, sorted(held), self.grace)
                if done:
                    gc_sweep.delete_blobs(tx, sorted(done))
            self._delete_objects([layout.blob_data(d) for d in sorted(done)])
        self.counts.blobs += len(done)
        self.counts.bytes_freed += sum(done.values())
        return [b for b in batch if b.digest not in done]

    # ------------------------------------------------------------------ uploads

    def uploads(self, items: Sequence[UploadItem]) -> None:
        self.counts.skipped += len(self._run("uploads", items, min(self.batch, 100),
                                             self._upload_batch))

    def _upload_batch(self, batch: list[UploadItem]) -> list[UploadItem]:
        with self.conn.transaction() as tx:
            # The row lock of a PATCH in progress makes SKIP LOCKED pass over its upload.
            confirmed = gc_sweep.lock_abandoned_uploads(tx, [u.id for u in batch], self.max_age)
            if confirmed:
                gc_sweep.delete_uploads(tx, sorted(confirmed))
        done = [u for u in batch if u.id in confirmed]
        # The rows are gone, and nobody else knows these upload ids: no lock needed.
        for u in done:
            key = layout.upload_data(u.repository, u.id)
            if u.storage_upload_id:
                try:
                    self.reg.storage.multipart_abort(key, u.storage_upload_id)
                except StorageError as exc:
                    self.counts.storage_errors += 1
                    log.warning("gc: could not abort the multipart upload of %s: %s", u.id, exc)
        self._delete_objects([layout.upload_data(u.repository, u.id) for u in done])
        self.counts.uploads += len(done)
        return [u for u in batch if u.id not in confirmed]

    # ------------------------------------------------------------- repositories

    def repositories(self, items: Sequence[RepositoryItem]) -> None:
        self.counts.skipped += len(self._run("repositories", items, min(self.batch, 100),
                                             self._repository_batch))

    def _repository_batch(self, batch: list[RepositoryItem]) -> list[RepositoryItem]:
        with self.conn.transaction() as tx:
            # FOR UPDATE conflicts with the FOR KEY SHARE of writers (ensure_repository and
            # foreign key checks): a repository a push is using right now is skipped.
            rows_locked = gc_sweep.lock_old_repositories(tx, [r.id for r in batch], self.grace)
            confirmed = gc_sweep.confirm_empty_repositories(tx, rows_locked)
            if confirmed:
                gc_sweep.delete_repositories(tx, sorted(confirmed))
        self.counts.repositories += len(confirmed)
        return [r for r in batch if r.id not in confirmed]
