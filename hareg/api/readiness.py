# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The probes behind ``/readyz``, run at the same time and cut off at a deadline.

A load balancer polls ``/readyz`` with a short timeout of its own; an answer that comes too
late is no answer, and a probe stuck on a frozen database must not hold the request. Under
gevent each probe runs in its own greenlet and those still running at the deadline are
killed (a database connection killed mid-statement is closed, never reused); elsewhere
(the CLI, the Flask test client) each runs in a daemon thread that is left behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from ..offloop import gevent_patched

#: Seconds the probes get together; /readyz answers well within 2 s.
DEADLINE = 1.5


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def run_probes(probes: Mapping[str, Callable[[], None]],
               deadline: float = DEADLINE) -> dict[str, str]:
    """Run every probe; return ``{name: problem}`` for those that failed or did not finish."""
    if gevent_patched():
        return _run_greenlets(probes, deadline)
    return _run_threads(probes, deadline)


def _run_greenlets(probes: Mapping[str, Callable[[], None]], deadline: float
                   ) -> dict[str, str]:
    import gevent

    greenlets = {name: gevent.spawn(probe) for name, probe in probes.items()}
    gevent.joinall(list(greenlets.values()), timeout=deadline)
    problems: dict[str, str] = {}
    for name, greenlet in greenlets.items():
        if not greenlet.ready():
            greenlet.kill(block=False)
            problems[name] = f"no answer within {deadline:g} s"
        elif greenlet.exception is not None:
            problems[name] = _describe(greenlet.exception)
    return problems


def _run_threads(probes: Mapping[str, Callable[[], None]], deadline: float
                 ) -> dict[str, str]:
    outcome: dict[str, BaseException | None] = {}

    def run(name: str, probe: Callable[[], None]) -> None:
        try:
            probe()
            outcome[name] = None
        except BaseException as exc:  # noqa: BLE001 - reported as the probe's problem, whatever it is
            outcome[name] = exc

    threads = [threading.Thread(target=run, args=item, daemon=True, name=f"readyz-{item[0]}")
               for item in probes.items()]
    for thread in threads:
        thread.start()
    end = time.monotonic() + deadline
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    problems: dict[str, str] = {}
    for name in probes:
        if name not in outcome:
            problems[name] = f"no answer within {deadline:g} s"
        elif outcome[name] is not None:
            problems[name] = _describe(outcome[name])  # type: ignore[arg-type]
    return problems
