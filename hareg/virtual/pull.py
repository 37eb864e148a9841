# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Manifests and blobs through a virtual name.

Resolution order: local members, then the caches of remote members, then the remote
upstreams, each group in listed order. The first two groups are one database statement
(hareg/db/virtual.py); the connection goes back to the pool before any upstream is asked
(invariant 7 of docs/architecture.rst).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..db import virtual as rows
from ..registry.blobs import BlobInfo
from ..registry.context import Registry
from ..registry.errors import BlobUnknown, ManifestUnknown, RegistryError
from ..registry.names import looks_like_digest, parse_digest, validate_tag
from ..remote.pull import UpstreamBlob
from . import upstream
from .members import Through


@dataclass(frozen=True)
class Resolved:
    """A manifest found through a virtual name."""

    digest: str
    media_type: str
    size: int
    payload: bytes | None  # None for HEAD
    warning: str | None = None  # a remote member answered from a stale cache


def get_manifest(reg: Registry, via: Through, reference: str, accept: Sequence[str] = (),
                 *, head: bool = False) -> Resolved:
    """The manifest ``reference`` (tag or digest) of the first member that has it."""
    by_digest = looks_like_digest(reference)
    key = str(parse_digest(reference)) if by_digest else validate_tag(reference)
    if via.members:
        with reg.db.read() as cur:
            if by_digest:
                row = rows.manifest_by_digest(cur, via.repositories, key, not head)
            else:
                ttls = [m.remote.tag_ttl if m.remote else None for m in via.members]
                row = rows.manifest_by_tag(cur, via.repositories, ttls, key, not head)
        if row is not None:
            answer = row.manifest
            if via.members[row.position].remote is not None:  # a remote member's cache:
                # retention's not_pulled_for reads the pull (hareg.remote.pull.record_pulled)
                upstream.record_pulled(reg, via.repositories[row.position], answer.digest)
            return Resolved(answer.digest, answer.media_type, answer.size, answer.payload)
    failure: RegistryError | None = None
    for member in via.remotes:
        assert member.remote is not None
        try:
            found = upstream.get_manifest(reg, member.remote, via.path, key, accept, head=head)
        except RegistryError as exc:  # the upstream is down: the next member may have it
            failure = failure or exc
            continue
        if found is not None:
            return Resolved(found.digest, found.media_type, found.size,
                            None if head else found.payload, found.warning)
    if failure is not None:
        raise failure  # names the upstream that could not answer (a member the caller may pull)
    raise ManifestUnknown(detail={"reference": reference})


def stat_blob(reg: Registry, via: Through, digest: str, *, head: bool = False
              ) -> BlobInfo | UpstreamBlob:
    """The blob ``digest`` as the first member that links it has it: a :class:`BlobInfo`
    (served like a local blob), or what a remote member's upstream streams (for ``head``,
    only its size: nothing is fetched)."""
    digest = str(parse_digest(digest))
    if via.members:
        with reg.db.read() as cur:
            size = rows.linked_blob_size(cur, via.repositories, digest)
        if size is not None:
            return BlobInfo(digest, size)
    failure: RegistryError | None = None
    for member in via.remotes:
        assert member.remote is not None
        try:
            found = upstream.get_blob(reg, member.remote, via.path, digest, head=head)
        except RegistryError as exc:
            failure = failure or exc
            continue
        if found is not None:
            return found
    if failure is not None:
        raise failure
    raise BlobUnknown(detail={"digest": digest})
