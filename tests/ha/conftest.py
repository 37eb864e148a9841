# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Fixtures for the highly-available deployment tests: clusters with HA settings, nginx."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import (
    HaregServer,
    ServerFactory,
    child_env,
    free_port,
    to_toml,
    wait_until_answers,
)
from tests.ha.nginx import Nginx
from tests.oci import new_session


def configure(target: HaregServer, **sections: dict[str, Any]) -> None:
    """Override keys of a server's config (before it starts)."""
    for section, keys in sections.items():
        target.config.setdefault(section, {}).update(keys)
    target.config_path.write_text(to_toml(target.config))


def wait_ready(server: HaregServer, timeout: float = 30) -> None:
    """Until /readyz answers 200 (the database and storage are reachable)."""
    session = new_session()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if session.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{server.name} not ready:\n{server.log_tail()}")


def hareg_check(server: HaregServer) -> subprocess.CompletedProcess[str]:
    """``hareg check`` with a server's config, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hareg_cli", "check", "--no-progress",
         "--config", str(server.config_path)],
        capture_output=True, text=True, env=child_env(), timeout=120, cwd=server.work_dir)


@pytest.fixture
def ha_cluster(server_factory: ServerFactory, pg: Any) -> Callable[..., list[HaregServer]]:
    """``ha_cluster(n=3, driver="s3", workers=1, **server_keys)``: ``n`` instances on ONE
    database and ONE storage, trusting 127.0.0.1 as their proxy, each with its own metrics
    port (``server.metrics_url``).

    Composes tests.fixtures.server.ServerFactory (which also stops them and attaches their
    logs to failures) because these tests need [server] and [metrics] keys set."""

    def make(n: int = 3, driver: str = "s3", workers: int = 1,
             **server_keys: Any) -> list[HaregServer]:
        database_url = pg.fresh_database("hareg_ha")
        storage = server_factory.storage(driver)
        prefix = f"ha-{uuid.uuid4().hex[:6]}"
        servers = []
        for i in range(n):
            server = server_factory.create(driver, name=f"{prefix}-{i}", database_url=database_url,
                                           storage=storage, start=False, workers=workers)
            metrics_port = free_port()
            configure(server,
                      server={"trusted_proxies": ["127.0.0.1"], "graceful_timeout": 20,
                              **server_keys},
                      metrics={"bind": f"127.0.0.1:{metrics_port}"})
            server.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"  # type: ignore[attr-defined]
            servers.append(server)
        for server in servers:
            server.start(wait=False)
        for server in servers:
            server.wait_ready()
            wait_ready(server)
        return servers

    return make


@pytest.fixture
def nginx_front(tmp_path: Path) -> Iterator[Callable[[list[HaregServer]], Nginx]]:
    """``nginx_front(servers)``: conf/nginx.conf in front of ``servers``, started."""
    started: list[Nginx] = []

    def make(servers: list[HaregServer]) -> Nginx:
        nginx = Nginx(tmp_path / f"nginx-{len(started)}", [s.host for s in servers])
        started.append(nginx)
        nginx.start()
        assert wait_until_answers(f"{nginx.url}/v2/", 10)
        return nginx

    yield make
    for nginx in started:
        nginx.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach nginx's error log to a failing test's report."""
    report = yield
    if report.failed and "nginx_front" in getattr(item, "fixturenames", ()):
        tmp = item.funcargs.get("tmp_path") if hasattr(item, "funcargs") else None
        if tmp is not None:
            for log in sorted(Path(tmp).glob("nginx-*/error.log")):
                report.sections.append((f"nginx {log.parent.name}", log.read_text()[-8000:]))
    return report
