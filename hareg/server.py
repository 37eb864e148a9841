# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Run the app under gunicorn with gevent workers, as ``hareg serve`` does."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import Config


def gunicorn_settings(config: Config, bind: str, workers: int) -> dict[str, Any]:
    """The production settings (conf/gunicorn.conf.py documents the same for direct use)."""
    return {
        "bind": bind,
        "workers": workers or len(os.sched_getaffinity(0)),
        "worker_class": "gevent",
        "worker_connections": 1000,
        "graceful_timeout": config.server.graceful_timeout,
        "timeout": 120,           # heartbeat of a worker, not a request limit under gevent
        "keepalive": 75,          # longer than nginx's upstream keepalive_timeout
        "limit_request_line": 8190,
        "limit_request_field_size": 16384,  # long bearer tokens in Authorization
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "forwarded_allow_ips": ",".join(config.server.trusted_proxies) or "127.0.0.1",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": config.log.level,
        "proc_name": "hareg",
        # One machine may run several instances; a shared default control socket would clash.
        "control_socket_disable": True,
    }


class HaregServer(BaseApplication):
    """Each worker builds its own app after fork: its own pool, its own storage client."""

    def __init__(self, config: Config, bind: str, workers: int) -> None:
        self.hareg_config = config
        self.settings = gunicorn_settings(config, bind, workers)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from .app import create_app
        from .db.green import patch_if_gevent
        from .logs import setup_logging

        patch_if_gevent()
        setup_logging(self.hareg_config.log)
        return create_app(self.hareg_config)
