# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Stop signals that reach a gunicorn worker before it serves: it exits at once.

Without this, SIGTERM sent while a worker boots (gevent patching, importing the app,
connecting) is lost and the master waits the whole graceful_timeout before SIGKILL.
"""

from __future__ import annotations

import os
import signal
from typing import Any

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def exit_while_booting(sig: int, frame: Any) -> None:
    """A worker that has not served anything yet has nothing to finish: leave at once."""
    os._exit(0)


def stop_while_booting() -> None:
    """Make SIGTERM/SIGINT/SIGQUIT end a worker that is still booting (first thing after fork).

    Until gunicorn installs the worker's handlers (after gevent's patching) the child still
    has the master's handler, which only queues the signal in the child's copy of the
    master's queue, where nobody reads it: the worker would boot, serve, and be killed
    at the end of graceful_timeout. So: exit on those signals from now on, and exit now if
    one was queued since the fork (or was pending in the master, which is then stopping).
    """
    inherited = signal.getsignal(signal.SIGTERM)
    for sig in _STOP_SIGNALS:
        signal.signal(sig, exit_while_booting)
    pending = getattr(getattr(inherited, "__self__", None), "SIG_QUEUE", None)
    if pending is None:
        return
    for _ in range(100):
        try:
            queued = pending.get_nowait()
        except Exception:  # noqa: BLE001 - queue.Empty, or a gunicorn whose queue looks different
            break
        if queued in _STOP_SIGNALS:
            os._exit(0)
