# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Blob uploads that any instance can continue (invariant 2 of docs/architecture.rst).

Everything an upload needs lives in its ``uploads`` row and in storage, never in process memory:
the byte offset, the serialized hash state, the storage multipart upload id and its parts, and
a *tail*. S3 wants every multipart part but the last to be at least 5 MiB, while clients may
PATCH in small chunks; bytes that do not yet fill a part wait in the row's ``tail`` column and
go out with the next PATCH. Chunks of at least the minimum part size never leave a tail, so the
common path writes each byte once and never reads back what it wrote.

A PATCH or PUT never holds a database connection while it reads the body (invariant 7). It
*claims* the row for a short lease in one statement (:func:`hareg.db.uploads.claim_upload`),
streams the body into storage with no connection held, renews the lease as the body arrives
and before every part it writes (one statement each), and stores the new state in one
compare-and-set statement that also releases the claim. So two PATCHes of one upload are
serialized wherever they land: the second finds the live claim and gets ``416`` with the
upload's Range. A PATCH that fails half-way leaves the previous offset valid: the parts it
wrote are overwritten by the retry (same part numbers, same offsets). A claim whose holder died
expires after its lease (:data:`CLAIM_LEASE`) and is taken over.

Finishing is idempotent (issue 14): when a crash or a failed commit came after the storage
side completed (the multipart upload completed, the object possibly already moved to its
content address), a retried ``PUT ?digest=`` finds the completed object, verifies its size and
digest by reading it back (this rare path only) and commits it.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field

from psycopg2.extensions import cursor

from ..db import blobs as blob_rows
from ..db import locks, repositories
from ..db import uploads as upload_rows
from ..storage import layout
from ..storage.base import Buffer, NotFound, StorageDriver
from .context import Registry
from .errors import (
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    RangeInvalid,
    SizeInvalid,
)
from .hashing import SUPPORTED_ALGORITHMS, ResumableHash
from .names import Digest, parse_digest

#: How a writer may run its hashing elsewhere: ``hash_with(hasher.update, chunk)``.
Offload = Callable[[Callable[[bytes], None], bytes], None]

#: Seconds a claim lives without renewal. A live PATCH renews it as the body arrives and before
#: every part it writes; the claim of a request that died blocks its upload at most this long.
CLAIM_LEASE = 15.0

# At most 19 digits: offsets are 64-bit, and int() of a 5,000-digit string raises ValueError.
_CONTENT_RANGE = re.compile(r"\A(?:bytes[ =])?(\d{1,19})-(\d{1,19})(?:/(?:\d{1,19}|\*))?\Z")


@dataclass
class UploadSession:
    id: str
    repository: str
    algorithm: str = "sha256"
    offset: int = 0
    hash_state: bytes | None = None
    storage_upload_id: str | None = None
    parts: list[list] = field(default_factory=list)  # [[part_number, token, size], ...]
    tail: bytes = b""
    finishing: str | None = None  # a PUT completed (or is completing) the storage side

    @property
    def range_header(self) -> str:
        """The spec's ``Range: 0-<last byte>`` (``0-0`` while empty)."""
        return f"0-{max(self.offset - 1, 0)}"

    @property
    def storage_key(self) -> str:
        return layout.upload_data(self.repository, self.id)


def parse_content_range(value: str | None) -> tuple[int, int] | None:
    """``start-end`` (inclusive), also accepting the ``bytes start-end/total`` form."""
    if not value:
        return None
    m = _CONTENT_RANGE.match(value.strip())
    if not m or int(m.group(2)) < int(m.group(1)):
        raise RangeInvalid(f"invalid Content-Range: {value[:100]!r}")
    return int(m.group(1)), int(m.group(2))


class UploadIdle(BlobUploadInvalid):
    """The client sent no body data for longer than the idle timeout; the upload stays at its
    previous offset and can be resumed."""
    status = 408
    message = "no upload data received for too long; resume the upload from its Range"


class UploadStorageGone(BlobUploadInvalid):
    """The storage side of the upload was completed or discarded: a PATCH cannot continue it."""
    message = "the upload cannot take more data: finish it with PUT, or start a new one"


def _range_headers(offset: int) -> dict[str, str]:
    return {"Range": f"0-{max(offset - 1, 0)}"}


