# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A small HTTP/1.1 keep-alive client and a threaded (optionally multi-process) load runner.

Why not requests or http.client: on a 2-core machine the benchmark client competes with the
servers it measures, so it has to be cheap. ``http.client`` parses every response header block
with the ``email`` package, ``requests`` adds several layers on top; this client sends one
pre-built request head per call, parses the answer with ``bytes.split`` and receives large
bodies with ``recv_into`` straight into their final buffer (no copies), then verifies them with
one ``memcmp`` against the expected bytes or with a streaming SHA-256.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

RECV_SIZE = 256 * 1024
SMALL_BODY = 64 * 1024  # bodies up to this size go out in the same send() as the head

Body = bytes | bytearray | memoryview


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client understands it."""


class VerifyError(Exception):
    """The answer arrived but is not what the scenario expected."""


class _Stale(Exception):
    """A reused keep-alive connection was closed by the server before it answered."""


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes = b""
    length: int = 0  # body bytes received
    sha256: str | None = None  # "sha256:<hex>" when asked for

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


class Connection:
    """One keep-alive connection; reconnects transparently after the server closes it."""

    def __init__(self, host: str, port: int, timeout: float = 600.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._buf = bytearray()
        self._body = bytearray()
        self._expect_chunks: Callable[[int], bytes] | None = None
        self._host_header = f"Host: {host}:{port}\r\n".encode()
        self.requests = 0

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self._buf = bytearray()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._buf = bytearray()
        return sock

    def request(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]] = (),
        body: Body | Iterable[bytes] | None = None,
        *,
        body_length: int | None = None,
        expect_body: Body | None = None,
        sha256: bool = False,
        expect_chunks: Callable[[int], bytes] | None = None,
    ) -> Reply:
        """Send one request and read the whole answer.

        ``body`` is bytes-like, or an iterable of chunks with ``body_length`` given.
        ``expect_body``: receive the body into its own buffer and compare it with these bytes
        (a mismatch raises VerifyError; ``Reply.body`` stays empty). ``expect_chunks``: the same
        for bodies too large to hold, as a function of the chunk index returning the expected
        ``CHUNK`` bytes (fewer for the last one). ``sha256``: hash the body while it streams in.
        """
        replayable = body is None or isinstance(body, bytes | bytearray | memoryview)
        reused = self.sock is not None
        try:
            return self._exchange(method, path, headers, body, body_length, expect_body, sha256,
                                  expect_chunks)
        except _Stale:
            self.close()
            if not (reused and replayable):
                raise ProtocolError("connection closed before an answer") from None
            return self._exchange(method, path, headers, body, body_length, expect_body, sha256,
                                  expect_chunks)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ sending

    def _exchange(self, method: str, path: str, headers: Iterable[tuple[str, str]],
                  body: Body | Iterable[bytes] | None, body_length: int | None,
                  expect_body: Body | None, sha256: bool,
                  expect_chunks: Callable[[int], bytes] | None) -> Reply:
        sock = self.sock or self._connect()
        head = bytearray(f"{method} {path} HTTP/1.1\r\n".encode("latin-1"))
        head += self._host_header
        for name, value in headers:
            head += f"{name}: {value}\r\n".encode("latin-1")
        small: Body | None = None
        chunks: Iterable[bytes] | None = None
        if body is None:
            if method in ("POST", "PUT", "PATCH"):
                head += b"Content-Length: 0\r\n"
        elif isinstance(body, bytes | bytearray | memoryview):
            size = memoryview(body).nbytes
            head += f"Content-Length: {size}\r\n".encode()
            if size <= SMALL_BODY:
                small = body
            else:
                chunks = (body,)
        else:
            if body_length is None:
                raise ValueError("an iterable body needs body_length")
            head += f"Content-Length: {body_length}\r\n".encode()
            chunks = body
        head += b"\r\n"
        try:
            if small is not None:
                head += small
            sock.sendall(head)
            if chunks is not None:
                for chunk in chunks:
                    sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            raise _Stale() from None
        self.requests += 1
        self._expect_chunks = expect_chunks
        return self._read_reply(method, expect_body, sha256)

    # ---------------------------------------------------------------- receiving

    def _recv_more(self, first: bool) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(RECV_SIZE)
        except ConnectionResetError:
            if first:
                raise _Stale() from None
            raise
        if not data:
            if first:
                raise _Stale()
            raise ProtocolError("connection closed in the middle of an answer")
        self._buf += data

    def _read_line(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 2]
                return line
            self._recv_more(first=False)

    def _read_reply(self, method: str, expect_body: Body | None, sha256: bool) -> Reply:
        first = True
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._recv_more(first=first and not self._buf)
            first = False
        head = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[: end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(f"bad status line {lines[0][:100]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if 100 <= status < 200:
            return self._read_reply(method, expect_body, sha256)
        reply = Reply(status, headers)
        if not 200 <= status < 300:  # keep error bodies: the caller reports them
            expect_body, sha256, self._expect_chunks = None, False, None
        keep_alive = headers.get("connection", "").lower() != "close" and parts[0] != "HTTP/1.0"
        if method == "HEAD" or status in (204, 304):
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._finish(reply, self._read_chunked(), expect_body, sha256)
        elif "content-length" in headers:
            self._read_sized(reply, int(headers["content-length"]), expect_body, sha256)
        else:
            keep_alive = False
            self._finish(reply, self._read_to_eof(), expect_body, sha256)
        if not keep_alive:
            self.close()
        return reply

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self._read_line().split(b";")[0], 16)
            if size == 0:
                while self._read_line():
                    pass
                return bytes(out)
            while len(self._buf) < size + 2:
                self._recv_more(first=False)
            out += self._buf[:size]
            del self._buf[: size + 2]

    def _read_to_eof(self) -> bytes:
        assert self.sock is not None
        while True:
            data = self.sock.recv(RECV_SIZE)
            if not data:
                out = bytes(self._buf)
                self._buf = bytearray()
                return out
            self._buf += data

    @staticmethod
    def _finish(reply: Reply, data: bytes, expect_body: Body | None, sha256: bool) -> None:
        reply.length = len(data)
        if expect_body is not None:
            if data != expect_body:
                raise VerifyError(f"body differs from the expected {len(expect_body)} bytes")
        elif sha256:
            reply.sha256 = "sha256:" + hashlib.sha256(data).hexdigest()
        else:
            reply.body = data

    def _compare_chunks(self, size: int, expected: Callable[[int], bytes]) -> None:
        """Receive ``size`` bytes chunk by chunk, each compared (memcmp) with ``expected(i)``."""
        assert self.sock is not None
        have = index = 0
        scratch = bytearray()
        while have < size:
            want = expected(index)
            n = len(want)
            if n == 0 or have + n > size:
                raise VerifyError(f"body longer than expected ({size} bytes announced)")
            if len(scratch) != n:
                scratch = bytearray(n)
            view = memoryview(scratch)
            got = min(len(self._buf), n)
            view[:got] = self._buf[:got]
            del self._buf[:got]
            while got < n:
                r = self.sock.recv_into(view[got:], n - got)
                if r == 0:
                    raise ProtocolError("connection closed in the middle of a body")
                got += r
            view.release()
            if scratch != want:
                raise VerifyError(f"body differs from the expected bytes in chunk {index}")
            have += n
            index += 1

    def _read_sized(self, reply: Reply, size: int, expect_body: Body | None,
                    sha256: bool) -> None:
        assert self.sock is not None
        reply.length = size
        if self._expect_chunks is not None:
            self._compare_chunks(size, self._expect_chunks)
            return
        if (expect_body is None and not sha256) or size <= len(self._buf):
            while len(self._buf) < size:
                self._recv_more(first=False)
            data = bytes(self._buf[:size])
            del self._buf[:size]
            self._finish(reply, data, expect_body, sha256)
            return
        if expect_body is not None:
            if size != memoryview(expect_body).nbytes:
                raise VerifyError(f"Content-Length {size}, expected {len(expect_body)} bytes")
            # Received in place into a buffer reused across requests of the same size (fresh
            # pages would cost page faults), then compared with one memcmp.
            if len(self._body) != size:
                self._body = bytearray(size)
            target = self._body
            view = memoryview(target)
            have = len(self._buf)
            view[:have] = self._buf
            self._buf = bytearray()
            while have < size:
                got = self.sock.recv_into(view[have:], min(size - have, 4 * 1024 * 1024))
                if got == 0:
                    raise ProtocolError("connection closed in the middle of a body")
                have += got
            view.release()
            if target != expect_body:
                raise VerifyError("body differs from the expected bytes")
            return
        hasher = hashlib.sha256(self._buf)
        have = len(self._buf)
        self._buf = bytearray()
        scratch = memoryview(bytearray(4 * 1024 * 1024))
        while have < size:
            got = self.sock.recv_into(scratch, min(size - have, len(scratch)))
            if got == 0:
                raise ProtocolError("connection closed in the middle of a body")
            hasher.update(scratch[:got])
            have += got
        reply.sha256 = "sha256:" + hasher.hexdigest()


# ---------------------------------------------------------------------- load runner

#: One operation of a scenario: uses the connection, raises on any failure, returns the
#: payload bytes it moved (0 for metadata operations).
Op = Callable[[Connection], int]


@dataclass
class LoadResult:
    ops: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    requests: int = 0
    payload_bytes: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds per successful op
    client_cpu: float = 0.0  # user+system seconds of the client process(es) during the run
    done: list[int] = field(default_factory=list)  # indices of the ops that succeeded

    def merge(self, other: LoadResult) -> None:
        self.ops += other.ops
        self.errors += other.errors
        self.error_samples.extend(other.error_samples[: max(0, 5 - len(self.error_samples))])
        self.requests += other.requests
        self.payload_bytes += other.payload_bytes
        self.latencies.extend(other.latencies)
        self.client_cpu += other.client_cpu
        self.done.extend(other.done)


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, VerifyError | ProtocolError | OSError):
        text += " @ " + traceback.format_tb(exc.__traceback__)[-1].strip().replace("\n", " ")
    return text[:300]


def _run_threads(host: str, port: int, ops: Sequence[Op], concurrency: int,
                 time_limit: float | None = None) -> LoadResult:
    result = LoadResult()
    deadline = [float("inf")]
    lock = threading.Lock()
    index = iter(range(len(ops)))
    ready = threading.Barrier(concurrency + 1)
    start_gate = threading.Event()

    def worker() -> None:
        conn = Connection(host, port)
        local = LoadResult()
        try:
            conn.request("GET", "/v2/")  # open the keep-alive connection before timing
        except Exception as exc:  # noqa: BLE001 - reported as an error of the scenario
            local.errors += 1
            local.error_samples.append(f"warm-up: {_describe(exc)}")
        ready.wait()
        start_gate.wait()
        warm = conn.requests
        while True:
            with lock:
                i = next(index, None) if time.perf_counter() < deadline[0] else None
            if i is None:
                break
            t0 = time.perf_counter()
            try:
                moved = ops[i](conn)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and sampled
                local.errors += 1
                if len(local.error_samples) < 5:
                    local.error_samples.append(_describe(exc))
                conn.close()
                continue
            local.latencies.append(time.perf_counter() - t0)
            local.payload_bytes += moved
            local.ops += 1
            local.done.append(i)
        local.requests = conn.requests - warm
        conn.close()
        with lock:
            result.merge(local)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    ready.wait()
    cpu0 = _cpu_self()
    t0 = time.perf_counter()
    if time_limit is not None:
        deadline[0] = t0 + time_limit
    start_gate.set()
    for t in threads:
        t.join()
    result.wall = time.perf_counter() - t0
    result.client_cpu = _cpu_self() - cpu0
    return result


_FORK_OPS: Sequence[Op] = ()


def _child(conn_end: Any, host: str, port: int, procs: int, index: int,
           concurrency: int, time_limit: float | None) -> None:
    try:
        res = _run_threads(host, port, _FORK_OPS[index::procs], concurrency, time_limit)
        res.done = [i * procs + index for i in res.done]
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        res = LoadResult(errors=1, error_samples=[_describe(exc)])
    conn_end.send(res)
    conn_end.close()
    os._exit(0)


def run_ops(host: str, port: int, ops: Sequence[Op], concurrency: int,
            procs: int = 1, time_limit: float | None = None) -> LoadResult:
    """Run ``ops`` on ``concurrency`` keep-alive connections; ``procs`` > 1 splits them over
    forked client processes (each with ``concurrency / procs`` threads) to escape the GIL.

    With ``time_limit`` (seconds), no operation starts after it; ``LoadResult.done`` lists
    the operations that succeeded.
    """
    concurrency = max(1, min(concurrency, len(ops)))
    procs = max(1, min(procs, concurrency))
    if procs == 1:
        return _run_threads(host, port, ops, concurrency, time_limit)
    global _FORK_OPS
    _FORK_OPS = ops  # inherited by fork: nothing is pickled
    ctx = multiprocessing.get_context("fork")
    pipes, children = [], []
    for i in range(procs):
        parent_end, child_end = ctx.Pipe(duplex=False)
        share = concurrency // procs + (1 if i < concurrency % procs else 0)
        p = ctx.Process(target=_child,
                        args=(child_end, host, port, procs, i, share, time_limit))
        p.start()
        child_end.close()
        pipes.append(parent_end)
        children.append(p)
    total = LoadResult()
    for parent_end in pipes:
        part = parent_end.recv()
        total.merge(part)
        total.wall = max(total.wall, part.wall)  # each child times its own gated run
    for p in children:
        p.join()
    _FORK_OPS = ()
    return total


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
