# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A small blocking connection pool for psycopg2 that works under gevent.

Connections run in autocommit mode: a read is one round trip, and ``transaction()`` opens
BEGIN ... COMMIT (``hareg.db.transaction``). With psycogreen installed
(``hareg.db.green.patch()``) every query yields to other greenlets, and the locks/queues used
here are gevent-aware once gevent has patched the standard library, so a greenlet waiting for
a connection does not block its worker.

:class:`ConnectOptions` bounds how long a connection may wait on PostgreSQL: libpq's
``connect_timeout``, TCP keepalives and ``tcp_user_timeout`` (a dead host or a cut network),
the server-side ``statement_timeout`` (a slow statement) and, under gevent, a client-side
bound on every round trip (a frozen server, whose kernel keeps acknowledging packets:
hareg.db.green). Only the request pool sets a statement timeout: migrations, the GC sweep's
session and ``hareg rebuild-db`` may run long statements on their own connections.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from .transaction import Isolation, check_isolation, transaction

log = logging.getLogger(__name__)


class PoolTimeout(Exception):
    """No connection became free within the wait limit."""


#: How long the client waits past ``statement_timeout`` before it decides the server is hung
#: (the server's own cancellation should arrive first).
ANSWER_GRACE = 2.0


@dataclass(frozen=True)
class ConnectOptions:
    """Timeouts of the pool's connections, in seconds; 0 turns one off.

    ``tcp_user_timeout`` (libpq >= 12) is derived: unacknowledged data is given up after
    ``keepalive_idle + keepalive_interval * keepalive_count``, as long as keepalives take to
    declare an idle peer dead.
    """

    connect_timeout: int = 5
    statement_timeout: int = 0
    keepalive_idle: int = 30
    keepalive_interval: int = 10
    keepalive_count: int = 3

    def libpq(self) -> dict[str, Any]:
        """Keyword arguments for psycopg2.connect."""
        args: dict[str, Any] = {}
        if self.connect_timeout:
            args["connect_timeout"] = max(2, self.connect_timeout)  # libpq: < 2 means 2
        if self.keepalive_idle:
            args.update(keepalives=1, keepalives_idle=self.keepalive_idle,
                        keepalives_interval=max(1, self.keepalive_interval),
                        keepalives_count=max(1, self.keepalive_count))
            dead_after = self.keepalive_idle + self.keepalive_interval * self.keepalive_count
            if psycopg2.__libpq_version__ >= 120000:
                args["tcp_user_timeout"] = dead_after * 1000
        if self.statement_timeout:
            args["options"] = f"-c statement_timeout={self.statement_timeout * 1000}"
        return args

    def wait_limits(self) -> tuple[float, float] | None:
        """The client-side bounds ``(connect, answer)`` under gevent, None when unbounded."""
        if not self.connect_timeout and not self.statement_timeout:
            return None
        connect = float(self.connect_timeout or 1e9)
        answer = self.statement_timeout + ANSWER_GRACE if self.statement_timeout else 1e9
        return connect, answer


class BoundedConnection(psycopg2.extensions.connection):
    """A connection that carries its client-side wait bounds (read by hareg.db.green)."""

    def __init__(self, dsn: str, *args: Any,
                 wait_limits: tuple[float, float] | None = None, **kwargs: Any) -> None:
        self.wait_limits = wait_limits  # set first: connecting already waits
        super().__init__(dsn, *args, **kwargs)


class Database:
    """Hands out connections from a bounded pool; ``read()`` and ``transaction()`` are the API.

    ``wait_timeout`` bounds the wait for a free connection (then :class:`PoolTimeout`);
    ``options`` the time spent on PostgreSQL (then ``psycopg2.OperationalError``, under
    gevent :class:`hareg.db.green.DatabaseTimeout` for a server that does not answer).
    """

    def __init__(self, url: str, size: int = 20, wait_timeout: float = 30.0,
                 options: ConnectOptions | None = None, session_url: str = "") -> None:
        self.url = url
        #: Where dedicated connections (hareg.db.session) go: ``[database] session_url``, a
        #: direct connection to PostgreSQL when ``url`` goes through a transaction pooler.
        self.session_url = session_url or url
        self.size = size
        self.wait_timeout = wait_timeout
        self.options = options or ConnectOptions()
        self._idle: queue.LifoQueue[psycopg2.extensions.connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self.in_use = 0
        self.waits = 0

    def _connect(self) -> psycopg2.extensions.connection:
        factory = partial(BoundedConnection, wait_limits=self.options.wait_limits())
        conn = psycopg2.connect(self.url, application_name="hareg", connection_factory=factory,
                                **self.options.libpq())
        conn.autocommit = True
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a connection; broken connections are discarded instead of returned."""
        if not self._slots.acquire(blocking=False):
            self.waits += 1
            if not self._slots.acquire(timeout=self.wait_timeout):
                raise PoolTimeout(f"no database connection free after {self.wait_timeout}s")
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            with self._lock:
                self.in_use += 1
            try:
                yield conn
            finally:
                with self._lock:
                    self.in_use -= 1
            if conn.closed or conn.status != psycopg2.extensions.STATUS_READY:
                conn.close()
            else:
                self._idle.put(conn)
            conn = None
        finally:
            if conn is not None:
                conn.close()
            self._slots.release()

    @contextmanager
    def read(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor in autocommit mode: each statement is its own snapshot."""
        with self.connection() as conn, conn.cursor() as cur:
            yield cur

    @contextmanager
    def transaction(self, isolation: Isolation | None = None,
                    read_only: bool = False) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor inside BEGIN ... COMMIT; any exception rolls back.

        ``isolation`` is one of ``ISOLATION_LEVELS`` (None: the server's default, READ
        COMMITTED), checked before a connection is borrowed; ``read_only`` makes the
        transaction refuse writes.
        """
        check_isolation(isolation)
        with self.connection() as conn, transaction(conn, isolation, read_only=read_only) as cur:
            yield cur

    def ping(self) -> None:
        with self.read() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def wait_until_reachable(url: str, timeout: float = 30.0,
                         on_wait: Callable[[str], None] | None = None) -> None:
    """Connect until PostgreSQL answers; it may still be starting.

    Fails at once with :class:`DatabaseUnreachable` when waiting cannot help (no such
    database, wrong credentials, unknown host: see hareg.db.unreachable). Otherwise tells
    ``on_wait`` (default: the log) once what it waits for, and gives up after ``timeout``.
    """
    from .unreachable import DatabaseUnreachable, describe, is_permanent, reason

    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            psycopg2.connect(url, connect_timeout=3).close()
            return
        except psycopg2.Error as exc:
            if is_permanent(exc):
                raise DatabaseUnreachable(
                    f"cannot connect to {describe(url)}: {reason(exc)}") from None
            if time.monotonic() > deadline:
                raise DatabaseUnreachable(f"cannot connect to {describe(url)}: {reason(exc)}"
                                          f" (waited {timeout:g} s)") from None
            if not told:
                told = True
                message = f"waiting for {describe(url)} ({reason(exc)}), up to {timeout:g} s"
                (on_wait or log.warning)(message)
            time.sleep(0.2)
