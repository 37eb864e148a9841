# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Logging in and out, deleting and promoting tags: permissions, confirmation, CSRF, the
session cookie, failed-login throttling, and the interface with auth off or read-only."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from hareg.auth.routes import unprotected_routes
from tests.auth.helpers import Keys
from tests.oci import image_manifest
from tests.ui.conftest import AppFactory
from tests.ui.helpers import USERS, basic, client_for, csrf_of, log_in, push, text

TEAM = "team/app"


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    app = make_app(server={"trusted_proxies": ["127.0.0.1"]})
    api = app.test_client()
    for tag in ("1.0", "2.0"):
        push(api, TEAM, image_manifest(), tag, basic("admin"))
    return app


def _tags(app: Flask) -> list[str]:
    resp = app.test_client().get(f"/v2/{TEAM}/tags/list", headers=basic("admin"))
    return list(resp.get_json()["tags"] or [])


# --- login, logout, the cookie ---


def test_login_sets_a_safe_cookie_and_logout_ends_it(app: Flask) -> None:
    client = app.test_client()
    resp = log_in(client, "reader")
    assert resp.status_code == 302 and resp.headers["Location"] == "/ui/"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("hareg_ui=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain HTTP
    assert "Logged in as <strong class=\"user\">reader</strong>" in text(client.get("/ui/"))
    token = csrf_of(text(client.get("/ui/")))
    assert client.post("/ui/logout", data={}).status_code == 400  # no token: refused
    assert client.post("/ui/logout", data={"csrf_token": token}).status_code == 302
    assert "Logged in as" not in text(client.get("/ui/"))


def test_cookie_is_secure_behind_an_https_proxy(app: Flask) -> None:
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https"}
    token = csrf_of(text(client.get("/ui/login", headers=https)))
    resp = client.post("/ui/login", headers=https, data={
        "csrf_token": token, "username": "reader", "password": USERS["reader"]})
    assert resp.status_code == 302
    assert "; Secure" in resp.headers["Set-Cookie"]


def test_wrong_password_and_unknown_user(app: Flask) -> None:
    client = app.test_client()
    for user, password in (("reader", "wrong"), ("nobody", "x"), ("", "")):
        token = csrf_of(text(client.get("/ui/login")))
        resp = client.post("/ui/login", data={"csrf_token": token, "username": user,
                                              "password": password})
        assert resp.status_code == 401
        assert "Invalid username or password." in text(resp)
    assert "Logged in as" not in text(client.get("/ui/"))


def test_login_without_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    resp = client.post("/ui/login", data={"username": "reader", "password": USERS["reader"]})
    assert resp.status_code == 400 and "security token" in text(resp)
    client.get("/ui/login")
    resp = client.post("/ui/login", data={"csrf_token": "forged", "username": "reader",
                                          "password": USERS["reader"]})
    assert resp.status_code == 400


def test_login_redirects_only_within_the_interface(app: Flask) -> None:
    for target, expected in (("/ui/gc", "/ui/gc"), ("https://evil.example/ui/", "/ui/"),
                             ("//evil.example/ui/", "/ui/"), ("/v2/_catalog", "/ui/"),
                             ("/\\evil.example", "/ui/")):
        client = app.test_client()
        token = csrf_of(text(client.get("/ui/login")))
        resp = client.post("/ui/login", data={"csrf_token": token, "username": "reader",
                                              "password": USERS["reader"], "next": target})
        assert resp.headers["Location"] == expected, target


def test_failed_logins_are_throttled(make_app: AppFactory) -> None:
    app = make_app(max_failed_logins=2)
    client = app.test_client()
    statuses = []
    for _ in range(3):
        token = csrf_of(text(client.get("/ui/login")))
        resp = client.post("/ui/login", data={"csrf_token": token, "username": "reader",
                                              "password": "wrong"})
        statuses.append(resp.status_code)
    assert statuses == [401, 401, 429]
    assert int(resp.headers["Retry-After"]) >= 1
    # the right password gets the same answer while the limit holds (no oracle)
    assert log_in(client, "reader").status_code == 429


def test_a_removed_user_is_logged_out(app: Flask) -> None:
    client = client_for(app, "reader")
    assert "Logged in as" in text(client.get("/ui/"))
    service = app.extensions["hareg_auth"]
    assert service.users is not None
    from hareg.auth.htpasswd import remove_user

    remove_user(service.users.path, "reader")
    service.users._current()  # reload now instead of waiting for the watcher
    assert "Logged in as" not in text(client.get("/ui/"))


# --- delete a tag ---


def test_delete_tag_needs_permission_confirmation_and_csrf(app: Flask) -> None:
    url = f"/ui/r/{TEAM}/-/tags/1.0/delete"
    for user in ("reader", "pusher"):  # may pull, may not delete
        client = client_for(app, user)
        assert client.get(url).status_code == 403
        token = csrf_of(text(client.get("/ui/")))
        assert client.post(url, data={"csrf_token": token}).status_code == 403
    admin = client_for(app, "admin")
    page = admin.get(url)
    assert page.status_code == 200 and "Delete a tag" in text(page)
    assert admin.post(url, data={}).status_code == 400  # no token
    assert admin.post(url, data={"csrf_token": "x" * 43}).status_code == 400
    assert _tags(app) == ["1.0", "2.0"]
    resp = admin.post(url, data={"csrf_token": csrf_of(text(page))})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/ui/r/{TEAM}"
    assert _tags(app) == ["2.0"]
    assert "Deleted tag 1.0 of team/app." in text(admin.get(f"/ui/r/{TEAM}"))
    assert admin.get(url).status_code == 404  # gone


def test_a_form_of_another_session_is_refused(app: Flask) -> None:
    """The CSRF token belongs to its session: a token from the attacker's own session does
    not work in the victim's."""
    attacker = client_for(app, "admin")
    token = csrf_of(text(attacker.get("/ui/")))
    victim = client_for(app, "admin")
    assert victim.post(f"/ui/r/{TEAM}/-/tags/1.0/delete",
                       data={"csrf_token": token}).status_code == 400
    assert _tags(app) == ["1.0", "2.0"]


def test_delete_is_refused_on_a_read_only_registry(make_app: AppFactory) -> None:
    app = make_app()
    push(app.test_client(), TEAM, image_manifest(), "1.0", basic("admin"))
    reg = app.extensions["hareg"]
    app.extensions["hareg"] = dataclasses.replace(
        reg, settings=dataclasses.replace(reg.settings, read_only=True))
    admin = client_for(app, "admin")
    url = f"/ui/r/{TEAM}/-/tags/1.0/delete"
    resp = admin.post(url, data={"csrf_token": csrf_of(text(admin.get(url)))})
    assert resp.status_code == 405 and "read-only" in text(resp)


# --- promote ---


def test_promote_needs_the_promote_permission(app: Flask) -> None:
    for user in ("reader", "pusher"):
        client = client_for(app, user)
        assert client.get("/ui/promote").status_code == 403
        token = csrf_of(text(client.get("/ui/")))
        resp = client.post("/ui/promote", data={"csrf_token": token, "source": f"{TEAM}:1.0",
                                                "target": "prod/app", "confirm": "yes"})
        assert resp.status_code == 403
    assert "Promote a tag" not in text(client_for(app, "reader").get("/ui/promotions"))


def test_promote_with_confirmation(app: Flask) -> None:
    admin = client_for(app, "admin")
    form = admin.get(f"/ui/promote?source={TEAM}:1.0")
    assert form.status_code == 200 and f'value="{TEAM}:1.0"' in text(form)
    token = csrf_of(text(form))
    review = admin.post("/ui/promote", data={"csrf_token": token, "source": f"{TEAM}:1.0",
                                             "target": "prod/app"})
    assert review.status_code == 200 and "Confirm the promotion" in text(review)
    assert "prod/app:1.0" in text(review)
    assert admin.get("/ui/r/prod/app").status_code == 404  # nothing happened yet
    assert admin.post("/ui/promote", data={"source": f"{TEAM}:1.0", "target": "prod/app",
                                           "confirm": "yes"}).status_code == 400
    done = admin.post("/ui/promote", data={"csrf_token": token, "source": f"{TEAM}:1.0",
                                           "target": "prod/app", "confirm": "yes"})
    assert done.status_code == 302 and done.headers["Location"] == "/ui/promotions"
    body = text(admin.get("/ui/promotions"))
    assert "Promoted team/app:1.0 to prod/app:1.0" in body
    assert ">prod/app</a>:1.0" in body and "admin" in body
    assert admin.get("/ui/r/prod/app").status_code == 200
    # a reader may pull team/** but not prod/**: the promotion is not listed for them
    assert "prod/app" not in text(client_for(app, "reader").get("/ui/promotions"))


def test_promote_errors_are_shown_in_the_form(app: Flask) -> None:
    admin = client_for(app, "admin")
    token = csrf_of(text(admin.get("/ui/promote")))
    for source, target, status, message in (
            (f"{TEAM}:nope", "prod/app", 404, "is not tagged"),
            ("team/app", "prod/app", 400, "a tag is required"),
            (f"{TEAM}:1.0", TEAM, 400, "different repositories")):
        resp = admin.post("/ui/promote", data={"csrf_token": token, "source": source,
                                               "target": target, "confirm": "yes"})
        assert resp.status_code == status, (source, text(resp))
        assert message in text(resp)


# --- auth off, token mode, the route table ---


def test_with_auth_off_everyone_may_everything(make_app: AppFactory) -> None:
    app = make_app(auth=False)
    push(app.test_client(), TEAM, image_manifest(), "1.0")
    client = app.test_client()
    body = text(client.get("/ui/"))
    assert f">{TEAM}</a>" in body and "Log in" not in body
    assert client.get("/ui/login").status_code == 302
    body = text(client.get(f"/ui/r/{TEAM}"))
    assert "Delete</a>" in body and "Promote</a>" in body
    url = f"/ui/r/{TEAM}/-/tags/1.0/delete"
    assert client.post(url, data={}).status_code == 400  # CSRF still applies
    resp = client.post(url, data={"csrf_token": csrf_of(text(client.get(url)))})
    assert resp.status_code == 302
    assert client.get("/ui/gc").status_code == 200


def test_token_mode_logs_in_against_the_same_users(make_app: AppFactory,
                                                   tmp_path_factory: pytest.TempPathFactory
                                                   ) -> None:
    keys = Keys.create(tmp_path_factory.mktemp("ui-keys"))
    app = make_app(mode="token", signing_key=str(keys.signing_path))
    client = app.test_client()
    assert log_in(client, "reader", "wrong").status_code == 401
    assert log_in(client, "reader").status_code == 302
    assert "Logged in as" in text(client.get("/ui/"))


def test_the_ui_is_off_when_disabled(make_app: AppFactory) -> None:
    app = make_app(ui={"enabled": False})
    assert app.test_client().get("/ui/").status_code == 404
    assert "hareg_ui" not in app.config.get("SESSION_COOKIE_NAME", "")


def test_every_route_has_an_authorization_rule(app: Flask) -> None:
    assert unprotected_routes(app) == []
    assert any(rule.endpoint.startswith("ui.") for rule in app.url_map.iter_rules())
