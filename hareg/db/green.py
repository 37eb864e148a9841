# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Make psycopg2 cooperative under gevent, so a query yields to other greenlets.

The wait callback is psycogreen's loop (poll the connection, wait for its socket with
gevent) plus a client-side bound: a connection that carries ``wait_limits`` (the request pool's
connections, hareg.db.pool) gives up when the server does not answer in time. A frozen or
unreachable PostgreSQL (its kernel still acknowledges every packet, so neither TCP keepalives
nor the server's own ``statement_timeout`` fire) then fails the request with
:class:`DatabaseTimeout` instead of holding it for as long as the server stays frozen.
Connections without limits (migrations, the GC sweep's session) wait as long as it takes.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg2
import psycopg2.extensions

_CONNECTED = frozenset({psycopg2.extensions.STATUS_READY, psycopg2.extensions.STATUS_BEGIN,
                        psycopg2.extensions.STATUS_PREPARED})


class DatabaseTimeout(psycopg2.OperationalError):
    """PostgreSQL did not answer within the client-side bound; the connection is discarded."""


def wait_limit(conn: Any) -> float | None:
    """Seconds this wait may take: ``(connect, answer)`` from the connection's ``wait_limits``
    (connect while it is being set up), None when it has none."""
    limits = getattr(conn, "wait_limits", None)
    if limits is None:
        return None
    connect, answer = limits
    return answer if conn.status in _CONNECTED else connect


def bounded_wait_callback(conn: Any) -> None:
    """psycopg2 wait callback: poll until done, waiting on the socket cooperatively."""
    from gevent.socket import wait_read, wait_write

    limit = wait_limit(conn)
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise DatabaseTimeout(f"database did not answer within {limit:g} s")
        try:
            if state == psycopg2.extensions.POLL_READ:
                wait_read(conn.fileno(), timeout=remaining)
            elif state == psycopg2.extensions.POLL_WRITE:
                wait_write(conn.fileno(), timeout=remaining)
            else:
                raise psycopg2.OperationalError(f"bad result from poll: {state!r}")
        except TimeoutError:  # gevent's socket.timeout
            raise DatabaseTimeout(f"database did not answer within {limit:g} s") from None


def patch_if_gevent() -> bool:
    """Install the bounded wait callback when gevent has patched this process."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    if not monkey.is_module_patched("socket"):
        return False
    psycopg2.extensions.set_wait_callback(bounded_wait_callback)
    return True
