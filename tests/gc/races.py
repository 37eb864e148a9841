# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Tools to force interleavings between a sweep and a writer deterministically.

A :class:`Gate` pauses whoever calls a storage method with a matching key, until the test
opens it: that freezes a sweep between "rows committed" and "objects deleted" (it still holds
its advisory locks), or a writer inside its transaction (it holds its shared locks). Then the
other party runs, and :func:`wait_until_blocked` checks from PostgreSQL that it is waiting on
a lock, not just slow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from tests.gc.conftest import Env

TIMEOUT = 20.0


class Gate:
    """Pause the first call of ``storage.<method>`` whose key(s) match ``wanted``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, storage: Any, method: str,
                 wanted: Callable[[str], bool]) -> None:
        self.reached = threading.Event()
        self.opened = threading.Event()
        self.armed = True
        original = getattr(storage, method)

        def gated(*args: Any, **kwargs: Any) -> Any:
            keys = args[0]
            keys = [keys] if isinstance(keys, str) else list(keys)
            if self.armed and any(wanted(k) for k in keys):
                self.armed = False
                self.reached.set()
                assert self.opened.wait(TIMEOUT), "the test never opened the gate"
            return original(keys if method == "delete_many" else args[0], *args[1:], **kwargs)

        monkeypatch.setattr(storage, method, gated)

    def wait(self) -> None:
        assert self.reached.wait(TIMEOUT), "nobody reached the gate"

    def open(self) -> None:
        self.opened.set()


def in_thread(fn: Callable[[], Any]) -> Future[Any]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


def waiting_on_locks(env: Env) -> int:
    """Backends of this database (other than ours) waiting for a lock right now."""
    return env.query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")[0][0]


def wait_until_blocked(env: Env, future: Future[Any] | None = None) -> None:
    deadline = time.monotonic() + TIMEOUT
    while waiting_on_locks(env) == 0:
        if future is not None and future.done():
            future.result()  # raise what it raised
            raise AssertionError("finished instead of waiting for the lock")
        assert time.monotonic() < deadline, "nobody is waiting for a lock"
        time.sleep(0.02)


def keys_of(*keys: str) -> Callable[[str], bool]:
    wanted = set(keys)
    return lambda key: key in wanted


def any_of(keys: Iterable[str]) -> Callable[[str], bool]:
    return keys_of(*keys)