class _Claim:
    """Our claim on one upload row: taken, renewed and given up in single short statements."""

    def __init__(self, reg: Registry, session: UploadSession, token: str, lease: float) -> None:
        self.reg = reg
        self.session = session
        self.token = token
        self.lease = lease
        self.start_offset = session.offset
        self.start_upload_id = session.storage_upload_id
        self.renewed = time.monotonic()

    @classmethod
    def take(cls, reg: Registry, repository: str, upload_id: str, lease: float) -> _Claim:
        valid_id = _valid_id(upload_id)
        token = str(uuid.uuid4())
        with reg.db.read() as cur:
            row = upload_rows.claim_upload(cur, valid_id, repository, token, lease)
            if row is None:
                current = upload_rows.get_upload(cur, valid_id, repository)
        if row is None:
            if current is None:
                raise BlobUploadUnknown(detail={"upload": upload_id})
            raise RangeInvalid("another request is writing to this upload right now",
                               headers=_range_headers(current.byte_offset))
        return cls(reg, _session_from_row(row), token, lease)

    def renew(self) -> None:
        with self.reg.db.read() as cur:
            ok = upload_rows.renew_claim(cur, self.session.id, self.token, self.lease)
        if not ok:
            self.lost()
        self.renewed = time.monotonic()

    def keep_alive(self) -> None:
        """Renew once a quarter of the lease has passed (called as the body arrives)."""
        if time.monotonic() - self.renewed > self.lease / 4:
            self.renew()

    def save(self, release: bool = True) -> None:
        """Store the session's new state and (``release``) give the claim up; compare-and-set
        on our claim and the offset we started from."""
        s = self.session
        with self.reg.db.read() as cur:
            ok = upload_rows.save_claimed(
                cur, s.id, self.token, previous_offset=self.start_offset, byte_offset=s.offset,
                hash_state=s.hash_state, storage_upload_id=s.storage_upload_id, parts=s.parts,
                tail=s.tail, finishing=s.finishing, release=release)
        if not ok:
            self.lost()
        self.start_offset = s.offset
        self.start_upload_id = s.storage_upload_id

    def abandon(self) -> None:
        """After a failure: release the claim, the upload stays at its previous state; abort a
        multipart upload this request started and never recorded. Best effort: an unreleased
        claim expires with its lease."""
        s = self.session
        if s.storage_upload_id is not None and s.storage_upload_id != self.start_upload_id:
            with suppress(Exception):
                self.reg.storage.multipart_abort(s.storage_key, s.storage_upload_id)
        with suppress(Exception), self.reg.db.read() as cur:
            upload_rows.release_claim(cur, s.id, self.token)

    def lost(self) -> None:
        with self.reg.db.read() as cur:
            row = upload_rows.get_upload(cur, self.session.id, self.session.repository)
        if row is None:
            raise BlobUploadUnknown(detail={"upload": self.session.id})
        raise RangeInvalid("another request took this upload over", headers=_range_headers(
            row.byte_offset))


class _Writer:
    """Appends a stream to an upload: hashes it, writes whole parts, keeps the rest as tail.

    The parts of a claimed upload are recorded in its row (a later request continues from
    them), so each is durable before it is recorded. A writer without a claim (a blob written
    in one go) records its parts nowhere: they become durable together when the upload is
    completed, and a crash before loses only the unfinished upload.
    """

    def __init__(self, reg: Registry, session: UploadSession,
                 claim: _Claim | None = None, hash_with: Offload | None = None) -> None:
        self.storage: StorageDriver = reg.storage
        self.part_size = max(reg.part_size, reg.storage.min_part_size)
        self.session = session
        self.claim = claim
        self.hasher = ResumableHash(session.algorithm, session.hash_state)
        self.hash_with = hash_with
        self.buffer = bytearray(session.tail)

    def _hash(self, chunk: bytes) -> None:
        if self.hash_with is None:
            self.hasher.update(chunk)
        else:
            self.hash_with(self.hasher.update, chunk)

    def append(self, chunks: Iterable[bytes], content_range: tuple[int, int] | None,
               content_length: int | None) -> None:
        s = self.session
        if content_range is not None:
            start, end = content_range
            if start != s.offset:
                raise RangeInvalid(
                    f"chunk starts at {start} but the upload stands at {s.offset}",
                    headers={"Range": s.range_header})
            if content_length is not None and end - start + 1 != content_length:
                raise RangeInvalid("Content-Range and Content-Length disagree",
                                   headers={"Range": s.range_header})
        received = 0
        for chunk in chunks:
            if not chunk:
                continue
            self._hash(chunk)
            self.buffer += chunk
            received += len(chunk)
            while len(self.buffer) >= self.part_size:
                # Released before the buffer shrinks: a thread that wrote the part (gevent's
                # pool) may still hold its arguments for a moment after answering, and a
                # bytearray with a live view cannot be resized.
                with memoryview(self.buffer) as view, view[: self.part_size] as part:
                    self._put_part(part)
                del self.buffer[: self.part_size]
            if self.claim is not None:
                self.claim.keep_alive()
        if content_length is not None and received != content_length:
            raise SizeInvalid(f"received {received} bytes, Content-Length said {content_length}")
        s.offset += received

    def _put_part(self, data: Buffer) -> None:
        s = self.session
        if self.claim is not None:
            self.claim.renew()  # never write a part for an upload someone else took over
        if s.storage_upload_id is None:
            s.storage_upload_id = self.storage.multipart_start(s.storage_key)
        number = len(s.parts) + 1
        written = sum(p[2] for p in s.parts)
        try:
            token = self.storage.multipart_put(s.storage_key, s.storage_upload_id, number,
                                               written, data, durable=self.claim is not None)
        except NotFound:
            raise UploadStorageGone(detail={"upload": s.id}) from None
        s.parts.append([number, token, len(data)])

    def settle(self) -> None:
        """End of a PATCH: write the buffer if it makes a valid part, else keep it as tail."""
        if self.buffer and len(self.buffer) >= self.storage.min_part_size:
            self._put_part(self.buffer)
            self.buffer = bytearray()
        self.session.tail = bytes(self.buffer)
        self.session.hash_state = self.hasher.state()

    def flush(self) -> bytes | None:
        """End of the upload, before completion: the whole blob in memory (small blobs, no
        multipart upload), or None once every byte went out as a part."""
        s = self.session
        if s.storage_upload_id is None:
            return bytes(self.buffer)
        if self.buffer:
            self._put_part(self.buffer)  # the last part may be small
            self.buffer = bytearray()
        return None

    def complete(self) -> None:
        """Complete the multipart upload: the object appears at the session's storage key."""
        s = self.session
        if s.storage_upload_id is not None:
            self.storage.multipart_complete(s.storage_key, s.storage_upload_id,
                                            [(p[0], p[1]) for p in s.parts])


