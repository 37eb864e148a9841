# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The admin API for namespace definitions, on a real database and storage: its answers and
errors, and the ``admin`` permission with auth off, in basic mode and in token mode."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hareg.api.app import create_app
from hareg.config import ConfigError
from tests.auth.helpers import Keys, write_htpasswd
from tests.namespaces.conftest import app_config

URL = "/api/v1/namespaces"
USERS = {"root": "root-pass-1", "bob": "bob-pass-1"}
RULES = [{"subjects": ["root"], "repositories": ["**"], "actions": ["admin"]},
         {"subjects": ["bob", "root"], "repositories": ["**"], "actions": ["*"]}]
HUB = {"kind": "remote", "url": "http://127.0.0.1:5000", "username": "u",
       "password": "pw-secret", "tag_ttl": "1m"}


def _app(pg: Any, tmp_path: Path, **auth: Any) -> Flask:
    sections = {"auth": auth} if auth else {}
    return create_app(app_config(pg.migrated_database("hareg_ns_api"), tmp_path / "storage",
                                 **sections))


@pytest.fixture
def client(pg: Any, tmp_path: Path) -> Iterator[FlaskClient]:
    app = _app(pg, tmp_path)
    yield app.test_client()
    app.extensions["hareg"].db.close()


def _basic(user: str) -> dict[str, str]:
    raw = f"{user}:{USERS[user]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _error(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    assert {"code", "message"} <= set(error)
    return error


def test_put_get_list_delete(client: FlaskClient) -> None:
    created = client.put(f"{URL}/hub", json=HUB)
    assert created.status_code == 201, created.data
    shown = created.get_json()
    assert shown["password_set"] is True and "password" not in shown
    assert shown["tag_ttl"] == 60.0 and shown["timeout"] == 20.0
    assert b"pw-secret" not in created.data
    # a GET's answer, edited, is a valid body; the password is kept
    again = client.put(f"{URL}/hub", json={**shown, "tag_ttl": 30})
    assert again.status_code == 200 and again.get_json()["password_set"] is True
    virtual = client.put(f"{URL}/docker", json={"kind": "virtual", "members": ["hub"]})
    assert virtual.status_code == 201, virtual.data
    listed = client.get(URL)
    assert [d["name"] for d in listed.get_json()["namespaces"]] == ["docker", "hub"]
    assert b"pw-secret" not in listed.data
    assert client.get(f"{URL}/docker").get_json()["members"] == ["hub"]
    refused = client.delete(f"{URL}/hub")
    assert refused.status_code == 400
    assert "member of virtual namespace 'docker'" in _error(refused)["message"]
    assert client.delete(f"{URL}/docker").status_code == 204
    assert client.delete(f"{URL}/hub").status_code == 204
    missing = client.get(f"{URL}/hub")
    assert missing.status_code == 404 and _error(missing)["code"] == "NAME_UNKNOWN"


@pytest.mark.parametrize(("body", "message"), [
    ({"kind": "remote", "url": "http://127.0.0.1:1", "colour": "red"}, "colour: Unknown field"),
    ({"kind": "remote"}, "url: Missing data"),
    ({"kind": "mirror", "url": "https://example.com"}, "kind must be"),
    ({"kind": "remote", "url": "https://example.com", "tag_ttl": "soon"}, "invalid duration"),
    ({"kind": "virtual", "members": ["nowhere"]}, "unknown member 'nowhere'"),
    ({"kind": "virtual", "members": ["a"], "deploy": "b"}, "is not one of its members"),
    ({"kind": "remote", "url": "https://u:p@example.com"}, "takes no credentials"),
    ({"kind": "remote", "url": "https://example.com", "name": "other"}, "the body names"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_bodies_get_the_spec_error_and_change_nothing(client: FlaskClient, body: Any,
                                                          message: str) -> None:
    response = client.put(f"{URL}/ns", json=body)
    assert response.status_code == 400, response.data
    assert message in _error(response)["message"]
    assert client.get(URL).get_json() == {"namespaces": []}


def test_a_body_that_is_not_json(client: FlaskClient) -> None:
    response = client.put(f"{URL}/ns", data=b"{nope", content_type="application/json")
    assert response.status_code == 400 and "not a JSON object" in _error(response)["message"]


def test_basic_mode_needs_the_admin_permission(pg: Any, tmp_path: Path) -> None:
    htpasswd = write_htpasswd(tmp_path / "htpasswd", USERS)
    app = _app(pg, tmp_path, mode="basic", htpasswd=str(htpasswd), rules=RULES)
    client = app.test_client()
    try:
        anonymous = client.get(URL)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        assert client.put(f"{URL}/hub", json=HUB).status_code == 401
        for method in ("get", "put", "delete"):
            response = getattr(client, method)(f"{URL}/hub", json=HUB, headers=_basic("bob"))
            assert response.status_code == 403, (method, response.data)
            assert _error(response)["code"] == "DENIED"
        assert client.put(f"{URL}/hub", json=HUB, headers=_basic("root")).status_code == 201
        assert client.get(URL, headers=_basic("root")).status_code == 200
        assert client.delete(f"{URL}/hub", headers=_basic("root")).status_code == 204
    finally:
        app.extensions["hareg"].db.close()


def test_token_mode_needs_a_registry_admin_token(pg: Any, tmp_path: Path) -> None:
    keys = Keys.create(tmp_path / "keys")
    htpasswd = write_htpasswd(tmp_path / "htpasswd", USERS)
    app = _app(pg, tmp_path, mode="token", htpasswd=str(htpasswd), rules=RULES,
               signing_key=str(keys.signing_path))
    client = app.test_client()

    def token(user: str | None, scope: str) -> dict[str, str]:
        answer = client.get("/token", query_string={"service": "hareg", "scope": scope},
                            headers=_basic(user) if user else {})
        assert answer.status_code == 200, answer.data
        return {"Authorization": f"Bearer {answer.get_json()['token']}"}

    try:
        anonymous = client.get(URL)
        assert anonymous.status_code == 401
        challenge = anonymous.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and 'scope="registry:namespaces:admin"' in challenge
        scope = "registry:namespaces:admin"
        assert client.get(URL, headers=token(None, scope)).status_code == 401
        assert client.get(URL, headers=token("bob", scope)).status_code == 403
        unscoped = client.get(URL, headers=token("root", "repository:a/b:pull"))
        assert unscoped.status_code == 403
        assert 'error="insufficient_scope"' in unscoped.headers["WWW-Authenticate"]
        admin = token("root", scope)
        assert client.put(f"{URL}/hub", json=HUB, headers=admin).status_code == 201
        assert client.get(f"{URL}/hub", headers=admin).get_json()["url"] == HUB["url"]
        # a repository "*" grants no admin
        assert client.get(URL, headers=token("root", "repository:hub/x:*")).status_code == 403
    finally:
        app.extensions["hareg"].db.close()


def test_admin_is_granted_registry_wide_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="registry-wide"):
        app_config("postgresql://unused/unused", tmp_path, auth={
            "mode": "basic", "htpasswd": str(write_htpasswd(tmp_path / "h", USERS)),
            "rules": [{"subjects": ["root"], "repositories": ["team/**"],
                       "actions": ["admin"]}]})
