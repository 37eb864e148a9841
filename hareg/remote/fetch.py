# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""An uncached blob: fetched from the upstream once, streamed to the client while it is
written to storage.

**Once, cluster-wide.** The first pull of a digest claims its fetch in PostgreSQL (a
``remote_fetches`` row with a lease, one statement, like the upload claims of
hareg.registry.uploads). Every other pull of that digest, on any instance, sees the live claim
and waits: it polls with short statements, holding no connection in between (invariant 7),
until the blob row appears (then it is served from the cache, like a local blob) or the claim
goes away (the fetch failed: it claims the fetch itself) or expires (its holder died or made
no progress for a lease: it takes the claim over). The holder renews its lease as bytes
arrive, so a waiter waits as long as the fetch makes progress, and at most a lease longer.
Waiters do not stream the growing object: on S3 the parts of an unfinished multipart upload
cannot be read, and one rule for both drivers is simpler to trust.

**The tee.** The holder reads the upstream's body in chunks; each chunk goes to the storage
writer (whole multipart parts as they fill: memory holds at most one part) and to the client,
one chunk late: the last chunk is sent only after the digest was verified and the blob
committed. On a mismatch nothing is committed, what was written is removed, and the response
is broken off before its last bytes, so the client cannot take the wrong bytes for a complete
blob; the next pull fetches it again (and fails again while the upstream serves bad bytes).
If the client goes away, the fetch stops and the claim is released (a waiter takes over).

**Cost.** The chunks are hashed in gevent's thread pool (:func:`off_loop`). The parts are not
fsynced one by one but together when the multipart upload completes, before the row commits
(invariant 3): a crash before leaves an orphan and no row. docs/performance.rst, "First pull
through a remote", says where the time of a first pull goes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import urllib3
from psycopg2.extensions import cursor
from urllib3.exceptions import HTTPError

from ..db import blobs as blob_rows
from ..db import locks, repositories
from ..db import remote_cache as remote_rows
from ..offloop import off_loop
from ..registry.blobs import BlobInfo
from ..registry.context import Registry
from ..registry.errors import BlobUnknown, DigestInvalid, ManifestInvalid, RegistryError
from ..registry.formats import parse_manifest
from ..registry.namespaces import Remote
from ..registry.uploads import StreamedBlob
from ..storage import layout
from .upstream import Deadline, Upstream, UpstreamInvalid, UpstreamUnavailable

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
#: How often a waiting pull looks again (seconds).
POLL_INTERVAL = 0.2
#: The shortest lease of a fetch claim (seconds); a longer ``remote.timeout`` lengthens it.
MIN_LEASE = 15.0
#: A waiter gives up after this long even while the holder makes progress.
MAX_WAIT = 3600.0
#: How long a failed fetch's error is given to the pulls of its digest without asking the
#: upstream again (they would most likely fail the same way, each after ``remote.timeout``).
FAILURE_MEMORY = 3.0


def lease_of(remote: Remote) -> float:
    return max(MIN_LEASE, remote.timeout * 2)


@dataclass
class UpstreamBlob:
    """An uncached blob: its size (None when the upstream did not say) and, for GET, the
    chunks to send (writing the blob into the cache as they are read); None for HEAD."""

    digest: str
    size: int | None
    chunks: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        """The chunks (nothing for HEAD). Whoever iterates must close the iterator (WSGI
        servers do); an UpstreamBlob dropped unread releases its fetch when collected."""
        return self.chunks if self.chunks is not None else iter(())

    def drain(self) -> None:
        """Read the whole blob into the cache without sending it anywhere (a Range request
        on an uncached blob is answered from the cache afterwards)."""
        for _ in self.chunks or ():
            pass


def head_blob(upstream: Upstream, upath: str, digest: str) -> int | None:
    """The blob's size upstream (None when not given); BlobUnknown when it has none."""
    deadline = Deadline(upstream.remote.timeout)
    response = upstream.request("HEAD", f"{upath}/blobs/{digest}", upath, "blob HEAD",
                                deadline=deadline)
    if response.status == 404:
        raise BlobUnknown(detail={"digest": digest})
    if response.status != 200:
        raise upstream.unavailable("blob HEAD", f"the upstream answered {response.status}")
    return _length(response)


