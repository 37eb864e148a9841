# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Reading, deleting and mounting blobs. A blob is visible only in repositories that link it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from ..db import locks, queries
from ..storage import layout
from ..storage.base import NotFound
from . import visibility
from .context import Registry
from .errors import BlobUnknown, Unsupported
from .names import parse_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int


def stat_blob(reg: Registry, repository: str, digest: str) -> BlobInfo:
    digest = str(parse_digest(digest))
    with reg.db.read() as cur:
        size = queries.linked_blob_size(cur, repository, digest)
    if size is None:
        raise BlobUnknown(detail={"digest": digest})
    return BlobInfo(digest, size)


def open_blob(reg: Registry, info: BlobInfo, offset: int = 0,
              length: int | None = None) -> Iterator[bytes]:
    """Stream (part of) a blob; the storage raises NotFound before the first byte."""
    try:
        return reg.storage.open_range(layout.blob_data(info.digest), offset, length)
    except NotFound:
        log.error("blob %s has a database row but no object in storage", info.digest)
        raise BlobUnknown(detail={"digest": info.digest}) from None


def blob_local_path(reg: Registry, info: BlobInfo) -> str | None:
    """Where the filesystem driver keeps the blob, so the server can use sendfile."""
    return reg.storage.local_path(layout.blob_data(info.digest))


def delete_blob(reg: Registry, repository: str, digest: str) -> None:
    """Unlink a blob from one repository; the content goes when garbage collection finds it
    unreferenced everywhere."""
    if not reg.settings.delete_enabled:
        raise Unsupported("deletes are disabled on this registry")
    digest = str(parse_digest(digest))
    with reg.db.transaction() as cur:
        cur.execute(
            "DELETE FROM repository_blobs rb USING repositories r"
            " WHERE rb.repository_id = r.id AND r.name = %s AND rb.digest = %s",
            (repository, digest),
        )
        if cur.rowcount == 0:
            raise BlobUnknown(detail={"digest": digest})
        reg.storage.delete(layout.layer_link(repository, digest))


def mount_blob(reg: Registry, repository: str, digest: str, source: str | None) -> bool:
    """Link a blob into ``repository`` without moving bytes; False when it cannot be mounted
    (the caller then starts a normal upload). With ``source`` None, any repository that links
    the blob will do (the spec's automatic content discovery)."""
    digest = str(parse_digest(digest))
    visible = visibility.current()  # mount only from repositories the caller may pull
    if visible.regexes == () or (source is not None and not visible.allows(source)):
        return False
    with reg.db.transaction() as cur:
        locks.xact_lock_shared(cur, locks.BLOB, digest)
        sql = ("SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id"
               " WHERE rb.digest = %s")
        args: tuple = (digest,)
        if source is not None:
            sql += " AND r.name = %s"
            args = (digest, source)
        elif not visible.everything:
            sql += " AND r.name ~ ANY(%s)"
            args = (digest, list(visible.regexes))
        cur.execute(sql + " LIMIT 1 FOR SHARE OF rb", args)
        if cur.fetchone() is None:
            return False
        repo_id = queries.ensure_repository(cur, repository)
        if queries.link_blob(cur, repo_id, digest):
            reg.storage.put_bytes(layout.layer_link(repository, digest),
                                  layout.link_content(digest))
    return True
