# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The storage driver interface shared by the S3 and filesystem back ends.

The interface is deliberately small: what a registry needs from a blob store
and nothing more, so both drivers can honour exactly the same semantics and the
rest of hareg never needs to know which one it runs on. Keys come from
:mod:`hareg.storage.layout`; drivers only check that a key is well formed.

Semantics every driver keeps:

* whole-object writes are atomic: readers see the old object, or the new one;
* ``list``, ``list_dirs`` and ``delete_prefix`` treat their prefix as a
  directory (``"a/b"`` means ``"a/b/"``), so deleting repository ``foo`` can
  never touch ``foobar``; listings come in lexicographic key order;
* a missing object raises :class:`NotFound`; every other back-end failure is
  raised as :class:`StorageError`, so callers catch one family of errors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

#: Size of the chunks ``open_range`` yields.
CHUNK_SIZE = 1024 * 1024

#: Names starting with this are the filesystem driver's temporary files; they
#: are never valid keys and never listed.
INTERNAL_PREFIX = ".hareg-"

#: What the write methods accept: any bytes-like buffer, written without a copy.
Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing or ``stat`` knows about one object."""

    key: str  # layout key, relative to the driver's root/prefix
    size: int
    modified: datetime  # timezone-aware UTC


class StorageError(Exception):
    """The storage back end failed (unreachable, denied, full, ...)."""


class NotFound(StorageError):
    """The object (or multipart upload) does not exist."""

    def __init__(self, key: str) -> None:
        super().__init__(f"not found: {key}")
        self.key = key


def validate_key(key: str) -> str:
    """Return ``key`` if it is a well-formed relative object key, else raise ValueError.

    Rejecting empty, ``.`` and ``..`` components keeps the filesystem driver
    inside its root and makes both drivers agree on which keys exist.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"invalid storage key {key!r}")
    if key.startswith("/") or "\\" in key or "\0" in key:
        raise ValueError(f"invalid storage key {key!r}")
    for part in key.split("/"):
        if part in ("", ".", "..") or part.startswith(INTERNAL_PREFIX):
            raise ValueError(f"invalid storage key {key!r}")
    return key


def normalize_prefix(prefix: str) -> str:
    """Return ``prefix`` as a directory prefix: ``""`` or a valid key plus ``/``."""
    if prefix == "":
        return ""
    return validate_key(prefix.removesuffix("/")) + "/"


def check_range(offset: int, length: int | None) -> None:
    """Reject negative offsets and lengths with ValueError."""
    if offset < 0:
        raise ValueError(f"negative offset {offset}")
    if length is not None and length < 0:
        raise ValueError(f"negative length {length}")


class ChunkStream(Iterator[bytes]):
    """An iterator of chunks that owns an open resource (file, HTTP body).

    ``open_range`` must open its source when called (so NotFound is raised
    before any response header is sent) and release it when the consumer is
    done, even when the consumer stops early. WSGI servers call ``close()`` on
    response iterables; a plain generator that was never started would not run
    its cleanup, this class does.
    """

    def __init__(self, chunks: Iterator[bytes], close: Callable[[], None]) -> None:
        self._chunks = chunks
        self._close: Callable[[], None] | None = close

    def __iter__(self) -> ChunkStream:
        return self

    def __next__(self) -> bytes:
        if self._close is None:
            raise StopIteration
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()
            raise

    def close(self) -> None:
        """Release the underlying resource; safe to call more than once."""
        close, self._close = self._close, None
        if close is not None:
            close()

    def __enter__(self) -> ChunkStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Safety net for a consumer that neither finished nor closed the stream
        # (an aborted download), so file descriptors and connections come back.
        with suppress(Exception):
            self.close()


class StorageDriver(ABC):
    """A blob store: whole objects, ranged streaming reads and multipart writes."""

    #: Smallest allowed size of a non-final multipart part.
    min_part_size: int

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object (link, manifest) atomically."""

    @abstractmethod
    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store an object from a stream atomically, in bounded memory; return its size."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return a whole (small) object; raise NotFound."""

    @abstractmethod
    def open_range(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream ``length`` bytes (default: to the end) from ``offset`` in ~1 MiB chunks.

        Raises NotFound when called, not when first iterated. Ranges past the
        end are clipped (an offset at or past the end yields nothing). Close
        the returned iterator if it is not consumed to the end.
        """

    @abstractmethod
    def local_path(self, key: str) -> str | None:
        """Absolute path of the object for sendfile, or None if not on a local filesystem."""

    @abstractmethod
    def presigned_get_url(self, key: str, expires: int) -> str | None:
        """A URL a client may GET for ``expires`` seconds, or None if unsupported."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size and modification time of an object; raise NotFound."""

    def exists(self, key: str) -> bool:
        """Whether an object exists at ``key``."""
        try:
            self.stat(key)
        except NotFound:
            return False
        return True

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete an object; a missing key is not an error."""

    def delete_many(self, keys: Iterable[str]) -> int:
        """Delete objects; return how many keys were handled (missing ones included)."""
        count = 0
        for key in keys:
            self.delete(key)
            count += 1
        return count

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under a directory prefix; return how many were deleted."""
        return self.delete_many(info.key for info in self.list_objects(prefix))

    @abstractmethod
    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under a directory prefix, recursively, in key order."""

    @abstractmethod
    def list_dirs(self, prefix: str) -> Iterator[str]:
        """Immediate child directories of a prefix, as full keys ending in ``/``."""

    @abstractmethod
    def move(self, src: str, dst: str) -> None:
        """Move an object, replacing ``dst``; raise NotFound if ``src`` is missing."""

    @abstractmethod
    def multipart_start(self, key: str) -> str:
        """Begin a multipart write to ``key``; return an opaque upload id (a plain str)."""

    @abstractmethod
    def multipart_put(
        self, key: str, upload_id: str, part_number: int, offset: int, data: Buffer,
        durable: bool = True,
    ) -> str:
        """Write part ``part_number`` (from 1) at byte ``offset``; return its token.

        Parts may be written by different processes or hosts, each with its own
        driver instance: nothing about the upload lives in driver memory.
        Raises NotFound if the upload is unknown (completed or aborted).

        With ``durable=False`` the part may be lost in a crash until
        :meth:`multipart_complete` returns (which makes every part durable): for a
        writer that records its parts nowhere before it completes (a blob written in
        one go), so a crash loses only the whole unfinished upload.
        """

    @abstractmethod
    def multipart_complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Finish the upload from ``(part_number, token)`` pairs; the object appears at ``key``."""

    @abstractmethod
    def multipart_abort(self, key: str, upload_id: str) -> None:
        """Discard an upload and its parts; idempotent."""

    @abstractmethod
    def check(self) -> None:
        """Cheap reachability probe for readiness checks; raise StorageError if unusable."""


def check_part(part_number: int, offset: int) -> None:
    """Reject part numbers below 1 (S3 allows 1..10000) and negative offsets."""
    if not 1 <= part_number <= 10000:
        raise ValueError(f"part number {part_number} out of range 1..10000")
    if offset < 0:
        raise ValueError(f"negative offset {offset}")
