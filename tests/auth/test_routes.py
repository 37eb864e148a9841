# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The permission matrix: every route and method of the real app has an authorization case."""

from __future__ import annotations

import types

import pytest
from flask import Flask

from hareg.api.app import create_app
from hareg.auth.access import Need
from hareg.auth.routes import ROUTE_NEEDS, UI_ENDPOINT_PREFIX, required_need, unprotected_routes
from hareg.config import load_config
from tests.auth.helpers import Keys, write_htpasswd


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app as ``hareg serve`` builds it, in token mode (no database is touched)."""
    tmp = tmp_path_factory.mktemp("routes")
    keys = Keys.create(tmp / "keys")
    htpasswd = write_htpasswd(tmp / "htpasswd", {"u": "p"})
    config = load_config(env={}, overrides={
        "database": {"url": "postgresql://unused/unused"},
        "auth": {"mode": "token", "signing_key": str(keys.signing_path),
                 "htpasswd": str(htpasswd)},
    })
    return create_app(config, registry=types.SimpleNamespace(db=None))  # type: ignore[arg-type]


def test_every_route_and_method_has_an_authorization_case(app: Flask) -> None:
    missing = unprotected_routes(app)
    assert not missing, (
        "routes without an entry in hareg/auth/routes.py ROUTE_NEEDS (add one: pull, push,"
        " delete, promote, catalog, login, token or public):\n  " + "\n  ".join(missing))


def test_a_route_added_later_is_reported_and_refused(app: Flask) -> None:
    extra = Flask("extra")
    extra.url_map = app.url_map.__class__()
    extra.add_url_rule("/v2/<path:name>/exports", "exports.export", lambda name: "",
                       methods=["GET", "POST"])
    missing = unprotected_routes(extra)
    assert "GET /v2/<path:name>/exports (exports.export)" in missing
    assert "POST /v2/<path:name>/exports (exports.export)" in missing
    assert required_need("exports.export", "GET", "/v2/<path:name>/exports") is None


EXPECTED = {
    ("base.version_check", "GET"): Need.LOGIN,
    ("blobs.get_blob", "GET"): Need.PULL,
    ("blobs.get_blob", "HEAD"): Need.PULL,
    ("blobs.delete_blob", "DELETE"): Need.DELETE,
    ("uploads.start_upload", "POST"): Need.PUSH,
    ("uploads.patch_upload", "PATCH"): Need.PUSH,
    ("uploads.finish_upload", "PUT"): Need.PUSH,
    ("uploads.upload_status", "GET"): Need.PUSH,
    ("uploads.cancel_upload", "DELETE"): Need.PUSH,
    ("manifests.get_manifest", "GET"): Need.PULL,
    ("manifests.get_manifest", "HEAD"): Need.PULL,
    ("manifests.put_manifest", "PUT"): Need.PUSH,
    ("manifests.delete_manifest", "DELETE"): Need.DELETE,
    ("tags.list_tags", "GET"): Need.PULL,
    ("catalog.catalog", "GET"): Need.CATALOG,
    ("referrers.referrers", "GET"): Need.PULL,
    ("auth.token", "GET"): Need.TOKEN,
    ("auth.token", "POST"): Need.TOKEN,
}


@pytest.mark.parametrize(("endpoint", "method"), sorted(EXPECTED))
def test_the_matrix_gives_each_route_its_action(app: Flask, endpoint: str, method: str) -> None:
    rules = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    assert rules, f"{endpoint} is not a route of the app"
    assert method in (rules[0].methods or ())
    assert required_need(endpoint, method, rules[0].rule) == EXPECTED[(endpoint, method)]


def test_only_health_metrics_and_options_are_public(app: Flask) -> None:
    """Besides those, the web interface's routes pass the hook: they authorize themselves
    from their session (hareg.ui.access); the prefix rule lets through nothing outside
    /ui/."""
    public = {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods or ()
              if m != "OPTIONS" and required_need(r.endpoint, m, r.rule) == Need.PUBLIC
              and not r.endpoint.startswith(UI_ENDPOINT_PREFIX)}
    assert {path for path, _ in public} <= {"/healthz", "/readyz", "/metrics",
                                             "/static/<path:filename>"}
    ui = [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith(UI_ENDPOINT_PREFIX)]
    assert ui and all(path.startswith("/ui/") for path in ui)
    assert required_need(None, "GET", "/metrics") == Need.PUBLIC
    assert required_need(None, "POST", "/metrics") is None
    assert all(need != Need.PUBLIC or key[0] == "static" for key, need in ROUTE_NEEDS.items())


def test_the_table_names_no_repository_route_as_public(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        if "<path:name>" in rule.rule:
            for method in rule.methods or ():
                if method != "OPTIONS":
                    assert required_need(rule.endpoint, method, rule.rule) in (
                        Need.PULL, Need.PUSH, Need.DELETE), (rule.rule, method)
