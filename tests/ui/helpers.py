# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Users, rules, content and a logged-in Flask test client for the web interface tests."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.oci import Manifest

USERS = {
    "reader": "reader-" + secrets.token_hex(8),   # pull on team/**
    "pusher": "pusher-" + secrets.token_hex(8),   # pull and push on team/**
    "admin": "admin-" + secrets.token_hex(8),     # everything everywhere
}
RULES = [
    {"subjects": ["reader"], "repositories": ["team/**"], "actions": ["pull"]},
    {"subjects": ["pusher"], "repositories": ["team/**"], "actions": ["pull", "push"]},
    {"subjects": ["admin"], "repositories": ["**"], "actions": ["*"]},
]
ANONYMOUS_PULL = ["public/**"]

#: Hostile strings: markup, quotes and a name at the length limits.
HOSTILE = '<script>alert("x")</script>\'"&<img src=x onerror=alert(1)>'
LONG_COMPONENT = "a" * 120
LONG_TAG = "t" + "x" * 127  # the longest tag the grammar accepts (128 characters)

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def basic(user: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def push(client: FlaskClient, repository: str, manifest: Manifest, tag: str | None = None,
         headers: Mapping[str, str] | None = None) -> str:
    """Push ``manifest`` (its blobs and children first) through the API; its digest."""
    headers = dict(headers or {})
    for child in manifest.children:
        push(client, repository, child, None, headers)
    for blob in manifest.blobs:
        resp = client.post(f"/v2/{repository}/blobs/uploads/?digest={blob.digest}",
                           data=blob.data, headers={**headers,
                                                    "Content-Type": "application/octet-stream"})
        assert resp.status_code == 201, resp.get_data(as_text=True)
    resp = client.put(f"/v2/{repository}/manifests/{tag or manifest.digest}",
                      data=manifest.data, headers={**headers, "Content-Type": manifest.media_type})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return manifest.digest


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: FlaskClient, user: str, password: str | None = None) -> Any:
    page = client.get("/ui/login")
    token = csrf_of(page.get_data(as_text=True))
    return client.post("/ui/login", data={"csrf_token": token, "username": user,
                                          "password": USERS[user] if password is None
                                          else password, "next": "/ui/"})


def client_for(app: Flask, user: str | None) -> FlaskClient:
    client = app.test_client()
    if user is not None:
        resp = log_in(client, user)
        assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def text(resp: Any) -> str:
    return str(resp.get_data(as_text=True))
