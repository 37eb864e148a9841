# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Reading, deleting and mounting blobs. A blob is visible only in repositories that link it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from ..db import blobs as blob_rows
from ..db import locks, repositories
from ..grammar import is_name
from ..storage import layout
from ..storage.base import NotFound
from .context import Registry
from .errors import BlobUnknown, Unsupported
from .names import parse_digest
from .visibility import RepositoryFilter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int


def stat_blob(reg: Registry, repository: str, digest: str) -> BlobInfo:
    digest = str(parse_digest(digest))
    with reg.db.read() as cur:
        size = blob_rows.linked_blob_size(cur, repository, digest)
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


def blob_redirect_url(reg: Registry, info: BlobInfo) -> str | None:
    """A presigned URL the client may fetch the blob from, when ``[storage] redirect`` is on
    (None otherwise, or when the driver cannot presign). Signing is local: no storage call.

    The caller has already checked that the repository links the blob (:func:`stat_blob`):
    the URL grants what a pull of this repository grants, for ``redirect_expiry`` seconds.
    """
    if reg.redirect_expiry <= 0:
        return None
    return reg.storage.presigned_get_url(layout.blob_data(info.digest), reg.redirect_expiry)


def delete_blob(reg: Registry, repository: str, digest: str) -> None:
    """Unlink a blob from one repository; the content goes when garbage collection finds it
    unreferenced everywhere."""
    if not reg.settings.delete_enabled:
        raise Unsupported("deletes are disabled on this registry")
    digest = str(parse_digest(digest))
    with reg.db.transaction() as cur:
        if not blob_rows.unlink_blob(cur, repository, digest):
            raise BlobUnknown(detail={"digest": digest})
        reg.storage.delete(layout.layer_link(repository, digest))


def mount_blob(reg: Registry, repository: str, digest: str, source: str | None, *,
               visible: RepositoryFilter) -> bool:
    """Link a blob into ``repository`` without moving bytes; False when it cannot be mounted
    (the caller then starts a normal upload). With ``source`` None, any repository that links
    the blob will do (the spec's automatic content discovery). Only repositories in
    ``visible`` (those the caller may pull) are mount sources."""
    digest = str(parse_digest(digest))
    if source is not None and not is_name(source):
        return False  # no repository has that name: nothing to mount from
    if visible.regexes == () or (source is not None and not visible.allows(source)):
        return False
    with reg.db.transaction() as cur:
        locks.lock_blob_shared(cur, digest)
        if not blob_rows.lock_some_link(cur, digest, source, visible.regexes):
            return False
        repo_id = repositories.ensure_repository(cur, repository)
        if blob_rows.link_blob(cur, repo_id, digest):
            reg.storage.put_bytes(layout.layer_link(repository, digest),
                                  layout.link_content(digest))
    return True
