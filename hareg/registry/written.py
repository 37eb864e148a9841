# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What a write request put in storage, and taking it back when its transaction fails.

A manifest PUT or a promotion writes storage only after every check that can refuse it has
passed (invariant 6 of docs/architecture.rst), then commits. If the transaction still fails
after the first storage write (the database goes away, a statement fails, the COMMIT fails),
the objects it wrote would be adopted by ``hareg rebuild-db``: a revision link without a row
becomes a manifest, a tag's current link becomes the tag. :func:`taken_back_on_failure` records
every such write and, when the block raises, makes storage agree with the committed rows again,
object by object, under the lock the object's writers take (as the orphans pass of the sweep
does, docs/gc.rst):

- a tag written: under the tag's TAG lock, the current link is rewritten to the digest the
  ``tags`` row names, or the tag directory removed when there is no row; the index entry of a
  manifest the repository does not have is removed;
- a payload and revision link written: under the digest's EXCLUSIVE BLOB lock (every writer of
  the digest has ended; none starts meanwhile), the revision link goes when the repository has
  no row for it and the payload when no ``blobs`` row knows the digest;
- a layer link written (promotion): under the same lock, when the repository has no
  ``repository_blobs`` row for it.

So nothing a concurrent writer committed is ever taken back: the decision is made on the rows,
after that writer ended. Taking back is best effort: a failure is logged and what is left is
what a crash leaves (``hareg check`` reports it, ``hareg gc --orphans`` removes it).

A DELETE is the mirror image: it removes links inside its transaction, and if the transaction
then fails the rows are still there. :func:`restored_on_failure` puts back, under the same
locks, the links of what the rows still name (a tag's current and index links, a revision
link), so that ``hareg rebuild-db`` does not drop what the database kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..db import blobs as blob_rows
from ..db import locks
from ..db import manifests as manifest_rows
from ..db import tags as tag_rows
from ..storage import layout
from .context import Registry

log = logging.getLogger(__name__)

#: How long taking back waits for other writers of the same digest (they hold its shared lock
#: for one transaction).
LOCK_WAIT_MS = 5000


@dataclass
class Written:
    """Storage objects a request wrote in one repository (keys follow from these)."""

    repository: str
    manifests: set[str] = field(default_factory=set)  # payload (blob data) and revision link
    layers: set[str] = field(default_factory=set)     # layer links
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest its links now name

    def __bool__(self) -> bool:
        return bool(self.manifests or self.layers or self.tags)


@contextmanager
def taken_back_on_failure(reg: Registry, written: list[Written]) -> Iterator[None]:
    """Run the block (one transaction that records its writes in ``written``); if it raises,
    take back what was recorded, after its transaction ended, then re-raise."""
    try:
        yield
    except BaseException:
        for w in written:
            if w:
                take_back(reg, w)
        raise


def take_back(reg: Registry, w: Written) -> None:
    """Make storage agree with the committed rows for everything ``w`` records."""
    for tag, digest in sorted(w.tags.items()):
        _guarded(_tag, reg, w.repository, tag, digest)
    for digest in sorted(w.layers):
        _guarded(_layer, reg, w.repository, digest)
    for digest in sorted(w.manifests):
        _guarded(_manifest, reg, w.repository, digest)


@dataclass
class Removed:
    """Links a DELETE removed in one repository (recorded as it removes them)."""

    repository: str
    tags: list[str] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)  # digests whose revision link went


@contextmanager
def restored_on_failure(reg: Registry, removed: Removed) -> Iterator[None]:
    """Run the block (one transaction that records its removals in ``removed``); if it raises,
    put back the links its rows still name, after its transaction ended, then re-raise."""
    try:
        yield
    except BaseException:
        for tag in removed.tags:
            _guarded(_relink_tag, reg, removed.repository, tag)
        for digest in removed.revisions:
            _guarded(_relink_revision, reg, removed.repository, digest)
        raise


def _guarded(func: Callable[..., None], reg: Registry, *args: str) -> None:
    try:
        func(reg, *args)
    except Exception:
        log.warning("could not take back storage written by a failed request: %s %s",
                    func.__name__.lstrip("_"), " ".join(args), exc_info=True)


def _tag(reg: Registry, repository: str, tag: str, digest: str) -> None:
    with reg.db.transaction() as cur:
        locks.lock_tag(cur, repository, tag)
        row = tag_rows.tagged_manifest(cur, repository, tag)
        if row is None:
            reg.storage.delete_prefix(layout.tag_dir(repository, tag))
            return
        reg.storage.put_bytes(layout.tag_current_link(repository, tag),
                              layout.link_content(row.digest))
        if not manifest_rows.exists_by_name(cur, repository, digest):
            reg.storage.delete(layout.tag_index_link(repository, tag, digest))


def _layer(reg: Registry, repository: str, digest: str) -> None:
    with reg.db.transaction() as cur:
        manifest_rows.lock_digest_exclusive(cur, digest, LOCK_WAIT_MS)
        if not blob_rows.lock_some_link(cur, digest, repository, None):
            reg.storage.delete(layout.layer_link(repository, digest))


def _manifest(reg: Registry, repository: str, digest: str) -> None:
    with reg.db.transaction() as cur:
        manifest_rows.lock_digest_exclusive(cur, digest, LOCK_WAIT_MS)
        if not manifest_rows.exists_by_name(cur, repository, digest):
            reg.storage.delete(layout.revision_link(repository, digest))
        if not blob_rows.blob_exists(cur, digest):
            reg.storage.delete(layout.blob_data(digest))


def _relink_tag(reg: Registry, repository: str, tag: str) -> None:
    with reg.db.transaction() as cur:
        locks.lock_tag(cur, repository, tag)
        row = tag_rows.tagged_manifest(cur, repository, tag)
        if row is not None:
            reg.storage.put_bytes(layout.tag_index_link(repository, tag, row.digest),
                                  layout.link_content(row.digest))
            reg.storage.put_bytes(layout.tag_current_link(repository, tag),
                                  layout.link_content(row.digest))


def _relink_revision(reg: Registry, repository: str, digest: str) -> None:
    with reg.db.transaction() as cur:
        manifest_rows.lock_digest_exclusive(cur, digest, LOCK_WAIT_MS)
        if manifest_rows.exists_by_name(cur, repository, digest):
            reg.storage.put_bytes(layout.revision_link(repository, digest),
                                  layout.link_content(digest))
