# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""gunicorn's gevent worker with the shutdown a rolling restart needs.

On SIGTERM (gunicorn's master forwards it to every worker) a :class:`HaregWorker`:

1. marks the app as shutting down at once (``app.config["HAREG_SHUTTING_DOWN"]``), so
   ``/readyz`` answers 503 while ``/healthz`` and everything else keep working;
2. keeps accepting for ``[server] drain_seconds`` (default 0) so that a load balancer with
   active health checks sees the 503 and stops sending before the port closes; every
   response from now on carries ``Connection: close``;
3. stops accepting, accepts what is already queued in the listen backlog (those clients
   completed their TCP handshake: closing the socket would reset them after their request
   was sent, and nginx cannot retry a POST or PATCH then), and closes the listener: new
   connections are refused, which nginx retries on another instance whatever the method;
4. closes idle keep-alive connections (no request in progress, nothing waiting to be read)
   instead of holding them until the timeout;
5. lets in-flight requests, long blob streams included, finish until ``[server]
   graceful_timeout`` (counted from the signal), then stops the rest and exits.

gunicorn's own gevent worker does 3 and 5 only, without accepting the backlog, and keeps
idle keep-alive connections open until the graceful timeout ends.
"""

from __future__ import annotations

import socket
import time
from functools import partial
from typing import Any

import gevent
from gevent.monkey import get_original
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

from .booting import exit_while_booting, stop_while_booting

SHUTTING_DOWN = "HAREG_SHUTTING_DOWN"
_POLL = 0.1
# The unpatched select: a zero-timeout poll of a connection must not register a gevent
# watcher next to the one its own greenlet waits on (closing ours would cancel its wait).
_select = get_original("select", "select")


class _Listener:
    """What gunicorn's handler needs of the listening socket (its name), also after it closed.

    Connections taken from the backlog at shutdown are handled after the listener closed;
    gunicorn asks the listener for its address at the start of every connection.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._name = sock.getsockname()

    def getsockname(self) -> Any:
        return self._name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def mark_shutting_down(wsgi: Any) -> None:
    """Tell the app (a Flask app, or anything with a ``config`` dict) that shutdown began."""
    config = getattr(wsgi, "config", None)
    if isinstance(config, dict):
        config[SHUTTING_DOWN] = True


def _drain_seconds(wsgi: Any) -> float:
    config = getattr(wsgi, "config", None)
    hareg = config.get("HAREG_CONFIG") if isinstance(config, dict) else None
    return float(getattr(getattr(hareg, "server", None), "drain_seconds", 0) or 0)


class HaregWorker(GeventWorker):
    """``worker_class = "hareg.server.worker.HaregWorker"`` (hareg serve sets it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shutdown_started: float | None = None
        # connection socket -> "new" (no request yet), "busy" (request being handled) or
        # "idle" (a keep-alive connection between two requests)
        self.connections: dict[Any, str] = {}

    def init_process(self) -> None:
        from .sendfile import install

        stop_while_booting()
        install()  # zero-copy file responses (blob pulls on the filesystem driver)
        super().init_process()

    # ----------------------------------------------------------------- signals

    def _begin_shutdown(self) -> None:
        if self.shutdown_started is None:
            self.shutdown_started = time.monotonic()
        # A signal may arrive while the worker still loads the app (no self.wsgi yet):
        # run() marks the app once it exists.
        mark_shutting_down(getattr(self, "wsgi", None))

    def handle_exit(self, sig: int, frame: Any) -> None:
        if not self.booted:
            exit_while_booting(sig, frame)
        self._begin_shutdown()
        super().handle_exit(sig, frame)

    def handle_quit(self, sig: int, frame: Any) -> None:
        if not self.booted:
            exit_while_booting(sig, frame)
        self._begin_shutdown()
        super().handle_quit(sig, frame)

    # ------------------------------------------------------- connection tracking

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        self.connections[client] = "new"
        try:
            super().handle(listener, client, addr)
        finally:
            self.connections.pop(client, None)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        self.connections[sock] = "busy"
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            if sock in self.connections:
                self.connections[sock] = "idle"

    # --------------------------------------------------------------------- run

    def run(self) -> None:
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        servers: list[StreamServer] = []
        for s in self.sockets:
            s.setblocking(1)
            server = StreamServer(s, handle=partial(self.handle, _Listener(s)),
                                  spawn=Pool(self.worker_connections), **ssl_args)
            if self.cfg.workers > 1:
                server.max_accept = 1
            server.start()
            servers.append(server)

        while self.alive:
            self.notify()
            gevent.sleep(_POLL)

        self._begin_shutdown()
        started = self.shutdown_started or time.monotonic()
        deadline = started + max(self.cfg.graceful_timeout - 0.5, 0.5)
        try:
            self._shutdown(servers, started, deadline)
        except Exception:  # never let shutdown bookkeeping turn into a crash
            self.log.exception("error during graceful shutdown")
            for server in servers:
                server.stop(timeout=1)

    def _sleep_until(self, when: float) -> None:
        while time.monotonic() < when:
            self.notify()
            gevent.sleep(min(_POLL, max(when - time.monotonic(), 0)))

    def _shutdown(self, servers: list[StreamServer], started: float, deadline: float) -> None:
        drain = min(_drain_seconds(getattr(self, "wsgi", None)), max(deadline - started - 1, 0))
        if drain:
            self.log.info("shutdown: /readyz fails, still accepting for %.1f s", drain)
            self._sleep_until(started + drain)
        for server in servers:
            self._close_listener(server)
        self._close_idle()
        self.log.info("shutdown: listener closed, %d connection(s) open",
                      len(self.connections))
        while time.monotonic() < deadline:
            if all(server.pool.free_count() == server.pool.size for server in servers):
                return
            self._close_idle()
            self.notify()
            gevent.sleep(_POLL)
        self.log.warning("graceful timeout: stopping %d connection(s) still open (pid:%s)",
                         len(self.connections), self.pid)
        for server in servers:
            server.stop(timeout=1)

    def _close_listener(self, server: StreamServer) -> None:
        """Stop accepting, take over what waits in the backlog, then close the socket."""
        server.stop_accepting()
        listener = server.socket
        listener.setblocking(False)
        while True:
            try:
                args = server.do_read()
            except OSError:
                break
            if not args:
                break
            server.do_handle(*args)
        server.close()

    def _close_idle(self) -> None:
        """Shut down keep-alive connections between requests with nothing to read.

        A connection that has not carried a request yet is left alone: its first request may
        be on its way (it came from the backlog), and it gets ``Connection: close`` anyway.
        """
        for conn, state in list(self.connections.items()):
            if state != "idle":
                continue
            try:
                readable, _, _ = _select([conn.fileno()], [], [], 0)
                if readable:
                    continue  # a request (or the peer's close) is arriving: let it be read
                # The plain socket's shutdown: its greenlet's recv then simply sees the end
                # of the stream (gevent's own shutdown would raise in that greenlet).
                getattr(conn, "_sock", conn).shutdown(socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass
