# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Authorization is decided before the database or the storage is touched, on every route:
with both replaced by objects that fail the test when used, every repository route still
answers 401 to anonymous callers and 403 to callers without the action."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hareg.api.app import create_app
from hareg.config import RegistryConfig, load_config
from hareg.registry.namespace_cache import StaticNamespaces
from tests.auth.helpers import GROUPS, RULES, USERS, write_htpasswd

TOUCHED: list[str] = []


class Untouchable:
    """Fails on any use, except the pool gauges the metrics middleware reads (no query)."""

    in_use = size = waits = 0

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        TOUCHED.append(f"{self._name}.{attr}")
        raise AssertionError(f"{self._name}.{attr} used before authorization")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    tmp: Path = tmp_path_factory.mktemp("before-db")
    htpasswd = write_htpasswd(tmp / "htpasswd", {"bob": USERS["bob"]})
    config = load_config(env={}, overrides={
        "database": {"url": "postgresql://unused/unused"},
        "auth": {"mode": "basic", "htpasswd": str(htpasswd), "rules": RULES, "groups": GROUPS},
    })
    registry = types.SimpleNamespace(db=Untouchable("db"), storage=Untouchable("storage"),
                                     settings=RegistryConfig(), retention=(),
                                     namespaces=StaticNamespaces())
    return create_app(config, registry=registry)  # type: ignore[arg-type]


def _url(rule: str, repository: str) -> str:
    values = {"name": repository, "digest": "sha256:" + "a" * 64, "reference": "v1",
              "upload_id": "0b5e3c1e-0000-4000-8000-000000000000"}
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)


def _repository_routes(app: Flask) -> list[tuple[str, str]]:
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules()
                  if "<path:name>" in rule.rule
                  for method in rule.methods or () if method != "OPTIONS")


def test_denied_callers_never_reach_the_database(app: Flask) -> None:
    client = app.test_client()
    routes = _repository_routes(app)
    assert len(routes) >= 15
    TOUCHED.clear()
    for rule, method in routes:
        url = _url(rule, "secret/app")
        anonymous = client.open(url, method=method)
        assert anonymous.status_code == 401, (method, url, anonymous.data)
        bob = client.open(url, method=method, auth=("bob", USERS["bob"]))
        assert bob.status_code == 403, (method, url, bob.data)
        wrong = client.open(url, method=method, auth=("bob", "wrong"))
        assert wrong.status_code == 401, (method, url, wrong.data)
    assert TOUCHED == []
    # and an allowed caller does get through to the (untouchable) database
    allowed = client.get(_url("/v2/<path:name>/tags/list", "team/app"),
                         auth=("bob", USERS["bob"]))
    assert allowed.status_code == 500 and TOUCHED
