# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The master's listening sockets, bound before anything is printed.

gunicorn binds when its arbiter starts and, for an address in use, retries five times a
second apart, logging each failure. ``hareg serve`` binds first instead: an address in use
is one line and exit status 2, and the bound sockets are handed to the arbiter. The sockets
are gunicorn's own classes, so options (SO_REUSEADDR, backlog, Unix socket mode) are the
same as when gunicorn binds itself.
"""

from __future__ import annotations

import os
from typing import Any


class CannotListen(Exception):
    """An address of ``[server] bind`` or ``[metrics] bind`` cannot be bound (one line)."""


def _shown(address: Any) -> str:
    if isinstance(address, tuple):
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        return f"{host}:{address[1]}"
    return f"unix:{address}"


def open_listeners(cfg: Any, metrics_bind: str) -> list[Any]:
    """Bind every address of gunicorn's ``cfg``; raises CannotListen, closing what was bound.

    Returns [] when the sockets come from systemd or a re-exec (gunicorn takes those).
    """
    if any(name in os.environ for name in ("LISTEN_FDS", "GUNICORN_FD")):
        return []
    from gunicorn import sock, util

    metrics_address = util.parse_address(metrics_bind) if metrics_bind else None
    listeners: list[Any] = []
    for address in cfg.address:
        try:
            listeners.append(sock._sock_type(address)(address, cfg, None))
        except (OSError, ValueError) as exc:
            sock.close_sockets(listeners, unlink=False)
            what = " ([metrics] bind)" if address == metrics_address else ""
            problem = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            raise CannotListen(
                f"cannot listen on {_shown(address)}{what}: {problem.lower()}") from None
    return listeners


def probe_listeners(binds: list[str], metrics_bind: str) -> None:
    """Bind every address and let go at once; raises CannotListen for one in use.

    ``hareg serve`` calls it before it starts the embedded PostgreSQL or waits for the
    database, so that a port in use is its only line. The addresses are not held meanwhile:
    while the database is awaited, a proxy's connections are refused rather than queued.
    """
    from gunicorn import sock
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("bind", binds)
    sock.close_sockets(open_listeners(cfg, metrics_bind), unlink=True)
