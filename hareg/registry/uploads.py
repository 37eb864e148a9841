# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Blob uploads that any instance can continue (invariant 2 of docs/architecture.rst).

Everything an upload needs lives in its ``uploads`` row and in storage, never in process memory:
the byte offset, the serialized hash state, the storage multipart upload id and its parts, and
a *tail*. S3 wants every multipart part but the last to be at least 5 MiB, while clients may
PATCH in small chunks; bytes that do not yet fill a part wait in the row's ``tail`` column and
go out with the next PATCH. Chunks of at least the minimum part size never leave a tail, so the
common path writes each byte once and never reads back what it wrote.

A PATCH holds the row lock (``SELECT ... FOR UPDATE``) while it streams, so two PATCHes of one
upload are serialized wherever they land, and a PATCH that fails half-way rolls back to the
previous offset: the parts it wrote are overwritten by the retry (same part numbers, same offsets).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from psycopg2.extensions import cursor

from ..db import blobs as blob_rows
from ..db import locks, repositories
from ..db import uploads as upload_rows
from ..storage import layout
from ..storage.base import Buffer, StorageDriver
from .context import Registry
from .errors import BlobUploadUnknown, DigestInvalid, RangeInvalid, SizeInvalid
from .hashing import SUPPORTED_ALGORITHMS, ResumableHash
from .names import Digest, parse_digest

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


class _Writer:
    """Appends a stream to an upload: hashes it, writes whole parts, keeps the rest as tail."""

    def __init__(self, reg: Registry, session: UploadSession) -> None:
        self.storage: StorageDriver = reg.storage
        self.part_size = max(reg.part_size, reg.storage.min_part_size)
        self.session = session
        self.hasher = ResumableHash(session.algorithm, session.hash_state)
        self.buffer = bytearray(session.tail)

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
            self.hasher.update(chunk)
            self.buffer += chunk
            received += len(chunk)
            while len(self.buffer) >= self.part_size:
                self._put_part(memoryview(self.buffer)[: self.part_size])
                del self.buffer[: self.part_size]
        if content_length is not None and received != content_length:
            raise SizeInvalid(f"received {received} bytes, Content-Length said {content_length}")
        s.offset += received

    def _put_part(self, data: Buffer) -> None:
        s = self.session
        if s.storage_upload_id is None:
            s.storage_upload_id = self.storage.multipart_start(s.storage_key)
        number = len(s.parts) + 1
        written = sum(p[2] for p in s.parts)
        token = self.storage.multipart_put(s.storage_key, s.storage_upload_id, number, written,
                                           data)
        s.parts.append([number, token, len(data)])

    def settle(self) -> None:
        """End of a PATCH: write the buffer if it makes a valid part, else keep it as tail."""
        if self.buffer and len(self.buffer) >= self.storage.min_part_size:
            self._put_part(self.buffer)
            self.buffer = bytearray()
        self.session.tail = bytes(self.buffer)
        self.session.hash_state = self.hasher.state()

    def finish(self) -> bytes | None:
        """End of the upload: the whole blob in memory (small blobs), or None once the
        multipart upload is completed at the session's storage key."""
        s = self.session
        if s.storage_upload_id is None:
            return bytes(self.buffer)
        if self.buffer:
            self._put_part(self.buffer)  # the last part may be small
            self.buffer = bytearray()
        self.storage.multipart_complete(s.storage_key, s.storage_upload_id,
                                        [(p[0], p[1]) for p in s.parts])
        return None


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
        tail=row.tail,
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


def _lock_session(cur: cursor, repository: str, upload_id: str) -> UploadSession:
    row = upload_rows.lock_upload(cur, _valid_id(upload_id), repository)
    if row is None:
        raise BlobUploadUnknown(detail={"upload": upload_id})
    return _session_from_row(row)


def _save_session(cur: cursor, s: UploadSession) -> None:
    upload_rows.save_upload(cur, s.id, byte_offset=s.offset, hash_state=s.hash_state,
                            storage_upload_id=s.storage_upload_id, parts=s.parts, tail=s.tail)


def append_chunk(reg: Registry, repository: str, upload_id: str, chunks: Iterable[bytes],
                 content_length: int | None, content_range: str | None) -> UploadSession:
    """PATCH: append one chunk; the row lock serializes PATCHes of one upload cluster-wide."""
    parsed_range = parse_content_range(content_range)
    with reg.db.transaction() as cur:
        session = _lock_session(cur, repository, upload_id)
        writer = _Writer(reg, session)
        writer.append(chunks, parsed_range, content_length)
        writer.settle()
        _save_session(cur, session)
    return session


