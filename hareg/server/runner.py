# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Run the app under gunicorn with gevent workers, as ``hareg serve`` does.

The master process binds the sockets (``[server] bind`` and, if set, ``[metrics] bind``),
prepares the directory where every worker writes its Prometheus samples, and forks the
workers; each worker builds its own app (its own database pool and storage client).
Graceful shutdown is the worker's business: see hareg/server/worker.py.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from ..config import Config
from .logs import gunicorn_logconfig

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # as hareg.server.metrics (not imported: see below)


def prepare_multiprocess_dir() -> tuple[str, bool]:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty directory; return it and whether it is ours.

    Must run before any worker imports prometheus_client. A directory set by the operator is
    kept but emptied of old sample files (they would count a previous run); otherwise a fresh
    one is made in ``$RUNTIME_DIRECTORY`` (systemd's RuntimeDirectory=), ``/dev/shm`` or the
    temporary directory, and removed when the master exits.
    """
    preset = os.environ.get(MULTIPROC_ENV)
    if preset:
        os.makedirs(preset, exist_ok=True)
        for old in glob.glob(os.path.join(preset, "*.db")):
            os.remove(old)
        return preset, False
    parent = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or (
        "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir())
    _remove_stale(parent)
    path = tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getpid()}-", dir=parent)
    os.environ[MULTIPROC_ENV] = path
    return path, True


_DIR_PREFIX = "hareg-metrics-"


def _remove_stale(parent: str) -> None:
    """Remove directories left by masters that were killed (their pid is in the name)."""
    for path in glob.glob(os.path.join(parent, f"{_DIR_PREFIX}*-*")):
        pid = os.path.basename(path)[len(_DIR_PREFIX):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook (master): drop a dead worker's live gauges (in-flight, pool in use)."""
    from prometheus_client import multiprocess

    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(worker.pid)


def gunicorn_binds(config: Config, bind: str) -> list[str]:
    """The master's addresses: ``bind`` and, if set, ``[metrics] bind``."""
    return [bind] + ([config.metrics.bind] if config.metrics.bind else [])


def gunicorn_settings(config: Config, bind: str, workers: int) -> dict[str, Any]:
    """The production settings (conf/gunicorn.conf.py documents the same for direct use)."""
    return {
        "bind": gunicorn_binds(config, bind),
        "workers": workers or len(os.sched_getaffinity(0)),
        "worker_class": "hareg.server.worker.HaregWorker",
        "worker_connections": 1000,
        "graceful_timeout": config.server.graceful_timeout,
        "timeout": 120,           # heartbeat of a worker, not a request limit under gevent
        "keepalive": 75,          # longer than nginx's upstream keepalive_timeout
        "limit_request_line": 8190,
        "limit_request_field_size": 16384,  # long bearer tokens in Authorization
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        # Whom gunicorn believes X-Forwarded-Proto from: exactly [server] trusted_proxies
        # (empty = nobody). hareg.server.proxy.TrustedProxies applies the same list to
        # X-Forwarded-Proto/Host/For in the app, so both layers agree.
        "forwarded_allow_ips": ",".join(config.server.trusted_proxies),
        "secure_scheme_headers": {"X-FORWARDED-PROTO": "https"},
        "child_exit": child_exit,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": config.log.level,
        "logconfig_dict": gunicorn_logconfig(config.log),  # hareg's format, on stderr
        "proc_name": "hareg",
        # One machine may run several instances; a shared default control socket would clash.
        "control_socket_disable": True,
    }


class HaregServer(BaseApplication):
    """Each worker builds its own app after fork: its own pool, its own storage client."""

    def __init__(self, config: Config, bind: str, workers: int) -> None:
        self.hareg_config = config
        self.settings = gunicorn_settings(config, bind, workers)
        self.metrics_dir, self._own_metrics_dir = prepare_multiprocess_dir()
        self._master_pid = os.getpid()
        self._listeners: list[Any] = []
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from ..api.app import create_app
        from ..db.green import patch_if_gevent
        from .logs import setup_logging

        patch_if_gevent()
        from ..registry.hashing import ResumableHash

        ResumableHash("sha256")  # load libcrypto now, not in the first upload's request
        setup_logging(self.hareg_config.log)
        return create_app(self.hareg_config)

    def listen(self) -> None:
        """Bind now (hareg.server.listeners); raises CannotListen for an address in use."""
        from .listeners import open_listeners

        try:
            self._listeners = open_listeners(self.cfg, self.hareg_config.metrics.bind)
        except Exception:
            if self._own_metrics_dir:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
            raise

    def run(self) -> None:
        try:
            if self._listeners:
                from gunicorn.arbiter import Arbiter

                arbiter = Arbiter(self)
                arbiter.LISTENERS = self._listeners
                arbiter.run()
            else:
                super().run()
        finally:
            # Workers leave through here too (SystemExit unwinds the forked arbiter).
            if self._own_metrics_dir and os.getpid() == self._master_pid:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
