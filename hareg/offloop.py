# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Run blocking or CPU-heavy work off the gevent event loop.

In a gevent worker (``hareg serve``), a call that blocks in C (fsync, a large ``pwrite``, bcrypt,
OpenSSL hashing of a large buffer: each releases the GIL) would stall every request of the
worker; gevent's thread pool runs it in a real thread while the loop serves the others.
Elsewhere (the CLI, tests without monkey-patching) it is a plain call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def gevent_patched() -> bool:
    """Whether gevent has monkey-patched this process (a ``hareg serve`` worker)."""
    try:
        from gevent.monkey import is_module_patched
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return bool(is_module_patched("socket") and is_module_patched("threading"))


def off_loop(func: Callable[..., R], *args: Any) -> R:
    """``func(*args)``, in gevent's thread pool when gevent has patched this process."""
    if not gevent_patched():
        return func(*args)
    from gevent import get_hub

    return get_hub().threadpool.apply(func, args)