def _new_session(repository: str, algorithm: str) -> UploadSession:
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise DigestInvalid(f"unsupported digest algorithm: {algorithm[:50]!r}",
                            detail={"supported": sorted(SUPPORTED_ALGORITHMS)})
    return UploadSession(id=str(uuid.uuid4()), repository=repository, algorithm=algorithm,
                         hash_state=ResumableHash(algorithm).state())


def start_upload(reg: Registry, repository: str, algorithm: str = "sha256") -> UploadSession:
    session = _new_session(repository, algorithm)
    with reg.db.read() as cur:
        upload_rows.insert_upload(cur, session.id, repository, algorithm, session.hash_state)
    return session


def _session_from_row(row: upload_rows.UploadRow) -> UploadSession:
    return UploadSession(
        id=row.id, repository=row.repository, algorithm=row.algorithm, offset=row.byte_offset,
        hash_state=row.hash_state, storage_upload_id=row.storage_upload_id, parts=row.parts,
        tail=row.tail, finishing=row.finishing,
    )


def _valid_id(upload_id: str) -> str:
    try:
        return str(uuid.UUID(upload_id))
    except ValueError:
        raise BlobUploadUnknown(detail={"upload": upload_id[:100]}) from None


def get_upload(reg: Registry, repository: str, upload_id: str) -> UploadSession:
    valid_id = _valid_id(upload_id)
    with reg.db.read() as cur:
        row = upload_rows.get_upload(cur, valid_id, repository)
    if row is None:
        raise BlobUploadUnknown(detail={"upload": upload_id})
    return _session_from_row(row)


def append_chunk(reg: Registry, repository: str, upload_id: str, chunks: Iterable[bytes],
                 content_length: int | None, content_range: str | None,
                 lease: float = CLAIM_LEASE) -> UploadSession:
    """PATCH: append one chunk under a claim, with no database connection held while the body
    is read (a live claim serializes PATCHes of one upload cluster-wide)."""
    parsed_range = parse_content_range(content_range)
    claim = _Claim.take(reg, repository, upload_id, lease)
    try:
        if claim.session.finishing is not None:
            raise RangeInvalid("the upload is being finished: PUT again to complete it",
                               headers={"Range": claim.session.range_header})
        writer = _Writer(reg, claim.session, claim)
        writer.append(chunks, parsed_range, content_length)
        writer.settle()
        claim.save()
    except BaseException:
        claim.abandon()
        raise
    return claim.session


def _discard_storage(storage: StorageDriver, session: UploadSession) -> None:
    if session.storage_upload_id is not None:
        storage.multipart_abort(session.storage_key, session.storage_upload_id)
    storage.delete(session.storage_key)


