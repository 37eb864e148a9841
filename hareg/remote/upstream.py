# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The HTTP client of an upstream registry: urllib3, bounded in time, with upstream auth.

Every exchange is bounded: connecting and each read wait at most ``remote.timeout``, and the
exchanges of one manifest request share one deadline of ``remote.timeout`` (a trickling
upstream cannot stretch it). A blob body is bounded per read (an upstream that stops sending
for ``remote.timeout`` ends the pull), not in total: a large blob may take longer.

Authentication, as the distribution spec's clients do it: anonymous first, or the credentials
the upstream asked for before; on ``401`` with ``WWW-Authenticate: Basic`` the request is sent
again with the remote's username and password; with ``Bearer realm=...,service=...,scope=...``
a token is fetched from the realm (with Basic credentials when the remote has them) and the
request sent again with it. Tokens are cached per (remote, scope) until shortly before they
expire. Credentials and tokens never appear in a log line or an error message.

One connection pool per process (made after gunicorn forks), shared by every remote.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError

from ..registry.errors import RegistryError
from ..registry.namespaces import Remote

log = logging.getLogger(__name__)

#: Tokens are dropped this many seconds before their expiry (a token that expires in flight).
TOKEN_MARGIN = 10.0
#: A token response without ``expires_in`` lasts 60 s (the token spec's default).
DEFAULT_TOKEN_LIFETIME = 60.0
MAX_TOKEN_RESPONSE = 64 * 1024
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


class UpstreamUnavailable(RegistryError):
    """The upstream could not answer: unreachable, too slow, 5xx, rate-limited, or it refused
    hareg's credentials. Cached content is still served; uncached content gets this."""

    code, status, message = "UNAVAILABLE", 503, "upstream registry unavailable"

    def __init__(self, message: str | None = None, detail: object = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message, detail, {"Retry-After": "10", **(headers or {})})


class UpstreamInvalid(UpstreamUnavailable):
    """The upstream answered with something hareg will not cache (bytes that do not match
    their digest, a manifest that does not parse)."""

    status = 502
    message = "upstream registry sent invalid content"


@dataclass
class _Token:
    value: str
    expires: float  # time.monotonic()


_tokens: dict[tuple[str, str, str, str], _Token] = {}
_basic: set[tuple[str, str]] = set()  # (remote name, url): the upstream asked for Basic
_pool: tuple[int, urllib3.PoolManager] | None = None


def _manager() -> urllib3.PoolManager:
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), urllib3.PoolManager(num_pools=32, maxsize=16, block=False))
    return _pool[1]


def forget_tokens() -> None:
    """Drop every cached token (tests)."""
    _tokens.clear()
    _basic.clear()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """(scheme lowercased, parameters) of a ``WWW-Authenticate`` header."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


class Deadline:
    """The time left of one bounded exchange."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def timeout(self, per_read: float | None = None) -> urllib3.Timeout:
        left = max(self.left(), 0.05)
        read = left if per_read is None else per_read
        return urllib3.Timeout(connect=left, read=read)


