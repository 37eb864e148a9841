# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Prometheus metrics: what they are, how they are collected, where ``/metrics`` is served.

Every gunicorn worker is its own process. ``hareg serve`` points ``PROMETHEUS_MULTIPROC_DIR``
at a fresh directory before the workers fork (hareg/server/runner.py), so each worker writes its
samples to memory-mapped files there and whichever worker answers a scrape adds up all of
them (prometheus_client's multiprocess mode). Without that variable (tests, one process)
the samples live in this process.

``/metrics`` is answered by :class:`MetricsMiddleware`, in front of Flask: no blueprint, no
``before_request`` hook and so no authentication ever sees it. With ``[metrics] bind`` empty
it is served on the main port; with ``[metrics] bind = "127.0.0.1:9100"`` gunicorn also
listens there, the middleware serves ``/metrics`` only on that listener and nothing else
there, and the main port answers ``/metrics`` with 404. nginx never forwards it
(conf/nginx.conf): each instance is scraped on its own.

Metric names and labels are documented in docs/operations.rst.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.routing.exceptions import RoutingException

from ..db import metrics as db_metrics

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0, 300.0, 900.0)
_STORAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 120.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """Every metric hareg exports (one instance per process, see :func:`get_metrics`)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        r = registry
        self.requests = Counter(
            "hareg_http_requests", "HTTP requests answered, by endpoint group (blueprint).",
            ["group", "method", "status"], registry=r)
        self.latency = Histogram(
            "hareg_http_request_duration_seconds",
            "Time from the request to the last byte of the response (blob streams included).",
            ["group", "method", "status"], buckets=_LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge(
            "hareg_http_requests_in_flight", "Requests being served now.",
            registry=r, multiprocess_mode="livesum")
        self.bytes_received = Counter(
            "hareg_http_request_bytes", "Request body bytes read.", ["group", "method"],
            registry=r)
        self.bytes_sent = Counter(
            "hareg_http_response_bytes", "Response body bytes sent.", ["group", "method"],
            registry=r)
        self.pool_in_use = Gauge(
            "hareg_db_pool_connections_in_use", "Database connections lent out now.",
            registry=r, multiprocess_mode="livesum")
        self.pool_size = Gauge(
            "hareg_db_pool_connections_max", "Database connections the pools may open.",
            registry=r, multiprocess_mode="livesum")
        self.pool_waits = Counter(
            "hareg_db_pool_waits", "Times a request had to wait for a free connection.",
            registry=r)
        self.storage_latency = Histogram(
            "hareg_storage_operation_duration_seconds",
            "Storage driver calls (streams: until the first chunk; listings: whole walk).",
            ["operation"], buckets=_STORAGE_BUCKETS, registry=r)
        self.storage_errors = Counter(
            "hareg_storage_errors", "Storage driver calls that failed (not-found excluded).",
            ["operation"], registry=r)
        self.storage_writable = Gauge(
            "hareg_storage_writable",
            "1 while the storage takes writes, 0 after a write it refused (no space,"
            " read-only, quota) until the next write succeeds; with several workers the"
            " lowest.", registry=r, multiprocess_mode="livemin")
        self.auth_failed_logins = Counter(
            "hareg_auth_failed_logins",
            "Password checks that ran bcrypt and failed, by reason (unknown_user, password).",
            ["reason"], registry=r)
        self.auth_throttled = Counter(
            "hareg_auth_throttled",
            "Password checks refused without bcrypt, by kind (user_address, address, user:"
            " failed-login limits; busy: no free password check slot).",
            ["kind"], registry=r)
        self._last_waits: dict[int, int] = {}
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._pool_observed = 0.0

    def request_children(self, group: str, method: str, status: str) -> tuple[Any, Any]:
        """The labelled counter and histogram, looked up once per label set (labels() locks)."""
        key = (group, method, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(*key), self.latency.labels(*key))
            self._children[key] = children
        return children

    def observe_pool(self, db: Any, throttled: bool = False) -> None:
        """Copy a Database's counters into this process's samples (per request: at most
        every 0.2 s, the pool gauges need no more; at scrape time: always)."""
        now = time.monotonic()
        if throttled and now - self._pool_observed < 0.2:
            return
        self._pool_observed = now
        self.pool_in_use.set(db.in_use)
        self.pool_size.set(db.size)
        last = self._last_waits.get(id(db), 0)
        if db.waits > last:
            self.pool_waits.inc(db.waits - last)
        self._last_waits[id(db)] = db.waits


_METRICS: Metrics | None = None
_LOCAL_REGISTRY = CollectorRegistry(auto_describe=True)


@contextmanager
def recording() -> Iterator[None]:
    """Metrics never fail a request: a failure to record is logged (once a minute)."""
    global _LAST_FAILURE_LOG
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - metrics never fail a request
        if time.monotonic() - _LAST_FAILURE_LOG > 60:
            _LAST_FAILURE_LOG = time.monotonic()
            log.warning("metrics: cannot record a sample: %s: %s", type(exc).__name__, exc)


_LAST_FAILURE_LOG = -1e9


def get_metrics() -> Metrics:
    """The process's metrics, created on first use (after gunicorn forked this worker)."""
    global _METRICS
    if _METRICS is None:
        directory = multiprocess_dir()
        if directory:  # recreate it if something removed it: samples must go somewhere
            os.makedirs(directory, exist_ok=True)
        if multiprocess_dir() and values.ValueClass is values.MutexValue:
            # prometheus_client was imported before the variable was set: select the
            # multiprocess value class now, before the first metric exists.
            values.ValueClass = values.get_value_class()
        _METRICS = Metrics(None if multiprocess_dir() else _LOCAL_REGISTRY)
    return _METRICS


