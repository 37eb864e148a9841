# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A file whose parsed content is reloaded when it changes (mtime, size or inode)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class WatchedFile(Generic[T]):
    """``get()`` stats the file and re-parses it after a change. A file that cannot be read
    or parsed keeps the last good content (``empty`` before the first) and is logged once."""

    def __init__(self, path: str, parse: Callable[[bytes], T], empty: T) -> None:
        self.path = path
        self._parse = parse
        self._value = empty
        self._signature: tuple[int, int, int] | None = None
        self._failed: tuple[int, int, int] | str | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            self._report("missing", f"cannot read {self.path}: {exc.strerror}")
            return self._value
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature == self._signature or signature == self._failed:
            return self._value
        with self._lock:
            if signature != self._signature:
                self._load(signature)
        return self._value

    def _load(self, signature: tuple[int, int, int]) -> None:
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
            value = self._parse(data)
        except (OSError, ValueError) as exc:
            self._report(signature, f"cannot load {self.path}: {exc}")
            return
        self._value, self._signature, self._failed = value, signature, None
        log.info("loaded %s", self.path)

    def _report(self, key: tuple[int, int, int] | str, message: str) -> None:
        if self._failed != key:
            self._failed = key
            log.error("%s (keeping the previous content)", message)