def _hash_object(reg: Registry, key: str, algorithm: str) -> str:
    hasher = ResumableHash(algorithm)
    for chunk in reg.storage.open_range(key):
        hasher.update(chunk)
    return hasher.digest()


def _completed_object(reg: Registry, session: UploadSession, expected: Digest) -> str | None:
    """Finish what an earlier PUT began (the row says ``finishing``): the key of the completed
    object (at the upload key, or already moved to its content address), verified by size and
    by reading it back; None when it does not match the digest; BlobUploadUnknown when the
    data is gone."""
    if session.storage_upload_id is None:
        return None
    candidates = (session.storage_key, layout.blob_data(str(expected)))
    infos = {}
    for key in candidates:
        with suppress(NotFound):
            infos[key] = reg.storage.stat(key).size
    if not infos:  # the earlier attempt stopped before the storage side completed
        try:
            reg.storage.multipart_complete(session.storage_key, session.storage_upload_id,
                                           [(p[0], p[1]) for p in session.parts])
        except NotFound:
            raise BlobUploadUnknown("the upload's stored data is gone; start the upload again",
                                    detail={"upload": session.id}) from None
        infos[session.storage_key] = reg.storage.stat(session.storage_key).size
    for key in candidates:
        if infos.get(key) == session.offset and _hash_object(
                reg, key, expected.algorithm) == str(expected):
            return key
    return None


#: What finishing found: the blob in memory, the storage key of the verified object, or None
#: when the content does not match the digest.
_Content = bytes | str | None


def _finish_storage(reg: Registry, writer: _Writer, expected: Digest,
                    claim: _Claim | None) -> _Content:
    """Write what remains, verify the digest, complete the storage side; no connection held.

    Before a multipart upload is completed, the row records the final state and the digest
    (``finishing``): a retry after a crash between completion and commit then goes to
    :func:`_completed_object` instead of writing to a multipart upload that is gone.
    """
    s = writer.session
    same_algorithm = expected.algorithm == s.algorithm
    data = writer.flush()
    if data is not None:
        digest = writer.hasher.digest() if same_algorithm else _digest_bytes(data, expected)
        return data if digest == str(expected) else None
    if same_algorithm and writer.hasher.digest() != str(expected):
        writer.storage.multipart_abort(s.storage_key, s.storage_upload_id or "")
        return None
    if claim is not None:
        s.tail, s.hash_state, s.finishing = b"", writer.hasher.state(), str(expected)
        claim.save(release=False)
    writer.complete()
    if not same_algorithm and _hash_object(reg, s.storage_key, expected.algorithm) != str(
            expected):
        reg.storage.delete(s.storage_key)
        return None
    return s.storage_key


def _digest_bytes(data: bytes, expected: Digest) -> str:
    hasher = ResumableHash(expected.algorithm)
    hasher.update(data)
    return hasher.digest()


def _commit_blob(reg: Registry, cur: cursor, repository: str, content: bytes | str,
                 digest: str, size: int) -> None:
    """Put the verified content at its digest's key and record it (invariant 3 and 4).

    ``content`` is the blob itself (small blobs) or the storage key of the verified object.
    The shared per-digest lock excludes a sweep deleting this digest, so either the sweep ran
    first (row gone: the content is written again here) or it waits for this commit.
    """
    locks.lock_blob_shared(cur, digest)
    final = layout.blob_data(digest)
    if blob_rows.blob_exists(cur, digest):
        if isinstance(content, str) and content != final:
            reg.storage.delete(content)
    else:
        if isinstance(content, bytes):
            reg.storage.put_bytes(final, content)
        elif content != final:
            reg.storage.move(content, final)
        elif not reg.storage.exists(final):  # found there unlocked: the orphan pass may have run
            raise BlobUploadUnknown("the upload's stored data is gone; start the upload again")
        blob_rows.insert_blob(cur, digest, size)
    repo_id = repositories.ensure_repository(cur, repository)
    if blob_rows.link_blob(cur, repo_id, digest):
        reg.storage.put_bytes(layout.layer_link(repository, digest),
                              layout.link_content(digest))


