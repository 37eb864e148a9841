# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Whether the storage refuses writes (a full or read-only filesystem, an S3 quota).

A write that fails because the storage refuses it, rather than for a passing reason, puts
:class:`Writability` into the "refusing" state: ``/readyz`` reports it in its body, the gauge
``hareg_storage_writable`` drops to 0 and one line is logged. The next successful write
clears it (and logs that once too). Each worker process keeps its own state: it learns from
its own writes.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: OS errors that mean "this storage takes no more writes" until an operator acts.
REFUSING_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
#: S3-compatible error codes with the same meaning (quota, MinIO's full disks).
REFUSING_S3_CODES = frozenset({"QuotaExceeded", "XMinioStorageFull", "StorageFull"})


def refusal(exc: BaseException) -> str | None:
    """Why ``exc`` (or an exception it was raised from) means the storage refuses writes."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, OSError) and current.errno in REFUSING_ERRNOS:
            return f"{errno.errorcode.get(current.errno or 0, 'OSError')}: {current.strerror}"
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code", "")
            if code in REFUSING_S3_CODES:
                return f"S3 {code}"
        current = current.__cause__ or current.__context__
        seen += 1
    return None


@dataclass(frozen=True)
class Refusal:
    since: float       # time.time() of the first refused write
    last: float        # time.time() of the latest one
    reason: str
    operation: str


class Writability:
    """The "refuses writes" state of one storage, with a callback for the gauge."""

    def __init__(self, on_change: Callable[[bool], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._refusal: Refusal | None = None
        self._on_change = on_change

    @property
    def refusal(self) -> Refusal | None:
        return self._refusal

    @property
    def writable(self) -> bool:
        return self._refusal is None

    def failed(self, operation: str, exc: BaseException) -> None:
        """A write failed: enter the refusing state if the storage refused it."""
        reason = refusal(exc)
        if reason is None:
            return
        now = time.time()
        with self._lock:
            previous = self._refusal
            since = previous.since if previous is not None else now
            self._refusal = Refusal(since, now, reason, operation)
        if previous is None:
            log.error("storage refuses writes (%s on %s): pushes fail until space or"
                      " permission is restored", reason, operation)
            self._changed(False)

    def succeeded(self) -> None:
        """A write succeeded: the storage takes writes again."""
        if self._refusal is None:
            return
        with self._lock:
            previous, self._refusal = self._refusal, None
        if previous is not None:
            log.warning("storage takes writes again (refused them for %.0f s)",
                        time.time() - previous.since)
            self._changed(True)

    def report(self) -> dict[str, object]:
        """What ``/readyz`` shows."""
        current = self._refusal
        if current is None:
            return {"writable": True}
        return {"writable": False, "reason": current.reason, "operation": current.operation,
                "since": _iso(current.since), "last_failure": _iso(current.last)}

    def _changed(self, writable: bool) -> None:
        if self._on_change is not None:
            self._on_change(writable)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
