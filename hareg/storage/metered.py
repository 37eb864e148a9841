# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A storage driver proxy that times every call and counts failures (hareg/server/metrics.py).

:class:`MeteredStorage` is a :class:`~hareg.storage.base.StorageDriver` that delegates to the
real driver. Latency goes to ``hareg_storage_operation_duration_seconds{operation}``;
:class:`~hareg.storage.base.StorageError` (other than NotFound, which is an answer, not a
failure) to ``hareg_storage_errors_total{operation}``. Streams are timed until they are
opened (time to first byte) and errors while they are read are counted too. Attributes that
are not part of the interface (``bucket``, ``client``, ``part_size``...) are the driver's.

Writes also feed :attr:`MeteredStorage.writability` (hareg.storage.writability): a write the
storage refuses (no space, read-only, quota) marks it as refusing writes, the next successful
write clears that; ``hareg_storage_writable`` follows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..server.metrics import Metrics, get_metrics, recording
from .base import Buffer, NotFound, ObjectInfo, StorageDriver, StorageError
from .writability import Writability

T = TypeVar("T")

_WRITES = frozenset({"put_bytes", "put_stream", "move", "multipart_start", "multipart_put",
                     "multipart_complete"})
#: Writes that store data: only their success shows that space is back (creating an empty
#: file or renaming one succeeds on a full filesystem).
_DATA_WRITES = frozenset({"put_bytes", "put_stream", "multipart_put"})


class MeteredStorage(StorageDriver):
    def __init__(self, inner: StorageDriver, metrics: Metrics | None = None) -> None:
        self.inner = inner
        self._metrics = metrics or get_metrics()
        self.writability = Writability(self._set_writable)
        self._set_writable(True)

    def _set_writable(self, writable: bool) -> None:
        with recording():
            self._metrics.storage_writable.set(1 if writable else 0)

    def __getattr__(self, name: str) -> Any:  # only called for names not found here
        return getattr(self.inner, name)

    @property
    def min_part_size(self) -> int:  # type: ignore[override]
        return self.inner.min_part_size

    def __repr__(self) -> str:
        return f"MeteredStorage({self.inner!r})"

    @contextmanager
    def _timed(self, operation: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
            if operation in _DATA_WRITES:
                self.writability.succeeded()
        except NotFound:
            raise
        except StorageError as exc:
            with recording():
                self._metrics.storage_errors.labels(operation).inc()
            if operation in _WRITES:
                self.writability.failed(operation, exc)
            raise
        finally:
            with recording():
                self._metrics.storage_latency.labels(operation).observe(
                    time.perf_counter() - start)

    def _call(self, operation: str, func: Callable[..., T], *args: Any) -> T:
        with self._timed(operation):
            return func(*args)

    def _stream(self, operation: str, chunks: Iterator[T], timed: bool = False) -> Iterator[T]:
        """Count errors raised while a stream or listing is consumed (and time a listing)."""
        start = time.perf_counter()
        try:
            yield from chunks
            if timed:
                with recording():
                    self._metrics.storage_latency.labels(operation).observe(
                        time.perf_counter() - start)
        except NotFound:
            raise
        except StorageError:
            with recording():
                self._metrics.storage_errors.labels(operation).inc()
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    # ----------------------------------------------------------------- the interface

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call("put_bytes", self.inner.put_bytes, key, data)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        return self._call("put_stream", self.inner.put_stream, key, chunks)

    def get_bytes(self, key: str) -> bytes:
        return self._call("get_bytes", self.inner.get_bytes, key)

    def open_range(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        stream = self._call("open_range", self.inner.open_range, key, offset, length)
        return _Closing(self._stream("read", iter(stream)), stream)

    def local_path(self, key: str) -> str | None:
        return self.inner.local_path(key)

    def presigned_get_url(self, key: str, expires: int) -> str | None:
        return self._call("presigned_get_url", self.inner.presigned_get_url, key, expires)

    def stat(self, key: str) -> ObjectInfo:
        return self._call("stat", self.inner.stat, key)

    def exists(self, key: str) -> bool:
        return self._call("exists", self.inner.exists, key)

    def delete(self, key: str) -> None:
        self._call("delete", self.inner.delete, key)

    def delete_many(self, keys: Iterable[str]) -> int:
        return self._call("delete_many", self.inner.delete_many, keys)

    def delete_prefix(self, prefix: str) -> int:
        return self._call("delete_prefix", self.inner.delete_prefix, prefix)

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        return self._stream("list", self.inner.list_objects(prefix), timed=True)

    def list_dirs(self, prefix: str) -> Iterator[str]:
        return self._stream("list_dirs", self.inner.list_dirs(prefix), timed=True)

    def move(self, src: str, dst: str) -> None:
        self._call("move", self.inner.move, src, dst)

    def multipart_start(self, key: str) -> str:
        return self._call("multipart_start", self.inner.multipart_start, key)

    def multipart_put(self, key: str, upload_id: str, part_number: int, offset: int,
                      data: Buffer, durable: bool = True) -> str:
        return self._call("multipart_put", self.inner.multipart_put, key, upload_id,
                          part_number, offset, data, durable)

    def multipart_complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        self._call("multipart_complete", self.inner.multipart_complete, key, upload_id, parts)

    def multipart_abort(self, key: str, upload_id: str) -> None:
        self._call("multipart_abort", self.inner.multipart_abort, key, upload_id)

    def check(self) -> None:
        self._call("check", self.inner.check)


class _Closing(Iterator[bytes]):
    """An iterator that also closes the driver's stream when closed early (ChunkStream rule)."""

    def __init__(self, chunks: Iterator[bytes], source: Any) -> None:
        self._chunks = chunks
        self._source = source

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        source_close = getattr(self._source, "close", None)
        if source_close is not None:
            source_close()