def finish_upload(reg: Registry, repository: str, upload_id: str, digest: str | None,
                  chunks: Iterable[bytes], content_length: int | None,
                  content_range: str | None, lease: float = CLAIM_LEASE) -> str:
    """PUT: append the optional last chunk, verify the digest, commit the blob.

    The body is read and the storage side completed under a claim, without a database
    connection; a retry after a failure between storage completion and commit finds the
    completed object and commits it.
    """
    if not digest:
        raise DigestInvalid("the digest query parameter is required")
    expected = parse_digest(digest)
    parsed_range = parse_content_range(content_range)
    claim = _Claim.take(reg, repository, upload_id, lease)
    session = claim.session
    content: _Content
    try:
        if session.finishing is not None:
            for _ in chunks:  # the final chunk again: already part of the completed object
                pass
            content = _completed_object(reg, session, expected)
        else:
            writer = _Writer(reg, session, claim)
            if session.offset == 0 and expected.algorithm != session.algorithm:
                session.algorithm = expected.algorithm
                writer.hasher = ResumableHash(expected.algorithm)
            writer.append(chunks, parsed_range, content_length)
            content = _finish_storage(reg, writer, expected, claim)
        with reg.db.transaction() as cur:
            if not upload_rows.delete_claimed(cur, session.id, claim.token):
                claim.lost()
            if content is not None:
                _commit_blob(reg, cur, repository, content, str(expected), session.offset)
        if content is None:
            with suppress(Exception):
                reg.storage.delete(session.storage_key)
    except BlobUploadUnknown:
        _drop_session(reg, claim)
        raise
    except BaseException:
        claim.abandon()
        raise
    if content is None:
        raise DigestInvalid(detail={"digest": digest})
    return str(expected)


def _drop_session(reg: Registry, claim: _Claim) -> None:
    """The upload can never finish (its data is gone): delete the session, best effort."""
    with suppress(Exception), reg.db.read() as cur:
        upload_rows.delete_claimed(cur, claim.session.id, claim.token)


def upload_whole(reg: Registry, repository: str, digest: str, chunks: Iterable[bytes],
                 content_length: int | None) -> str:
    """Single-request upload (POST with ?digest=): no session row is ever written."""
    expected = parse_digest(digest)
    session = _new_session(repository, expected.algorithm)
    writer = _Writer(reg, session)
    try:
        writer.append(chunks, None, content_length)
        content = _finish_storage(reg, writer, expected, None)
        if content is not None:
            with reg.db.transaction() as cur:
                _commit_blob(reg, cur, repository, content, str(expected), session.offset)
    except BaseException:
        _discard_storage(reg.storage, session)
        raise
    if content is None:
        _discard_storage(reg.storage, session)
        raise DigestInvalid(detail={"digest": digest})
    return str(expected)


class StreamedBlob:
    """A blob written to storage as it arrives from elsewhere, chunk by chunk (the
    pull-through cache of a remote namespace: hareg.remote.fetch), the way a single-request
    upload is: whole parts go out as they fill, memory holds at most one part; then the digest
    is verified and the blob committed with its link (invariants 3 and 4)."""

    def __init__(self, reg: Registry, repository: str, digest: str,
                 hash_with: Offload | None = None) -> None:
        """``hash_with(func, chunk)`` runs the hashing of a chunk (in gevent's thread pool:
        hareg.offloop.off_loop); by default a plain call."""
        self.reg = reg
        self.repository = repository
        self.expected = parse_digest(digest)
        self.session = _new_session(repository, self.expected.algorithm)
        self.writer = _Writer(reg, self.session, hash_with=hash_with)
        self.content: _Content = None

    @property
    def size(self) -> int:
        return self.session.offset

    def write(self, chunk: bytes) -> None:
        self.writer.append((chunk,), None, None)

    def finish(self) -> None:
        """Write what remains and verify the digest; DigestInvalid (storage cleaned) when the
        bytes do not match. No connection held."""
        self.content = _finish_storage(self.reg, self.writer, self.expected, None)
        if self.content is None:
            self.discard()
            raise DigestInvalid(f"the content does not match its digest {self.expected}",
                                detail={"digest": str(self.expected)})

    def commit(self, cur: cursor) -> None:
        """In the caller's transaction: the object at its content address, the blobs row and
        the repository's link (after :meth:`finish`)."""
        assert self.content is not None
        _commit_blob(self.reg, cur, self.repository, self.content, str(self.expected),
                     self.session.offset)

    def discard(self) -> None:
        """Remove what was written (best effort: an orphan is collected by gc --orphans)."""
        with suppress(Exception):
            _discard_storage(self.reg.storage, self.session)


def cancel_upload(reg: Registry, repository: str, upload_id: str) -> None:
    """DELETE: the session goes at once, claimed or not (a PATCH in flight then fails)."""
    with reg.db.transaction() as cur:
        row = upload_rows.lock_upload(cur, _valid_id(upload_id), repository)
        if row is None:
            raise BlobUploadUnknown(detail={"upload": upload_id})
        upload_rows.delete_upload(cur, row.id)
    _discard_storage(reg.storage, _session_from_row(row))
