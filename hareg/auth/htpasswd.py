# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Users in an htpasswd file with bcrypt hashes (``htpasswd -B``: ``name:$2y$...``).

Verification runs bcrypt in gevent's thread pool when gevent is active (bcrypt releases the
GIL, so it does not stall the other requests of the worker) and caches successes for a minute,
keyed by an HMAC of the password under a per-process random key: a push of many requests with
Basic credentials costs one bcrypt, not one per request. Unknown users are checked against a
dummy hash of the same cost so that the answer time does not reveal which users exist. With a
:class:`~hareg.auth.throttle.PasswordGate`, bcrypt runs only in one of its slots (cache hits
need none).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import bcrypt

from ..offloop import off_loop
from .settings import USER_NAME_RE
from .throttle import PasswordGate
from .watch import WatchedFile

log = logging.getLogger(__name__)

MAX_PASSWORD_BYTES = 72  # bcrypt uses no more; htpasswd truncates there too
BCRYPT_ROUNDS = 12
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
CACHE_SECONDS = 60.0
CACHE_MAX = 10_000


def user_name_error(name: str) -> str | None:
    if not USER_NAME_RE.match(name):
        return ("user names start with a letter or digit and use letters, digits, '.', '_',"
                " '@', '+', '-' (at most 255)")
    return None


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """A bcrypt hash in the ``$2y$`` form htpasswd writes."""
    raw = password.encode()
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"bcrypt passwords are at most {MAX_PASSWORD_BYTES} bytes")
    hashed = bcrypt.hashpw(raw, bcrypt.gensalt(rounds)).decode()
    return "$2y$" + hashed[4:]


@dataclass(frozen=True)
class Users:
    hashes: dict[str, str] = field(default_factory=dict)
    dummy_rounds: int = 10


def parse_htpasswd(data: bytes) -> Users:
    hashes: dict[str, str] = {}
    rounds: list[int] = []
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        m = _BCRYPT_HASH.match(hashed)
        if not sep or not m:
            # never log the line: it holds a hash
            log.warning("htpasswd line %d (user %r) is not a bcrypt entry; ignored (create it"
                        " with hareg user add or htpasswd -B)", number, name[:64])
            continue
        hashes[name] = hashed
        rounds.append(int(m.group(1)))
    return Users(hashes, max(set(rounds), key=rounds.count) if rounds else 10)


class Htpasswd:
    """The users of one htpasswd file, reloaded when the file changes."""

    def __init__(self, path: str, gate: PasswordGate | None = None) -> None:
        self._file = WatchedFile(path, parse_htpasswd, Users())
        self._gate = gate
        self._key = secrets.token_bytes(32)
        self._cache: dict[bytes, float] = {}
        self._users: Users | None = None
        self._dummy: tuple[int, bytes] | None = None

    @property
    def path(self) -> str:
        return self._file.path

    def _current(self) -> Users:
        users = self._file.get()
        if users is not self._users:
            self._users = users
            self._cache.clear()
        return users

    def has_user(self, user: str) -> bool:
        return user in self._current().hashes

    def _dummy_hash(self, rounds: int) -> bytes:
        if self._dummy is None or self._dummy[0] != rounds:
            self._dummy = (rounds, bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds)))
        return self._dummy[1]

    def verify(self, user: str, password: str) -> bool:
        users = self._current()
        stored = users.hashes.get(user)
        raw = password.encode("utf-8", "surrogateescape")[:MAX_PASSWORD_BYTES]
        key = hmac.new(self._key, b"\0".join([user.encode("utf-8", "surrogateescape"),
                                              (stored or "").encode(), raw]),
                       hashlib.sha256).digest()
        now = time.monotonic()
        if stored is not None and self._cache.get(key, 0.0) > now:
            return True
        target = stored.encode() if stored else self._dummy_hash(users.dummy_rounds)
        with self._gate.slot() if self._gate else contextlib.nullcontext():
            try:
                ok = off_loop(bcrypt.checkpw, raw, target)
            except ValueError:
                ok = False
        if not ok or stored is None:
            return False
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[key] = now + CACHE_SECONDS
        return True


# --- editing the file (hareg user add / remove) ------------------------------------------


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        return []


def _write_atomically(path: str, lines: list[str]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o640
    fd, tmp = tempfile.mkstemp(prefix=".htpasswd-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Locked:
    """An exclusive flock on ``path`` (created if needed), re-taken if the file was replaced
    while we waited, so two editors never lose each other's change."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _Locked:
        for _ in range(50):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return self
            os.close(fd)
        raise OSError(f"{self.path} keeps changing; try again")

    def __exit__(self, *_: Any) -> None:
        os.close(self.fd)


def set_user(path: str, user: str, password_hash: str) -> bool:
    """Add ``user`` or replace its hash; True when the user is new."""
    with _Locked(path):
        lines = _read_lines(path)
        entry = f"{user}:{password_hash}"
        for i, line in enumerate(lines):
            if line.partition(":")[0] == user:
                lines[i] = entry
                _write_atomically(path, lines)
                return False
        lines.append(entry)
        _write_atomically(path, lines)
        return True


def remove_user(path: str, user: str) -> bool:
    """Remove ``user``; False when it was not there."""
    if not os.path.exists(path):
        return False
    with _Locked(path):
        lines = _read_lines(path)
        kept = [line for line in lines if line.partition(":")[0] != user]
        if len(kept) == len(lines):
            return False
        _write_atomically(path, kept)
        return True
