# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``[gc] schedule``: periodic sweeps inside ``hareg serve``.

Every worker of every instance runs one background greenlet (a daemon thread outside gevent)
that wakes up about once per interval, with jitter so that they do not all wake together, and
calls ``collect_garbage`` with ``min_interval``: the one that wins the cluster-wide GC lock
sweeps, unless a sweep already started less than an interval ago; everyone else goes back to
sleep at once. A worker that dies takes its database connection, and so its locks, with it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from ..config import Config
from ..db.session import NotASession
from ..registry.context import Registry
from .collect import GcBusy, collect_garbage

log = logging.getLogger(__name__)


def _spawn(target: Callable[[], None]) -> object:
    try:
        from gevent import monkey
    except ImportError:
        monkey = None
    if monkey is not None and monkey.is_module_patched("socket"):
        import gevent

        return gevent.spawn(target)
    thread = threading.Thread(target=target, name="hareg-gc-schedule", daemon=True)
    thread.start()
    return thread


def run_once(reg: Registry, config: Config, interval: int) -> bool:
    """One tick: sweep if this process wins the lock and a sweep is due. True if it swept."""
    try:
        result = collect_garbage(reg, config.gc, config.retention, trigger="schedule",
                                 min_interval=interval * 0.9)  # no int(): 2 s must not become 1 s
    except GcBusy:
        return False
    except NotASession as exc:  # a configuration error: one line, no traceback
        log.error("gc: scheduled sweep refused: %s", exc)
        return False
    except Exception:
        log.exception("gc: scheduled sweep failed")
        return False
    return result.summary is not None


def start_scheduler(reg: Registry, config: Config,
                    sleep: Callable[[float], None] | None = None) -> object | None:
    """Start the background sweeps when ``[gc] schedule`` is set; returns the greenlet/thread."""
    interval = config.gc.schedule_seconds
    if interval <= 0:
        return None
    sleep = sleep or time.sleep  # looked up now: gevent has patched it in a worker

    def loop() -> None:
        # A first wait of a random part of the interval spreads workers and restarts out.
        sleep(random.uniform(0.1, 1.0) * interval)
        while True:
            run_once(reg, config, interval)
            sleep(interval * random.uniform(0.5, 0.75))

    log.info("gc: scheduled sweeps every %ss (one instance sweeps per interval)", interval)
    return _spawn(loop)