class Upstream:
    """Requests to one remote's upstream registry."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.base = remote.url.rstrip("/")
        self.name = self.base  # how errors name the upstream (never with credentials)

    # --- errors ---

    def unavailable(self, what: str, reason: str) -> UpstreamUnavailable:
        return UpstreamUnavailable(
            f"upstream {self.name} of remote namespace {self.remote.name!r}: {what}: {reason}",
            detail={"upstream": self.name, "remote": self.remote.name})

    def invalid(self, what: str, reason: str) -> UpstreamInvalid:
        return UpstreamInvalid(
            f"upstream {self.name} of remote namespace {self.remote.name!r}: {what}: {reason}",
            detail={"upstream": self.name, "remote": self.remote.name})

    # --- requests ---

    def request(self, method: str, path: str, repository: str, what: str, *,
                headers: Mapping[str, str] | None = None, deadline: Deadline,
                stream: bool = False, per_read: float | None = None
                ) -> urllib3.BaseHTTPResponse:
        """``method /v2/<path>`` with upstream auth; the response (status < 500, not 429).

        ``stream``: the body is left unread (the caller reads and releases it); otherwise it
        is read, up to the deadline. Raises UpstreamUnavailable.
        """
        url = f"{self.base}/v2/{path}"
        scope = f"repository:{repository}:pull"
        sent_auth = self._auth_header(scope)
        for attempt in range(2):
            response = self._send(method, url, {**(headers or {}), **sent_auth}, deadline,
                                  what, per_read)
            if response.status != 401 or attempt == 1:
                break
            challenge = response.headers.get("WWW-Authenticate", "")
            discard(response)
            sent_auth = self._answer_challenge(challenge, scope, deadline, what)
        if response.status == 401:
            discard(response)
            raise self.unavailable(what, "the upstream refused hareg's credentials (401)"
                                   if self.remote.username else
                                   "the upstream requires credentials (401)")
        if response.status >= 500 or response.status == 429:
            discard(response)
            raise self.unavailable(what, f"the upstream answered {response.status}")
        if not stream:
            self._read_all(response, deadline, what, limit=None)
        return response

    def _send(self, method: str, url: str, headers: Mapping[str, str], deadline: Deadline,
              what: str, per_read: float | None) -> urllib3.BaseHTTPResponse:
        if deadline.left() <= 0:
            raise self.unavailable(what, f"no answer within {deadline.seconds:g} s")
        try:
            return _manager().request(
                method, url, headers=dict(headers), preload_content=False,
                timeout=deadline.timeout(per_read),
                # Redirects (to a CDN, for blobs) are followed; urllib3 drops Authorization
                # when the host changes.
                retries=urllib3.Retry(total=None, connect=0, read=0, status=0, other=0,
                                      redirect=5, raise_on_redirect=True),
            )
        except HTTPError as exc:
            raise self.unavailable(what, _reason(exc)) from None

    def read_body(self, response: urllib3.BaseHTTPResponse, deadline: Deadline, what: str,
                  limit: int) -> bytes:
        """The whole body, at most ``limit`` bytes (UpstreamInvalid beyond), by the deadline."""
        return self._read_all(response, deadline, what, limit)

    def _read_all(self, response: urllib3.BaseHTTPResponse, deadline: Deadline, what: str,
                  limit: int | None) -> bytes:
        data = bytearray()
        try:
            while True:
                if deadline.left() <= 0:
                    raise self.unavailable(what, f"no complete answer within"
                                                 f" {deadline.seconds:g} s")
                chunk = response.read(64 * 1024)
                if not chunk:
                    break
                data += chunk
                if limit is not None and len(data) > limit:
                    raise self.invalid(what, f"the answer is larger than {limit} bytes")
        except HTTPError as exc:
            raise self.unavailable(what, _reason(exc)) from None
        finally:
            response.release_conn()
        return bytes(data)

    # --- authentication ---

    def _key(self, scope: str) -> tuple[str, str, str, str]:
        return (self.remote.name, self.base, self.remote.username, scope)

    def _basic_header(self) -> dict[str, str]:
        raw = f"{self.remote.username}:{self.remote.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}

    def _auth_header(self, scope: str) -> dict[str, str]:
        token = _tokens.get(self._key(scope))
        if token is not None:
            if token.expires > time.monotonic():
                return {"Authorization": f"Bearer {token.value}"}
            _tokens.pop(self._key(scope), None)
        if self.remote.username and (self.remote.name, self.base) in _basic:
            return self._basic_header()
        return {}

    def _answer_challenge(self, challenge: str, scope: str, deadline: Deadline,
                          what: str) -> dict[str, str]:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if not self.remote.username:
                raise self.unavailable(what, "the upstream requires credentials (401 Basic)")
            _basic.add((self.remote.name, self.base))
            return self._basic_header()
        if scheme == "bearer" and params.get("realm"):
            token = self._fetch_token(params, scope, deadline, what)
            return {"Authorization": f"Bearer {token}"}
        raise self.unavailable(what, "the upstream asked for an authentication scheme hareg"
                                     " does not speak")

    def _fetch_token(self, params: Mapping[str, str], scope: str, deadline: Deadline,
                     what: str) -> str:
        realm = params["realm"]
        parts = urlsplit(realm)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise self.invalid(what, "the upstream's token realm is not an http(s) URL")
        headers: dict[str, str] = {}
        # Credentials go to the realm only over TLS, or on loopback (tests).
        if self.remote.username and (parts.scheme == "https" or host in ("localhost", "::1")
                                     or host.startswith("127.")):
            headers = self._basic_header()
        query = {k: v for k, v in (("service", params.get("service")),
                                   ("scope", params.get("scope") or scope)) if v}
        url = f"{realm}{'&' if parts.query else '?'}{urlencode(query)}"
        try:
            response = _manager().request("GET", url, headers=headers, preload_content=False,
                                          timeout=deadline.timeout(),
                                          retries=urllib3.Retry(total=None, connect=0, read=0,
                                                                status=0, other=0, redirect=3,
                                                                raise_on_redirect=True))
        except HTTPError as exc:
            raise self.unavailable(what, f"token endpoint: {_reason(exc)}") from None
        status = response.status
        body = self._read_all(response, deadline, what, MAX_TOKEN_RESPONSE)
        if status in (401, 403):
            raise self.unavailable(what, f"the token endpoint refused hareg's credentials"
                                         f" ({status})")
        if status != 200:
            raise self.unavailable(what, f"the token endpoint answered {status}")
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
            lifetime = float(doc.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, TypeError, AttributeError):
            token, lifetime = None, 0.0
        if not isinstance(token, str) or not token:
            raise self.invalid(what, "the token endpoint's answer holds no token")
        if lifetime > TOKEN_MARGIN:
            _tokens[self._key(scope)] = _Token(token, time.monotonic() + lifetime - TOKEN_MARGIN)
        log.debug("upstream %s: token for %s (%d s)", self.name, scope, int(lifetime))
        return token


def discard(response: urllib3.BaseHTTPResponse) -> None:
    """Read and drop a response's body (an error answer), returning the connection."""
    with suppress(HTTPError):
        response.drain_conn()
    response.release_conn()


def _reason(exc: BaseException) -> str:
    """A short reason for a transport failure, without URLs or headers."""
    cause = getattr(exc, "reason", None) or exc
    name = type(cause).__name__
    text = {"ConnectTimeoutError": "connection timed out",
            "ReadTimeoutError": "no answer in time (read timed out)",
            "NewConnectionError": "connection refused or host unreachable",
            "NameResolutionError": "host name not found",
            "ProtocolError": "connection broken",
            "SSLError": "TLS failure",
            "MaxRetryError": "too many redirects"}.get(name)
    return text or f"transport error ({name})"
