# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Objects in the bucket that no row knows: ``hareg gc --orphans``.

They are left by crashes between a storage write and its COMMIT (invariant 3 of
docs/architecture.rst allows that), by storage deletes that failed after the rows were gone,
and by tag index entries of manifests that no longer exist. The pass lists the blobs root and
the repositories root, keeps objects older than the grace period (by their modification time:
clocks of the storage and the database should agree to well within the grace period) whose row
is missing, and deletes them under the same lock a writer of that object takes, after checking
again that no row appeared:

- blob data and layer/revision links: the digest's BLOB lock (writers hold it shared while
  they write the object and insert the row);
- tag current links and tag index entries: the tag's TAG lock;
- upload data: no lock, but only when older than ``upload_max_age`` as well, since an upload
  completes without a row (single-request upload) within one request.

Keys the layout does not know are never touched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg2.extensions import cursor

from ..db import gc_orphans
from ..db import locks as db_locks
from ..db.session import Session
from ..db.session import now as db_now
from ..progress import Progress
from ..registry.context import Registry
from ..storage import layout
from ..storage.base import ObjectInfo, StorageError
from .locks import LockStats, locked
from .sweep import Counts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Orphan:
    key: str
    size: int
    modified: datetime
    kind: str          # blob, layer_link, revision_link, tag_current_link, tag_index_link, upload
    lock_kind: int     # db_locks.BLOB, db_locks.TAG, or 0 for none
    lock_name: str
    repository: str | None = None
    digest: str | None = None
    tag: str | None = None
    upload_id: str | None = None


def classify(info: ObjectInfo) -> Orphan | None:
    """What an object is, and which lock guards it; None for keys the layout does not know."""
    digest = layout.parse_blob_data_key(info.key)
    if digest is not None:
        return Orphan(info.key, info.size, info.modified, "blob", db_locks.BLOB, digest,
                      digest=digest)
    parsed = layout.parse_repository_key(info.key)
    if parsed is None:
        return None
    kind = str(parsed.kind)
    if parsed.kind in (layout.RepoKeyKind.LAYER_LINK, layout.RepoKeyKind.REVISION_LINK):
        assert parsed.digest is not None
        return Orphan(info.key, info.size, info.modified, kind, db_locks.BLOB, parsed.digest,
                      repository=parsed.repo, digest=parsed.digest)
    if parsed.kind in (layout.RepoKeyKind.TAG_CURRENT_LINK, layout.RepoKeyKind.TAG_INDEX_LINK):
        assert parsed.tag is not None
        return Orphan(info.key, info.size, info.modified, kind, db_locks.TAG,
                      db_locks.tag_key(parsed.repo, parsed.tag), repository=parsed.repo,
                      digest=parsed.digest, tag=parsed.tag)
    return Orphan(info.key, info.size, info.modified, kind, 0, "", repository=parsed.repo,
                  upload_id=parsed.upload_id)


def _is_uuid(value: str | None) -> bool:
    try:
        return str(uuid.UUID(value or "")) == value
    except ValueError:
        return False


def _known(cur: cursor, items: list[Orphan]) -> set[str]:
    """Keys among ``items`` whose row exists (one query per kind)."""
    known: set[str] = set()

    def of(kind: str) -> list[Orphan]:
        return [o for o in items if o.kind == kind]

    blobs = of("blob")
    if blobs:
        found = gc_orphans.existing_blobs(cur, [o.digest for o in blobs if o.digest])
        known.update(o.key for o in blobs if o.digest in found)
    for kind, existing in (("layer_link", gc_orphans.existing_links),
                           ("revision_link", gc_orphans.existing_manifests),
                           ("tag_current_link", gc_orphans.existing_tags)):
        group = of(kind)
        if group:
            second = [str(o.tag if kind == "tag_current_link" else o.digest) for o in group]
            found_pairs = existing(cur, [str(o.repository) for o in group], second)
            known.update(o.key for o, x in zip(group, second, strict=True)
                         if (o.repository, x) in found_pairs)
    index = of("tag_index_link")
    if index:  # an index entry is known while its tag and its manifest both exist
        found3 = gc_orphans.existing_tag_index_entries(
            cur, [str(o.repository) for o in index], [str(o.tag) for o in index],
            [str(o.digest) for o in index])
        known.update(o.key for o in index if (o.repository, o.tag, o.digest) in found3)
    uploads = [o for o in of("upload") if _is_uuid(o.upload_id)]  # others are not ours
    if uploads:
        found = gc_orphans.existing_uploads(cur, [str(o.upload_id) for o in uploads])
        known.update(o.key for o in uploads if o.upload_id in found)
    return known


def _listing(reg: Registry) -> Iterator[ObjectInfo]:
    yield from reg.storage.list_objects(layout.blobs_root())
    yield from reg.storage.list_objects(layout.repositories_root())


def find_orphans(reg: Registry, conn: Session, grace: int, upload_max_age: int,
                 batch: int, progress: Progress) -> Iterator[list[Orphan]]:
    """Batches of orphan candidates: old enough and without a row at the time of the check."""
    with conn.cursor() as cur:
        now = db_now(cur)
    cutoff = now - timedelta(seconds=grace)
    upload_cutoff = now - timedelta(seconds=max(grace, upload_max_age))
    progress.phase("orphans", None)
    pending: list[Orphan] = []

    def flush() -> list[Orphan]:
        with conn.cursor() as cur:
            known = _known(cur, pending)
        return [o for o in pending if o.key not in known]

    for info in _listing(reg):
        progress.advance()
        item = classify(info)
        if item is None:
            log.debug("gc: orphans: leaving unknown key %s", info.key)
            continue
        limit = upload_cutoff if item.kind == "upload" else cutoff
        if item.modified >= limit:
            continue
        pending.append(item)
        if len(pending) >= batch:
            found = flush()
            pending = []
            if found:
                yield found
    if pending:
        found = flush()
        if found:
            yield found


def delete_orphans(reg: Registry, conn: Session, items: list[Orphan], stats: LockStats,
                   counts: Counts) -> None:
    """Delete a batch of candidates: lock, check again that no row appeared, delete, unlock."""
    for kind in (db_locks.BLOB, db_locks.TAG, 0):
        group = [o for o in items if o.lock_kind == kind]
        if not group:
            continue
        with conn.cursor() as cur, locked(cur, kind, (o.lock_name for o in group if kind),
                                          stats) as held:
            todo = [o for o in group if not kind or o.lock_name in held]
            if not todo:
                continue
            known = _known(cur, todo)  # a new statement: rows committed before our locks show
            gone = [o for o in todo if o.key not in known]
            try:
                reg.storage.delete_many([o.key for o in gone])
            except StorageError as exc:  # still orphans: the next --orphans pass retries
                counts.storage_errors += 1
                log.warning("gc: could not delete %d orphans: %s", len(gone), exc)
                gone = []
        counts.orphans += len(gone)
        counts.bytes_freed += sum(o.size for o in gone)
        counts.skipped += len(group) - len(gone)
