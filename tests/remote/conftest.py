# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Upstreams for the remote-namespace tests, all on loopback.

- :class:`Distribution`: Debian's ``docker-registry`` (CNCF distribution) with htpasswd Basic
  auth and its access log on, so a test can count the requests hareg sent it.
- :func:`define_remote`: writes a remote definition into a hareg's database (the way the
  namespace CLI will) and waits until the server routes by it.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hareg.config import load_config
from hareg.registry import namespace_store
from hareg.registry.build import build_registry
from hareg.registry.namespace_schema import Put
from hareg.registry.namespaces import Remote
from tests.auth.helpers import write_htpasswd
from tests.fixtures.server import HaregServer, free_port, wait_until_answers
from tests.oci import new_session
from tests.tools import require

UPSTREAM_USER, UPSTREAM_PASSWORD = "mirror", "upstream-s3cret-pw"

DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
auth:
  htpasswd:
    realm: upstream
    path: {htpasswd}
http:
  addr: 127.0.0.1:{port}
"""


class Distribution:
    """A ``docker-registry serve`` on loopback with Basic auth; start, kill, count requests."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.root = work / "root"
        self.root.mkdir(parents=True)
        self.port = free_port()
        self.config = work / "config.yml"
        self.log_path = work / "distribution.log"
        htpasswd = write_htpasswd(work / "htpasswd", {UPSTREAM_USER: UPSTREAM_PASSWORD})
        self.config.write_text(DISTRIBUTION_CONFIG.format(root=self.root, port=self.port,
                                                          htpasswd=htpasswd))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["docker-registry", "serve", str(self.config)],
                                         env=env, stdout=log, stderr=subprocess.STDOUT)
        if not wait_until_answers(f"{self.url}/v2/", 30, lambda: self.proc is not None
                                  and self.proc.poll() is None):
            pytest.fail(self.log_path.read_text(), pytrace=False)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def session(self) -> requests.Session:
        session = new_session()
        session.auth = (UPSTREAM_USER, UPSTREAM_PASSWORD)
        return session

    def served(self, method: str, path: str) -> int:
        """How many ``method`` requests whose path matches ``path`` (a regular expression,
        from the start of the path) the access log shows, not counting 401 answers (the
        anonymous first try of a client that then sends its credentials)."""
        regex = re.compile(rf'"{method} ({path})[^ ]* HTTP/1\.1" (\d+) ')
        text = self.log_path.read_text(errors="replace")
        return sum(1 for m in map(regex.search, text.splitlines())
                   if m is not None and m.group(m.lastindex or 0) != "401")


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[Distribution]:
    require("docker-registry")
    upstream = Distribution(tmp_path / "distribution")
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.kill()


def define_remote(server: HaregServer, remote: Remote, timeout: float = 15.0) -> None:
    """Define ``remote`` as ``hareg namespace`` does (hareg.registry.namespace_store: the
    bucket, then the row), with ``server``'s config, then wait (bounded) until the server
    routes by it: a DELETE into the namespace answers 405 (local namespaces: 404)."""
    reg = build_registry(load_config(server.config_path, env={}))
    try:
        namespace_store.replace(reg, Put(remote))
    finally:
        reg.db.close()
    deadline = time.monotonic() + timeout
    with new_session() as http:
        while time.monotonic() < deadline:
            resp = http.delete(f"{server.url}/v2/{remote.name}/probe/manifests/latest",
                               timeout=10)
            if resp.status_code == 405:
                return
            time.sleep(0.2)
    raise AssertionError(f"{server.name} did not pick up remote {remote.name!r} in {timeout} s")


@pytest.fixture
def remote_for() -> Callable[..., Remote]:
    """``remote_for(upstream_url, **fields)``: a Remote named ``hub`` with the upstream's
    credentials."""
    def make(url: str, **fields: Any) -> Remote:
        values: dict[str, Any] = {"name": "hub", "url": url, "username": UPSTREAM_USER,
                                  "password": UPSTREAM_PASSWORD, "timeout": 5.0}
        values.update(fields)
        return Remote(**values)
    return make
