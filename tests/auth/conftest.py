# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Servers for the auth tests: real ``hareg serve`` processes with an ``[auth]`` section.

The shared server factory writes ``[server]``, ``[database]``, ``[storage]``, ``[registry]`` and
``[log]``; the auth servers are created unstarted, get their ``[auth]`` section (with its
``[auth.groups]`` table and ``[[auth.rules]]``) appended to the config file, then start.
Servers are session-scoped and shared by the auth test modules (tests use unique names).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.auth.helpers import (
    ANONYMOUS_PULL,
    GROUPS,
    ISSUER,
    RULES,
    SERVICE,
    USERS,
    Keys,
    auth_toml,
    write_htpasswd,
)
from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.oci import new_session

# The shared servers see many deliberate wrong passwords from 127.0.0.1 in one session; the
# failed-login limits are tested on servers of their own (test_throttle_http.py).
LENIENT_THROTTLING = {"max_failed_logins": 1000, "max_failed_logins_per_address": 1000,
                      "max_failed_logins_per_user": 1000}


def start_with_auth(factory: ServerFactory, name: str, auth: Mapping[str, Any],
                    server: Mapping[str, Any] | None = None) -> HaregServer:
    """A filesystem-backed server whose config has ``auth`` (and ``server`` keys) added;
    the failed-login limits are :data:`LENIENT_THROTTLING` unless ``auth`` sets them."""
    srv = factory.create("filesystem", name=name, start=False, workers=1)
    srv.config["server"].update(server or {})
    srv.config["log"]["level"] = "debug"  # the secrets checks read everything it logs
    srv.config_path.write_text(to_toml(srv.config) + "\n"
                               + auth_toml({**LENIENT_THROTTLING, **auth}))
    srv.start()
    return srv


@pytest.fixture(scope="session")
def auth_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys.create(tmp_path_factory.mktemp("auth-keys"))


@pytest.fixture(scope="session")
def htpasswd_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_htpasswd(tmp_path_factory.mktemp("auth-users") / "htpasswd", USERS)


@pytest.fixture(scope="session")
def auth_factory(request: pytest.FixtureRequest, _server_root: Path,
                 pg: Any) -> Iterator[ServerFactory]:
    factory = ServerFactory(request, _server_root, pg)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def basic_server(auth_factory: ServerFactory, htpasswd_path: Path) -> HaregServer:
    """mode basic with the rules, groups and anonymous pull of tests.auth.helpers."""
    return start_with_auth(auth_factory, "auth-basic", {
        "mode": "basic", "htpasswd": str(htpasswd_path), "anonymous_pull": ANONYMOUS_PULL,
        "groups": GROUPS, "rules": RULES,
    })


@pytest.fixture(scope="session")
def open_server(auth_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory
                ) -> HaregServer:
    """mode basic and nothing else: no rules, no anonymous access (its own htpasswd)."""
    path = write_htpasswd(tmp_path_factory.mktemp("auth-open") / "htpasswd", USERS)
    return start_with_auth(auth_factory, "auth-open", {"mode": "basic", "htpasswd": str(path)})


@pytest.fixture(scope="session")
def token_server(auth_factory: ServerFactory, htpasswd_path: Path, auth_keys: Keys
                 ) -> HaregServer:
    """mode token: hareg issues tokens and also accepts two external issuers' keys.

    127.0.0.1 is a trusted proxy, so the tests may act as nginx (X-Forwarded-*).
    """
    return start_with_auth(auth_factory, "auth-token", {
        "mode": "token", "htpasswd": str(htpasswd_path), "service": SERVICE, "issuer": ISSUER,
        "signing_key": str(auth_keys.signing_path), "public_keys": auth_keys.public_key_paths,
        "token_lifetime": 120, "anonymous_pull": ANONYMOUS_PULL, "groups": GROUPS,
        "rules": RULES,
    }, server={"trusted_proxies": ["127.0.0.1"]})


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with new_session() as session:
        yield session