def _discard_storage(storage: StorageDriver, session: UploadSession) -> None:
    if session.storage_upload_id is not None:
        storage.multipart_abort(session.storage_key, session.storage_upload_id)
    storage.delete(session.storage_key)


def _computed_digest(reg: Registry, writer: _Writer, data: bytes | None,
                     expected: Digest) -> str:
    if expected.algorithm == writer.session.algorithm:
        return writer.hasher.digest()
    # The client announced another algorithm than the one hashed so far: hash again.
    hasher = ResumableHash(expected.algorithm)
    if data is not None:
        hasher.update(data)
    else:
        for chunk in reg.storage.open_range(writer.session.storage_key):
            hasher.update(chunk)
    return hasher.digest()


def _commit_blob(reg: Registry, cur: cursor, session: UploadSession, data: bytes | None,
                 digest: str) -> None:
    """Put the verified content at its digest's key and record it (invariant 3 and 4).

    The shared per-digest lock excludes a sweep deleting this digest, so either the sweep ran
    first (row gone: the content is written again here) or it waits for this commit.
    """
    locks.lock_blob_shared(cur, digest)
    if blob_rows.blob_exists(cur, digest):
        if data is None:
            reg.storage.delete(session.storage_key)
    else:
        if data is None:
            reg.storage.move(session.storage_key, layout.blob_data(digest))
        else:
            reg.storage.put_bytes(layout.blob_data(digest), data)
        blob_rows.insert_blob(cur, digest, session.offset)
    repo_id = repositories.ensure_repository(cur, session.repository)
    if blob_rows.link_blob(cur, repo_id, digest):
        reg.storage.put_bytes(layout.layer_link(session.repository, digest),
                              layout.link_content(digest))


def _complete(reg: Registry, cur: cursor, writer: _Writer, expected: Digest,
              persisted: bool) -> bool:
    """Verify and commit the upload; False (session and data discarded) on a digest mismatch."""
    session = writer.session
    data = writer.finish()
    ok = _computed_digest(reg, writer, data, expected) == str(expected)
    if ok:
        _commit_blob(reg, cur, session, data, str(expected))
    elif data is None:
        reg.storage.delete(session.storage_key)
    if persisted:
        upload_rows.delete_upload(cur, session.id)
    return ok


def finish_upload(reg: Registry, repository: str, upload_id: str, digest: str | None,
                  chunks: Iterable[bytes], content_length: int | None,
                  content_range: str | None) -> str:
    """PUT: append the optional last chunk, verify the digest, commit the blob."""
    if not digest:
        raise DigestInvalid("the digest query parameter is required")
    expected = parse_digest(digest)
    parsed_range = parse_content_range(content_range)
    with reg.db.transaction() as cur:
        session = _lock_session(cur, repository, upload_id)
        writer = _Writer(reg, session)
        if session.offset == 0 and expected.algorithm != session.algorithm:
            session.algorithm = expected.algorithm
            writer.hasher = ResumableHash(expected.algorithm)
        writer.append(chunks, parsed_range, content_length)
        ok = _complete(reg, cur, writer, expected, persisted=True)
    if not ok:
        raise DigestInvalid(detail={"digest": digest})
    return str(expected)


def upload_whole(reg: Registry, repository: str, digest: str, chunks: Iterable[bytes],
                 content_length: int | None) -> str:
    """Single-request upload (POST with ?digest=): no session row is ever written."""
    expected = parse_digest(digest)
    session = _new_session(repository, expected.algorithm)
    writer = _Writer(reg, session)
    try:
        writer.append(chunks, None, content_length)
        with reg.db.transaction() as cur:
            ok = _complete(reg, cur, writer, expected, persisted=False)
    except BaseException:
        _discard_storage(reg.storage, session)
        raise
    if not ok:
        raise DigestInvalid(detail={"digest": digest})
    return str(expected)


def cancel_upload(reg: Registry, repository: str, upload_id: str) -> None:
    with reg.db.transaction() as cur:
        session = _lock_session(cur, repository, upload_id)
        upload_rows.delete_upload(cur, session.id)
    _discard_storage(reg.storage, session)

