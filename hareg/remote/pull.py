# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Pulling through a remote namespace: the rules of docs/virtual-remote.rst, "Remote
namespaces". The API (hareg.api) and virtual namespaces (hareg.virtual) call
:func:`get_manifest` and :func:`get_blob`; both raise :class:`UpstreamUnavailable` (503, its
message names the upstream) when the upstream is needed and cannot answer within
``remote.timeout``.

- **Manifest by tag**: from the cache while the upstream confirmed the tag less than
  ``remote.tag_ttl`` ago (``tags.upstream_checked_at``, the database's clock). Otherwise the
  upstream is asked with a HEAD (forwarding the client's Accept): the same digest only
  restarts the TTL; another one is fetched, verified, parsed and stored with its tag through
  the registry's own write path (hareg.registry.manifests.put_manifest, ``cache=True``: the
  cache is sparse, its blobs come when pulled). Upstream down: the cached answer, past its TTL,
  with a ``Warning`` (:data:`STALE_WARNING`).
- **Manifest by digest**: fetched once, verified against the digest, then served from the
  cache forever (content addressed: it cannot change).
- **Blob**: cached, it is served like a local blob; otherwise hareg.remote.fetch streams it
  while writing it to the cache, fetched once cluster-wide.

No database connection is held while the upstream is asked (invariant 7): each step borrows
one for a statement or a short transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..db import blobs as blob_rows
from ..db import manifests as manifest_rows
from ..db import remote_cache as remote_rows
from ..registry import manifests
from ..registry.blobs import BlobInfo
from ..registry.context import Registry
from ..registry.errors import DigestInvalid, ManifestInvalid, ManifestUnknown
from ..registry.formats import MANIFEST_TYPES
from ..registry.hashing import ResumableHash
from ..registry.names import looks_like_digest, parse_digest, validate_tag
from ..registry.namespaces import Remote
from .fetch import UpstreamBlob, head_blob, open_blob
from .paths import check_allowed
from .upstream import Deadline, Upstream, UpstreamInvalid, UpstreamUnavailable, discard

__all__ = ["STALE_WARNING", "CachedManifest", "RemoteBlob", "UpstreamBlob", "UpstreamInvalid",
           "UpstreamUnavailable", "cache_repository", "get_blob", "get_manifest",
           "record_pulled", "tag_is_fresh"]

log = logging.getLogger(__name__)

#: The ``Warning`` header of an answer served from the cache past its TTL because the
#: upstream could not confirm it (RFC 7234's warn-code 110).
STALE_WARNING = '110 hareg "Response is Stale"'
#: What hareg can store, in its order of preference (sent when the client's Accept names none).
STORABLE = ("application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json")
_PULLED_MEMORY = 50_000

#: What :func:`get_blob` returns: a cached blob (serve it like a local one) or an uncached one.
RemoteBlob = BlobInfo | UpstreamBlob


@dataclass(frozen=True)
class CachedManifest:
    digest: str
    media_type: str
    size: int
    payload: bytes | None  # None for HEAD
    warning: str | None = None  # STALE_WARNING when served past the TTL, upstream down


def cache_repository(remote: Remote, path: str) -> str:
    """The local repository that caches ``path`` of ``remote``."""
    return f"{remote.name}/{path}"


def tag_is_fresh(upstream_checked_at: datetime | None, remote: Remote,
                 now: datetime | None = None) -> bool:
    """Whether a cached tag confirmed upstream at ``upstream_checked_at`` is still trusted
    (``upstream_checked_at + tag_ttl > now``; never for NULL: a local tag or one restored by
    rebuild-db). Queries compute the same in SQL: hareg.db.remote_cache.fresh_condition."""
    if upstream_checked_at is None:
        return False
    now = now or datetime.now(UTC)
    return upstream_checked_at + timedelta(seconds=remote.tag_ttl) > now


def upstream_accept(accept: Sequence[str]) -> str:
    """The Accept header sent upstream: the client's media types that hareg can store (in the
    client's order), else all of them. A type hareg cannot store (Docker schema 1) is never
    asked for: its answer could not be cached."""
    wanted: list[str] = []
    for value in accept:
        for item in value.split(","):
            media = item.split(";")[0].strip().lower()
            if media in MANIFEST_TYPES and media not in wanted:
                wanted.append(media)
    return ", ".join(wanted or STORABLE)


_pulled: dict[tuple[str, str], date] = {}


def record_pulled(reg: Registry, repository: str, digest: str) -> None:
    """``manifests.pulled_on`` = today (UTC), written at most once per manifest, day and
    process: retention's ``not_pulled_for`` reads it (hareg.gc.policy). Called for every
    manifest answer through a remote name, by tag or by digest, and by hareg.virtual when a
    remote member's cache answers through a virtual name."""
    today = datetime.now(UTC).date()
    key = (repository, digest)
    if _pulled.get(key) == today:
        return
    if len(_pulled) >= _PULLED_MEMORY:
        _pulled.clear()
    try:
        with reg.db.read() as cur:
            remote_rows.record_pulled(cur, repository, digest)
    except Exception:  # bookkeeping must not fail a pull
        log.warning("could not record the pull of %s@%s", repository, digest, exc_info=True)
        return
    _pulled[key] = today


def get_manifest(reg: Registry, remote: Remote, path: str, reference: str,
                 accept: Sequence[str], *, head: bool = False) -> CachedManifest:
    """The manifest ``reference`` of upstream ``path`` through ``remote`` (module doc).

    Raises NameUnknown (the remote's patterns exclude the path), ManifestUnknown (the
    upstream does not have it and nothing is cached) or UpstreamUnavailable.
    """
    repository = cache_repository(remote, path)
    upath = check_allowed(remote, path)
    upstream = Upstream(remote)
    if looks_like_digest(reference):
        digest = str(parse_digest(reference))
        with reg.db.read() as cur:
            row = manifest_rows.find_by_digest(cur, repository, digest, not head)
        if row is not None:
            record_pulled(reg, repository, digest)
            return CachedManifest(row.digest, row.media_type, row.size, row.payload)
        found = _fetch_and_store(reg, upstream, repository, upath, digest, accept,
                                 Deadline(remote.timeout))
        return _answer(found, head)
    tag = validate_tag(reference)
    with reg.db.read() as cur:
        cached = remote_rows.cached_tag(cur, repository, tag, remote.tag_ttl, not head)
    if cached is not None and cached.fresh:
        record_pulled(reg, repository, cached.digest)
        return CachedManifest(cached.digest, cached.media_type, cached.size, cached.payload)
    deadline = Deadline(remote.timeout)
    try:
        if cached is not None:
            current = _head_manifest(upstream, upath, tag, accept, deadline)
            if current == cached.digest:
                with reg.db.read() as cur:
                    remote_rows.confirm_tag(cur, repository, tag, current)
                record_pulled(reg, repository, cached.digest)
                return CachedManifest(cached.digest, cached.media_type, cached.size,
                                      cached.payload)
        found = _fetch_and_store(reg, upstream, repository, upath, tag, accept, deadline)
    except UpstreamUnavailable as exc:
        if cached is None:
            raise
        log.warning("serving %s:%s from the cache past its TTL: %s", repository, tag,
                    exc.message)
        record_pulled(reg, repository, cached.digest)  # in use: an outage must not expire it
        return CachedManifest(cached.digest, cached.media_type, cached.size, cached.payload,
                              STALE_WARNING)
    return _answer(found, head)


def _answer(found: CachedManifest, head: bool) -> CachedManifest:
    return CachedManifest(found.digest, found.media_type, found.size,
                          None if head else found.payload)


def _head_manifest(upstream: Upstream, upath: str, tag: str, accept: Sequence[str],
                   deadline: Deadline) -> str | None:
    """The digest the upstream's tag names now (None when its HEAD does not say)."""
    response = upstream.request("HEAD", f"{upath}/manifests/{tag}", upath, "manifest HEAD",
                                headers={"Accept": upstream_accept(accept)}, deadline=deadline)
    if response.status == 404:
        raise ManifestUnknown(detail={"tag": tag})
    if response.status != 200:
        raise upstream.unavailable("manifest HEAD", f"the upstream answered {response.status}")
    value = response.headers.get("Docker-Content-Digest")
    try:
        return str(parse_digest(value)) if value else None
    except DigestInvalid:
        return None


def _digest(payload: bytes, algorithm: str) -> str:
    hasher = ResumableHash(algorithm)
    hasher.update(payload)
    return hasher.digest()


def _fetch_and_store(reg: Registry, upstream: Upstream, repository: str, upath: str,
                     reference: str, accept: Sequence[str],
                     deadline: Deadline) -> CachedManifest:
    """GET the manifest upstream, verify it, store it in the cache (with its tag when
    ``reference`` is one) and return it."""
    what = "manifest GET"
    response = upstream.request("GET", f"{upath}/manifests/{reference}", upath, what,
                                headers={"Accept": upstream_accept(accept)},
                                deadline=deadline, stream=True)
    if response.status != 200:
        status = response.status
        discard(response)
        if status == 404:
            raise ManifestUnknown(detail={"reference": reference})
        raise upstream.unavailable(what, f"the upstream answered {status}")
    media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    said = response.headers.get("Docker-Content-Digest")
    payload = upstream.read_body(response, deadline, what, reg.settings.max_manifest_size)
    expected = reference if looks_like_digest(reference) else said
    digest = _digest(payload, "sha256")
    if expected:
        try:
            wanted = parse_digest(expected)
        except DigestInvalid:
            raise upstream.invalid(what, "its Docker-Content-Digest is not a digest") from None
        if _digest(payload, wanted.algorithm) != str(wanted):
            raise upstream.invalid(what, f"the manifest's bytes do not match {wanted}")
        digest = str(wanted)
    try:
        pushed = manifests.put_manifest(reg, repository, reference, payload, media_type,
                                        cache=True)
    except ManifestInvalid as exc:
        raise upstream.invalid(what, f"hareg cannot store this manifest: {exc.message}") \
            from None
    if pushed.digest != digest and looks_like_digest(reference):
        raise upstream.invalid(what, "digest mismatch")  # cannot happen: checked above
    record_pulled(reg, repository, pushed.digest)
    media = media_type if media_type in MANIFEST_TYPES else _stored_type(reg, repository,
                                                                       pushed.digest)
    return CachedManifest(pushed.digest, media, len(payload), payload)


def _stored_type(reg: Registry, repository: str, digest: str) -> str:
    with reg.db.read() as cur:
        row = manifest_rows.find_by_digest(cur, repository, digest, False)
    return row.media_type if row else "application/octet-stream"


def get_blob(reg: Registry, remote: Remote, path: str, digest: str, *,
             head: bool = False) -> RemoteBlob:
    """The blob ``digest`` of upstream ``path``: a BlobInfo when cached (serve it as a local
    blob: its repository is :func:`cache_repository`); otherwise an UpstreamBlob whose chunks
    (GET) write it into the cache as they are read, or only its size (HEAD: asked upstream,
    nothing fetched). Raises NameUnknown, BlobUnknown or UpstreamUnavailable."""
    repository = cache_repository(remote, path)
    upath = check_allowed(remote, path)
    digest = str(parse_digest(digest))
    if head:
        with reg.db.read() as cur:
            size = blob_rows.linked_blob_size(cur, repository, digest)
        if size is not None:
            return BlobInfo(digest, size)
        return UpstreamBlob(digest, head_blob(Upstream(remote), upath, digest))
    return open_blob(reg, remote, repository, upath, digest)