def _length(response: urllib3.BaseHTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def link_existing(reg: Registry, upstream: Upstream, repository: str, upath: str,
                  digest: str) -> BlobInfo | None:
    """The blob is stored already (cached for another path, or pushed): link it into the cache
    repository without a download, once the upstream confirmed that it has it under this path
    (so a remote name never shows local content the upstream does not have). None when no
    blob row exists."""
    with reg.db.read() as cur:
        exists = blob_rows.blob_exists(cur, digest)
    if not exists:
        return None
    head_blob(upstream, upath, digest)
    with reg.db.transaction() as cur:
        locks.lock_blob_shared(cur, digest)
        if not blob_rows.blob_exists(cur, digest):
            return None  # swept meanwhile: fetch it
        repo_id = repositories.ensure_repository(cur, repository)
        if blob_rows.link_blob(cur, repo_id, digest):
            reg.storage.put_bytes(layout.layer_link(repository, digest),
                                  layout.link_content(digest))
        _reference_from_manifests(cur, repo_id, digest)
        size = blob_rows.linked_blob_size(cur, repository, digest)
    return BlobInfo(digest, size) if size is not None else None


def _reference_from_manifests(cur: cursor, repo_id: int, digest: str) -> None:
    """Cached manifests are stored before their blobs: once a blob is cached, the manifests
    of the repository that need it reference it (so garbage collection keeps the link)."""
    needing = []
    for manifest_id, media_type, payload in remote_rows.manifests_mentioning(cur, repo_id,
                                                                             digest):
        with suppress(ManifestInvalid):
            parsed = parse_manifest(payload, media_type)
            if digest in parsed.required_blobs or digest in parsed.optional_blobs:
                needing.append(manifest_id)
    remote_rows.add_blob_reference(cur, needing, digest)


def open_blob(reg: Registry, remote: Remote, repository: str, upath: str,
              digest: str) -> BlobInfo | UpstreamBlob:
    """A cached blob (BlobInfo), or an uncached one being fetched by this request
    (UpstreamBlob); waits while another request, on any instance, fetches it."""
    upstream = Upstream(remote)
    lease = lease_of(remote)
    claim = str(uuid.uuid4())
    started = time.monotonic()
    linked_checked = False
    while True:
        fetch = None
        with reg.db.read() as cur:
            size = blob_rows.linked_blob_size(cur, repository, digest)
            claimed = size is None and remote_rows.claim_fetch(cur, digest, repository,
                                                               claim, lease)
            if size is None and not claimed:
                fetch = remote_rows.current_fetch(cur, digest)
        if size is not None:
            return BlobInfo(digest, size)
        if claimed:
            break
        if fetch is not None and fetch.failure:
            raise _recorded(fetch.failure)
        if not linked_checked:
            linked_checked = True
            info = link_existing(reg, upstream, repository, upath, digest)
            if info is not None:
                return info
        if time.monotonic() - started > MAX_WAIT:
            raise upstream.unavailable("blob", "another pull has been fetching this blob for"
                                               " too long")
        time.sleep(POLL_INTERVAL)
    try:
        # Another path cached it meanwhile (or it was pushed): no download.
        info = link_existing(reg, upstream, repository, upath, digest)
        if info is not None:
            _release(reg, digest, claim)
            return info
        deadline = Deadline(remote.timeout)
        response = upstream.request("GET", f"{upath}/blobs/{digest}", upath, "blob GET",
                                    deadline=deadline, stream=True, per_read=remote.timeout)
        if response.status != 200:
            status = response.status
            with suppress(HTTPError):
                response.drain_conn()
            response.release_conn()
            if status == 404:
                raise BlobUnknown(detail={"digest": digest})
            raise upstream.unavailable("blob GET", f"the upstream answered {status}")
        size = _length(response)
        if size is not None:
            with reg.db.read() as cur:
                remote_rows.renew_fetch(cur, digest, claim, lease, size)
    except RegistryError as exc:
        _fail(reg, digest, claim, exc)
        raise
    except BaseException:
        _release(reg, digest, claim)
        raise
    tee = _tee(reg, upstream, repository, digest, claim, lease, response)
    return UpstreamBlob(digest, size, _Chunks(tee, lambda: _abandon(reg, digest, claim,
                                                                    response)))


class _Chunks:
    """The tee's chunks; closing it before the first chunk was asked for still releases the
    claim and the upstream connection (a generator that never started runs no cleanup)."""

    def __init__(self, tee: Generator[bytes, None, None], abandon: Callable[[], None]) -> None:
        self.tee = tee
        self.abandon = abandon
        self.started = False
        self.closed = False

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> bytes:
        self.started = True
        return next(self.tee)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.started:
            self.abandon()
        self.tee.close()

    def __del__(self) -> None:
        # A caller that dropped the blob without reading or closing it (a HEAD answered from
        # an opened fetch) must not leave the claim to expire: other pulls wait on it.
        with suppress(Exception):
            self.close()


def _abandon(reg: Registry, digest: str, claim: str,
             response: urllib3.BaseHTTPResponse) -> None:
    with suppress(Exception):
        response.close()
        response.release_conn()
    _release(reg, digest, claim)


def _release(reg: Registry, digest: str, claim: str) -> None:
    with suppress(Exception), reg.db.read() as cur:
        remote_rows.release_fetch(cur, digest, claim)


def _fail(reg: Registry, digest: str, claim: str, exc: RegistryError) -> None:
    """Our fetch failed with ``exc``: the pulls waiting for it get the same error at once,
    and so do those of the next :data:`FAILURE_MEMORY` seconds (best effort)."""
    failure = {"status": exc.status, "code": exc.code, "message": exc.message,
               "detail": exc.detail}
    with suppress(Exception), reg.db.read() as cur:
        remote_rows.fail_fetch(cur, digest, claim, failure, FAILURE_MEMORY)


def _recorded(failure: dict[str, Any]) -> RegistryError:
    """The error of a fetch that failed a moment ago, for a pull that waited for it."""
    kind: type[RegistryError] = (BlobUnknown if failure.get("status") == 404 else
                                 UpstreamInvalid if failure.get("status") == 502 else
                                 UpstreamUnavailable)
    return kind(str(failure.get("message") or kind.message), detail=failure.get("detail"))


def _tee(reg: Registry, upstream: Upstream, repository: str, digest: str, claim: str,
         lease: float, response: urllib3.BaseHTTPResponse) -> Generator[bytes, None, None]:
    blob = StreamedBlob(reg, repository, digest, hash_with=off_loop)
    renewed = time.monotonic()
    held: bytes | None = None
    committed = failed = False
    try:
        try:
            for chunk in response.stream(CHUNK):
                if not chunk:
                    continue
                blob.write(chunk)
                if time.monotonic() - renewed > lease / 4:
                    with reg.db.read() as cur:
                        # A claim taken over (we stalled) is not fatal: committing is
                        # idempotent; the other fetch may finish first.
                        remote_rows.renew_fetch(cur, digest, claim, lease)
                    renewed = time.monotonic()
                if held is not None:
                    yield held
                held = chunk
        except HTTPError as exc:
            raise upstream.unavailable("blob GET", f"the download broke off: "
                                                   f"{type(exc).__name__}") from None
        try:
            blob.finish()
        except DigestInvalid:
            log.error("upstream %s served blob %s of %s with bytes that do not match the"
                      " digest: nothing cached", upstream.name, digest, repository)
            raise upstream.invalid("blob GET", f"the bytes served for {digest} do not match"
                                               " the digest; nothing was cached") from None
        with reg.db.transaction() as cur:
            blob.commit(cur)
            repo_id = repositories.ensure_repository(cur, repository)
            _reference_from_manifests(cur, repo_id, digest)
            remote_rows.release_fetch(cur, digest, claim)
        committed = True
        if held is not None:
            yield held
    except RegistryError as exc:
        failed = True
        _fail(reg, digest, claim, exc)
        raise
    finally:
        if not committed:
            response.close()  # unread bytes: the connection cannot be reused
        response.release_conn()
        if not committed:
            blob.discard()
            if not failed:
                _release(reg, digest, claim)