class UploadSessionsCollector:
    """``hareg_upload_sessions_open``: read from the database at scrape time."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.db.read() as cur:
                count, oldest = db_metrics.upload_sessions(cur)
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail with the database away
            log.warning("metrics: cannot count upload sessions: %s", exc)
            return
        yield GaugeMetricFamily("hareg_upload_sessions_open",
                                "Upload sessions in the database (all instances).",
                                value=count)
        yield GaugeMetricFamily("hareg_upload_session_oldest_idle_seconds",
                                "Time since the least recently active open upload moved.",
                                value=oldest)


class _Forward:
    """Collects what another registry holds (this process's samples, single-process mode)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        return iter(self.registry.collect())


def exposition(db: Any) -> bytes:
    """The text a scrape gets: every worker's samples plus the database-derived gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(_LOCAL_REGISTRY))
    if db is not None:
        registry.register(UploadSessionsCollector(db))
    return generate_latest(registry)


class CountingInput:
    """``wsgi.input`` that counts what the application reads."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.count = 0
        if hasattr(stream, "readinto"):  # werkzeug prefers it when the stream has it
            self.readinto = self._readinto

    def read(self, *args: Any) -> bytes:
        data = self._stream.read(*args)
        self.count += len(data)
        return data

    def _readinto(self, buffer: Any) -> int:
        n = self._stream.readinto(buffer)
        self.count += n or 0
        return n

    def readline(self, *args: Any) -> bytes:
        data = self._stream.readline(*args)
        self.count += len(data)
        return data

    def readlines(self, *args: Any) -> list[bytes]:
        lines = self._stream.readlines(*args)
        self.count += sum(len(line) for line in lines)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            self.count += len(line)
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Exchange:
    """One request being measured; :meth:`finish` records it exactly once."""

    def __init__(self, metrics: Metrics, environ: dict[str, Any], db: Any,
                 group_of: Callable[[dict[str, Any]], str]) -> None:
        self.metrics = metrics
        self.group_of = group_of
        self.environ = environ
        self.db = db
        self.start = time.perf_counter()
        self.status = "500"
        self.content_length: int | None = None
        self.sent = 0
        self.input = CountingInput(environ["wsgi.input"]) if "wsgi.input" in environ else None
        if self.input is not None:
            environ["wsgi.input"] = self.input
        self.done = False
        with recording():
            metrics.in_flight.inc()
            if db is not None:
                metrics.observe_pool(db, throttled=True)

    def start_response(self, start_response: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            self.status = status.split(" ", 1)[0]
            for key, value in headers:
                if key.lower() == "content-length" and value.isdigit():
                    self.content_length = int(value)
            return start_response(status, headers, *exc)
        return wrapped

    def finish(self, sent: int | None = None) -> None:
        if self.done:
            return
        self.done = True
        with recording():
            self._record(sent)

    def _record(self, sent: int | None) -> None:
        m = self.metrics
        method = self.environ.get("REQUEST_METHOD", "")
        method = method if method in _METHODS else "other"
        group = self.group_of(self.environ)
        requests, latency = m.request_children(group, method, self.status)
        requests.inc()
        latency.observe(time.perf_counter() - self.start)
        if self.input is not None and self.input.count:
            m.bytes_received.labels(group, method).inc(self.input.count)
        sent = self.sent if sent is None else sent
        if sent:
            m.bytes_sent.labels(group, method).inc(sent)
        m.in_flight.dec()
        if self.db is not None:
            m.observe_pool(self.db, throttled=True)


class Recorder(Protocol):
    """What a response is counted into: bytes sent so far, and what to do at the end."""

    sent: int

    def finish(self) -> None: ...


class CountedBody:
    """Wraps a response iterable: counts the bytes sent into ``record``, finishes it when the
    server closes the response (the metrics exchange here, the request log's entry too).

    A chunk counts once the server asks for the next one (it has written it by then), so a
    response cut by a failed write does not count the chunk that was not sent."""

    def __init__(self, body: Iterable[bytes], record: Recorder) -> None:
        self._body = body
        self._iter = iter(body)
        self._record = record
        self._pending = 0

    def __iter__(self) -> CountedBody:
        return self

    def __next__(self) -> bytes:
        self._record.sent += self._pending
        self._pending = 0
        chunk = next(self._iter)
        self._pending = len(chunk)
        return chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._record.finish()


def _plain(start_response: Callable[..., Any], status: str, body: bytes,
           content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _local_port(environ: dict[str, Any]) -> int | None:
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        try:
            name = sock.getsockname()
            if isinstance(name, tuple):
                return int(name[1])
        except OSError:
            pass
    port = environ.get("SERVER_PORT", "")
    return int(port) if str(port).isdigit() else None


def metrics_port(bind: str) -> int | None:
    """The port of ``[metrics] bind`` ("HOST:PORT"), None when empty."""
    return int(bind.rsplit(":", 1)[1]) if bind else None


class MetricsMiddleware:
    """Measures every request and answers ``/metrics`` (see the module docstring)."""

    def __init__(self, app: Any, url_map: Map | None, db: Any, bind: str = "") -> None:
        self.app = app
        self.url_map = url_map
        self.db = db
        self.port = metrics_port(bind)
        self.metrics = get_metrics()

    def group_of(self, environ: dict[str, Any]) -> str:
        """The blueprint the request was routed to (the endpoint group), else "unmatched".

        Flask's request object, kept in the environ, already knows its rule: no second
        routing pass per request.
        """
        request = environ.get("werkzeug.request")
        if request is not None and getattr(request, "url_rule", None) is not None:
            return request.blueprint or "app"
        if self.url_map is None or request is not None:
            return "unmatched"
        try:
            endpoint, _ = self.url_map.bind_to_environ(environ).match(
                method=environ.get("REQUEST_METHOD"))
        except (HTTPException, RoutingException):
            return "unmatched"
        return str(endpoint).rsplit(".", 1)[0]

    def _scrape(self, start_response: Callable[..., Any]) -> list[bytes]:
        if self.db is not None:
            self.metrics.observe_pool(self.db)
        return _plain(start_response, "200 OK", exposition(self.db), CONTENT_TYPE_LATEST)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if self.port is not None and _local_port(environ) == self.port:
            if path == "/metrics" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
                return self._scrape(start_response)
            return _plain(start_response, "404 Not Found", b"only /metrics is served here\n")
        if self.port is None and path == "/metrics" \
                and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self._scrape(start_response)
        exchange = _Exchange(self.metrics, environ, self.db, self.group_of)
        try:
            body = self.app(environ, exchange.start_response(start_response))
        except BaseException:
            exchange.finish()
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            # Keep the server's sendfile path: hook close() instead of wrapping.
            wrapped: Any = body
            original_close = getattr(wrapped, "close", None)

            def close() -> None:
                try:
                    if original_close is not None:
                        original_close()
                finally:
                    exchange.finish(sent=exchange.content_length or 0)

            wrapped.close = close
            return wrapped
        return CountedBody(body, exchange)
