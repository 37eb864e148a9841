# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""An HTTP proxy on loopback in front of the S3 server that injects faults.

hareg's S3 driver is pointed at :attr:`FaultProxy.endpoint_url` instead of moto's. Every
request is read whole, then, by the current :class:`Faults` (drawn from one
``random.Random`` with a fixed seed, so a run is repeatable as far as thread scheduling
allows):

- ``error``: answered ``500 InternalError`` or ``503 SlowDown`` without reaching S3;
- ``reset``: the connection is reset (RST) before the request reaches S3;
- ``reset_after``: the request reaches S3 (its effect happens) and the connection is reset
  instead of answering: the "storage side done, answer lost" case;
- ``latency``: a delay drawn uniformly from ``latency`` before forwarding.

:meth:`FaultProxy.hold` parks the next request matching a predicate (before or after S3
saw it) until the test releases it, so a test can act (kill a worker) at that exact point.
Everything injected is counted in :attr:`FaultProxy.counts`.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: Request headers not forwarded (hop-by-hop, or handled by this proxy).
_DROP_REQUEST = {"connection", "keep-alive", "expect", "transfer-encoding", "content-length",
                 "proxy-connection", "te", "upgrade"}
_DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length"}
UPSTREAM_TIMEOUT = 60.0
HOLD_TIMEOUT = 60.0

#: A predicate on (method, path with query): which requests a rule applies to.
Match = Callable[[str, str], bool]


def any_request(method: str, path: str) -> bool:
    return True


@dataclass(frozen=True)
class Faults:
    """Probabilities per request (their sum must stay <= 1) and a latency range in seconds."""

    error: float = 0.0
    reset: float = 0.0
    reset_after: float = 0.0
    latency: tuple[float, float] = (0.0, 0.0)
    match: Match = any_request

    def __post_init__(self) -> None:
        if self.error + self.reset + self.reset_after > 1.0:
            raise ValueError("fault probabilities add up to more than 1")


@dataclass(eq=False)
class Hold:
    """One parked request: ``arrived`` is set when it is parked, ``release()`` lets it go."""

    match: Match
    after_forward: bool
    reset: bool
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    request: str = ""

    def release(self) -> None:
        self.released.set()


class FaultProxy:
    """The proxy: :meth:`start`, point clients at :attr:`endpoint_url`, :meth:`close`."""

    def __init__(self, upstream_url: str, seed: int = 1414) -> None:
        parts = urlsplit(upstream_url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("the fault proxy forwards to loopback only")
        self.upstream = (parts.hostname, parts.port or 80)
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._faults = Faults()
        self._holds: list[Hold] = []
        self.counts: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------ control

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        with self._lock:
            holds, self._holds = self._holds, []
        for hold in holds:
            hold.release()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def set_faults(self, faults: Faults | None = None) -> None:
        """Apply ``faults`` from now on (None: pass everything through)."""
        with self._lock:
            self._faults = faults or Faults()

    def hold(self, match: Match, *, after_forward: bool, reset: bool = True) -> Hold:
        """Park the next request matching ``match``: before it reaches S3, or after S3
        answered it (``after_forward``). Once released it is reset (``reset``) or answered."""
        hold = Hold(match, after_forward, reset)
        with self._lock:
            self._holds.append(hold)
        return hold

    def cancel(self, hold: Hold) -> None:
        """Disarm ``hold`` if no request matched it yet, and let a parked one go."""
        with self._lock:
            if hold in self._holds:
                self._holds.remove(hold)
        hold.release()

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    @property
    def injected(self) -> int:
        with self._lock:
            return sum(n for kind, n in self.counts.items() if kind != "requests")

    # ----------------------------------------------------------------- decisions

    def _decide(self, method: str, path: str) -> tuple[str, float, Hold | None]:
        """What to do with one request: (action, delay, hold)."""
        with self._lock:
            self.counts["requests"] += 1
            for hold in self._holds:
                if hold.match(method, path):
                    self._holds.remove(hold)
                    hold.request = f"{method} {path}"
                    self.counts["held"] += 1
                    return "hold", 0.0, hold
            faults = self._faults
            if not faults.match(method, path):
                return "pass", 0.0, None
            low, high = faults.latency
            delay = self._rng.uniform(low, high) if high > 0 else 0.0
            if delay:
                self.counts["latency"] += 1
            draw = self._rng.random()
            if draw < faults.error:
                action = "500" if self._rng.random() < 0.5 else "503"
            elif draw < faults.error + faults.reset:
                action = "reset"
            elif draw < faults.error + faults.reset + faults.reset_after:
                action = "reset_after"
            else:
                action = "pass"
            if action != "pass":
                self.counts[action] += 1
            return action, delay, None

    def forward(self, method: str, path: str, headers: list[tuple[str, str]],
                body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=UPSTREAM_TIMEOUT)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _DROP_RESPONSE]
            if method == "HEAD":
                length = resp.getheader("Content-Length")
                if length is not None:
                    kept.append(("Content-Length", length))
            return resp.status, resp.reason, kept, data
        finally:
            conn.close()


_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
}


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts = []
                for _ in range(1_000_000):
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(parts)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _reset(self) -> None:
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass

        def _send(self, status: int, reason: str, headers: list[tuple[str, str]],
                  body: bytes) -> None:
            self.send_response(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, kind: str) -> None:
            status, code, message = _ERRORS[kind]
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{message}</Message><RequestId>fault-proxy</RequestId>"
                    "</Error>").encode()
            self._send(status, code, [("Content-Type", "application/xml")], body)

        def _handle(self) -> None:
            method, path = self.command, self.path
            body = self._body()
            action, delay, hold = proxy._decide(method, path)
            if delay:
                time.sleep(delay)
            if action in _ERRORS:
                self._error(action)
                return
            if action == "reset":
                self._reset()
                return
            if hold is not None and not hold.after_forward:
                hold.arrived.set()
                hold.released.wait(HOLD_TIMEOUT)
                if hold.reset:
                    self._reset()
                    return
            headers = [(k, v) for k, v in self.headers.items()
                       if k.lower() not in _DROP_REQUEST]
            status, reason, resp_headers, data = proxy.forward(method, path, headers, body)
            if hold is not None and hold.after_forward:
                hold.arrived.set()
                hold.released.wait(HOLD_TIMEOUT)
                if hold.reset:
                    self._reset()
                    return
            if action == "reset_after":
                self._reset()
                return
            self._send(status, reason, resp_headers, data)

        def do_GET(self) -> None:
            self._handle()

        do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except OSError:  # the client went away (a killed worker): nothing to answer
                self.close_connection = True

    return Handler


def is_complete_multipart(method: str, path: str) -> bool:
    """CompleteMultipartUpload: ``POST <key>?uploadId=...``."""
    return method == "POST" and "uploadId=" in path


def is_upload_part(method: str, path: str) -> bool:
    """UploadPart: ``PUT <key>?partNumber=...&uploadId=...``."""
    return method == "PUT" and "partNumber=" in path and "uploadId=" in path


def is_put_blob_data(method: str, path: str) -> bool:
    """PutObject (or CopyObject) of a blob's content-addressed data."""
    return method == "PUT" and "/blobs/" in path and path.split("?")[0].endswith("/data") \
        and "uploadId=" not in path
