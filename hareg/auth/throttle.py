# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Throttling of failed logins, and the bound on concurrent bcrypt checks (no Flask here).

Three failure counters, each a fixed window that starts at a key's first failure:

- per (user, address): ``max_failed_logins``, strict. One client guessing one password.
- per address: ``max_failed_logins_per_address``, strict. One client spraying user names.
- per user: ``max_failed_logins_per_user``, higher. Many addresses guessing one password.
  It does not apply from an address where that user logged in successfully within the last
  day (``KNOWN_GOOD_SECONDS``): an attacker with many addresses can lock a user out of new
  places for one window, not out of the places the user already works from.

A key over its limit is refused before bcrypt runs, whatever the password: no CPU, and no
oracle (the right password gets the same 429 as a wrong one). Throttled attempts do not count
as failures. A success forgets its (user, address) failures, not its address's. IPv6 addresses
count per /64 (one host usually holds a whole /64).

The state lives in this worker process's memory: the auth path is decided before any database
access. Each limit therefore holds per worker: with W workers on each of N instances, a client
whose requests are spread over all of them gets up to N x W times the limit. Each map keeps at
most ``TRACKED_KEYS`` keys, least recently failed dropped first; creating a key costs the
attacker a bcrypt check, which :class:`PasswordGate` bounds.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

from .settings import AuthConfig

TRACKED_KEYS = 20_000
KNOWN_GOOD_SECONDS = 86_400.0
MAX_KEY_CHARS = 256

PAIR, ADDRESS, USER = "user_address", "address", "user"


@dataclass(frozen=True)
class Throttled:
    """A refused attempt: which limit (``kind``) and whole seconds until it lifts."""

    kind: str
    retry_after: int


class _Windows:
    """Failures per key in fixed windows; at most ``capacity`` keys (LRU)."""

    def __init__(self, limit: int, window: float, capacity: int) -> None:
        self.limit = limit
        self.window = window
        self.capacity = capacity
        self._keys: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def blocked_for(self, key: Hashable, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        entry = self._keys.get(key)
        if entry is None or self.limit <= 0:
            return 0.0
        left = entry[0] + self.window - now
        if left <= 0:
            del self._keys[key]
            return 0.0
        return left if entry[1] >= self.limit else 0.0

    def add(self, key: Hashable, now: float) -> bool:
        """Count one failure; True when it is the one that reaches the limit."""
        if self.limit <= 0:
            return False
        start, count = self._keys.pop(key, (now, 0))
        if start + self.window <= now:
            start, count = now, 0
        self._keys[key] = (start, count + 1)
        while len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return count + 1 == self.limit

    def forget(self, key: Hashable) -> None:
        self._keys.pop(key, None)


def address_key(address: str | None) -> str:
    """The throttling key of a client address: itself, or its /64 for IPv6."""
    if not address:
        return ""  # a unix socket peer
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:MAX_KEY_CHARS]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    """The three counters and the known-good (user, address) pairs of one worker."""

    def __init__(self, config: AuthConfig, clock: Callable[[], float] = time.monotonic,
                 capacity: int = TRACKED_KEYS) -> None:
        window = float(config.failed_login_window_seconds)
        self._pairs = _Windows(config.max_failed_logins, window, capacity)
        self._addresses = _Windows(config.max_failed_logins_per_address, window, capacity)
        self._users = _Windows(config.max_failed_logins_per_user, window, capacity)
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()

    def sizes(self) -> tuple[int, int, int, int]:
        """Keys held: pairs, addresses, users, known-good pairs."""
        return len(self._pairs), len(self._addresses), len(self._users), len(self._known)

    def check(self, user: str, address: str | None) -> Throttled | None:
        """Why ``user`` may not try a password from ``address`` now, or None."""
        user, addr = user[:MAX_KEY_CHARS], address_key(address)
        now = self._clock()
        with self._lock:
            checks = [(PAIR, self._pairs, (user, addr)), (ADDRESS, self._addresses, addr)]
            if not self._is_known(user, addr, now):
                checks.append((USER, self._users, user))
            for kind, windows, key in checks:
                left = windows.blocked_for(key, now)
                if left > 0:
                    return Throttled(kind, max(1, math.ceil(left)))
        return None

    def failed(self, user: str, address: str | None) -> list[str]:
        """Count a failure; the kinds whose limit it reached (for the log)."""
        user, addr = user[:MAX_KEY_CHARS], address_key(address)
        now = self._clock()
        with self._lock:
            return [kind for kind, windows, key in (
                (PAIR, self._pairs, (user, addr)), (ADDRESS, self._addresses, addr),
                (USER, self._users, user)) if windows.add(key, now)]

    def succeeded(self, user: str, address: str | None) -> None:
        user, addr = user[:MAX_KEY_CHARS], address_key(address)
        with self._lock:
            self._pairs.forget((user, addr))
            self._known.pop((user, addr), None)
            self._known[(user, addr)] = self._clock() + KNOWN_GOOD_SECONDS
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)

    def _is_known(self, user: str, addr: str, now: float) -> bool:
        until = self._known.get((user, addr))
        if until is None:
            return False
        if until <= now:
            del self._known[(user, addr)]
            return False
        return True


class PasswordChecksBusy(Exception):
    """Every bcrypt slot of this worker stayed taken for the whole wait."""


class PasswordGate:
    """At most ``slots`` bcrypt verifications at once in this worker; a check waits at most
    ``wait`` seconds for a slot (0: not at all), then gives up with PasswordChecksBusy.

    The semaphore is made on first use, in the worker, after gevent patched ``threading``:
    waiting on it then yields to the other greenlets.
    """

    def __init__(self, slots: int, wait: float) -> None:
        self.slots = slots
        self.wait = wait
        self._semaphore: threading.BoundedSemaphore | None = None

    @property
    def semaphore(self) -> threading.BoundedSemaphore:
        if self._semaphore is None:
            self._semaphore = threading.BoundedSemaphore(self.slots)
        return self._semaphore

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        semaphore = self.semaphore
        got = (semaphore.acquire(timeout=self.wait) if self.wait > 0
               else semaphore.acquire(blocking=False))
        if not got:
            raise PasswordChecksBusy
        try:
            yield
        finally:
            semaphore.release()
