# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The request log and request ids.

:class:`RequestLog` is the outermost WSGI layer. For every request it:

- takes the request id from ``X-Request-Id`` when the direct peer is a trusted proxy
  (``[server] trusted_proxies``, as hareg.server.proxy decides) and the value is safe (1 to
  128 letters, digits, ``.``, ``_``, ``:``, ``-``), else makes one (uuid4, hex);
- sets it in hareg.server.logs.REQUEST_ID, so every log line the request causes carries it,
  and returns it in the ``X-Request-Id`` response header (error responses included);
- writes one line to the ``hareg.request`` logger when the response is closed: client
  address (behind a trusted proxy, the one ``X-Forwarded-For`` names), user, method, path,
  status, request body bytes read, response body bytes sent (streams and ``sendfile``
  included, a cut stream counts what was sent), duration and repository.

Health probes and metrics scrapes that succeed are logged at DEBUG, everything else at INFO.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from .logs import FIELDS, REQUEST_ID
from .metrics import CountedBody, CountingInput
from .proxy import TrustedProxies

log = logging.getLogger("hareg.request")

HEADER = "X-Request-Id"
#: Where the request id and the route's repository are kept in the WSGI environ.
ENVIRON_ID = "hareg.request_id"
ENVIRON_REPOSITORY = "hareg.repository"

_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
_UNSAFE = re.compile(r'[\x00-\x20"\\\x7f-\U0010ffff]')


def valid_request_id(value: str | None) -> str | None:
    """The value when it is a safe request id, else None."""
    if value and _SAFE_ID.fullmatch(value):
        return value
    return None


def _escaped(text: str) -> str:
    """For the text line: no spaces, quotes, control or non-ASCII characters (no log forging)."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                       else f"\\u{ord(m.group()):04x}", text)


def note_repository(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Flask ``url_value_preprocessor``: remember the route's repository for the log line.

    Runs before every ``before_request`` hook, so a request refused by authorization is
    logged with its repository too."""
    from flask import request

    if values and isinstance(values.get("name"), str):
        request.environ[ENVIRON_REPOSITORY] = values["name"]


class _Entry:
    """One request being served; :meth:`finish` writes its line exactly once."""

    def __init__(self, environ: dict[str, Any], request_id: str, client: str,
                 enabled: bool) -> None:
        self.environ = environ
        self.request_id = request_id
        self.client = client
        self.enabled = enabled
        self.start = time.perf_counter()
        self.status = "500"
        self.content_length: int | None = None
        self.sent = 0
        self.done = False
        self.input = CountingInput(environ["wsgi.input"]) if "wsgi.input" in environ else None
        if self.input is not None:
            environ["wsgi.input"] = self.input

    def start_response(self, start_response: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            self.status = status.split(" ", 1)[0]
            for key, value in headers:
                if key.lower() == "content-length" and value.isdigit():
                    self.content_length = int(value)
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((HEADER, self.request_id))
            return start_response(status, headers, *exc)
        return wrapped

    def body_length(self, filelike: Any, start: int | None) -> int:
        """What a complete file response sends: Content-Length, else the rest of the file."""
        if self.status in ("204", "304"):
            return 0
        if self.content_length is not None:
            return self.content_length
        try:
            return max(os.fstat(filelike.fileno()).st_size - (start or 0), 0)
        except (AttributeError, OSError, ValueError):
            return 0

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        if not self.enabled:
            return
        try:
            self._write()
        except Exception:  # the log line must never fail the request
            log.exception("cannot write the request log line")

    def _write(self) -> None:
        env = self.environ
        method = env.get("REQUEST_METHOD", "-")
        path = env.get("RAW_URI") or env.get("PATH_INFO", "")
        if "RAW_URI" not in env and env.get("QUERY_STRING"):
            path += "?" + env["QUERY_STRING"]
        user = env.get("REMOTE_USER") or None
        repository = env.get(ENVIRON_REPOSITORY)
        duration = time.perf_counter() - self.start
        received = self.input.count if self.input is not None else 0
        status = int(self.status) if self.status.isdigit() else 0
        level = logging.INFO
        if status < 400 and env.get("PATH_INFO") in _PROBES:
            level = logging.DEBUG
        if not log.isEnabledFor(level):
            return
        fields = {"client": self.client, "user": user, "method": method, "path": path,
                  "status": status, "bytes_in": received, "bytes_out": self.sent,
                  "duration": round(duration, 6), "repository": repository}
        log.log(level, '%s %s "%s %s" %s in=%d out=%d %.3fs %s',
                _escaped(self.client or "-"), _escaped(user or "-"), _escaped(method),
                _escaped(path), self.status, received, self.sent, duration,
                _escaped(repository or "-"), extra={FIELDS: fields})


def _file_position(filelike: Any) -> int | None:
    try:
        return os.lseek(filelike.fileno(), 0, os.SEEK_CUR)
    except (AttributeError, OSError, ValueError):
        pass
    try:
        return int(filelike.tell())
    except (AttributeError, OSError, ValueError):
        return None


class RequestLog:
    """WSGI middleware (outermost): request id, ``X-Request-Id`` header, request log line."""

    def __init__(self, app: Any, proxies: TrustedProxies, enabled: bool = True) -> None:
        self.app = app
        self.proxies = proxies
        self.enabled = enabled

    def _from_trusted_proxy(self, peer: str) -> bool:
        return bool(self.proxies.networks) and self.proxies.is_trusted(peer)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        trusted = self._from_trusted_proxy(peer)
        request_id = (valid_request_id(environ.get("HTTP_X_REQUEST_ID")) if trusted else None
                      ) or uuid.uuid4().hex
        environ["HTTP_X_REQUEST_ID"] = environ[ENVIRON_ID] = request_id
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        client = (self.proxies.client_address(peer, forwarded_for)
                  if trusted and forwarded_for and peer else peer)
        # Left set after the response: gunicorn's own lines about this request (an error
        # while streaming it) come after close(). The next request on the connection
        # replaces it; a connection's greenlet has its own context.
        REQUEST_ID.set(request_id)
        entry = _Entry(environ, request_id, client, self.enabled)
        try:
            body = self.app(environ, entry.start_response(start_response))
        except BaseException:
            entry.finish()
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            return self._hook_file(body, entry)
        return CountedBody(body, entry)

    @staticmethod
    def _hook_file(body: Any, entry: _Entry) -> Any:
        """Keep the server's sendfile path; count what was sent when it is closed.

        gunicorn puts the file back where it started after a complete ``sendfile`` (and
        then closes the response normally); a cut one leaves it where sending stopped, and
        closes the response while the error propagates. Without sendfile the server reads
        the file as it sends it.
        """
        filelike = getattr(body, "filelike", None)
        start = _file_position(filelike)
        original_close = getattr(body, "close", None)

        def close() -> None:
            try:
                end = _file_position(filelike)
                if start is not None and end is not None and end != start:
                    entry.sent = max(end - start, 0)
                elif sys.exc_info()[0] is None and entry.environ.get("REQUEST_METHOD") != "HEAD":
                    entry.sent = entry.body_length(filelike, start)
                if original_close is not None:
                    original_close()
            finally:
                entry.finish()

        body.close = close
        return body
