# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Apps for the web interface tests: the real ``create_app`` on a migrated PostgreSQL
database and a filesystem storage, with or without ``[auth]`` and ``[[retention]]``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hareg.api.app import create_app
from hareg.config import load_config
from tests.auth.helpers import auth_toml, write_htpasswd
from tests.fixtures.postgres import PostgresAdmin
from tests.fixtures.server import to_toml
from tests.ui.helpers import ANONYMOUS_PULL, RULES, USERS

AppFactory = Callable[..., Flask]


def retention_toml(rules: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join("[[retention]]\n" + to_toml({"x": dict(rule)}).split("\n", 1)[1]
                     for rule in rules)


def _make_factory(pg: PostgresAdmin, root: Path) -> tuple[AppFactory, list[Flask]]:
    apps: list[Flask] = []

    def make(auth: bool = True, retention: Sequence[Mapping[str, Any]] = (),
             registry: Mapping[str, Any] | None = None,
             ui: Mapping[str, Any] | None = None, server: Mapping[str, Any] | None = None,
             **auth_keys: Any) -> Flask:
        here = root / f"app-{len(apps)}"
        here.mkdir(parents=True)
        sections: dict[str, dict[str, Any]] = {
            "server": {"data_dir": str(here / "data"), **(server or {})},
            "database": {"url": pg.migrated_database("hareg_ui")},
            "storage": {"driver": "filesystem", "root": str(here / "storage")},
            "registry": dict(registry or {}),
            "ui": {"secret": "s" * 40, **(ui or {})},
        }
        text = to_toml(sections)
        if auth:
            htpasswd = write_htpasswd(here / "htpasswd", USERS)
            text += "\n" + auth_toml({"mode": "basic", "htpasswd": str(htpasswd),
                                      "anonymous_pull": ANONYMOUS_PULL, "rules": RULES,
                                      "max_failed_logins": 1000,
                                      "max_failed_logins_per_address": 1000,
                                      "max_failed_logins_per_user": 1000, **auth_keys})
        text += "\n" + retention_toml(retention)
        path = here / "hareg.toml"
        path.write_text(text)
        app = create_app(load_config(path, env={}))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    return make, apps


@pytest.fixture
def make_app(pg: PostgresAdmin, tmp_path: Path) -> Iterator[AppFactory]:
    make, apps = _make_factory(pg, tmp_path)
    yield make
    for app in apps:
        app.extensions["hareg"].db.close()


@pytest.fixture(scope="module")
def module_app_factory(pg: PostgresAdmin, tmp_path_factory: pytest.TempPathFactory
                       ) -> Iterator[AppFactory]:
    make, apps = _make_factory(pg, tmp_path_factory.mktemp("ui"))
    yield make
    for app in apps:
        app.extensions["hareg"].db.close()
