# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Every page of the web interface, for every kind of user, on one registry with auth on.

Content (pushed through the API as ``admin``): ``team/app`` (images, an index over two
platforms, a signature and an SBOM referring to ``1.0``), ``secret/vault`` (admin only),
``public/base`` (anonymous pull) and a repository with hostile names, media types and
annotations. ``[[retention]]`` keeps the two newest tags of ``team/**`` and protects
``latest``; tags ``1.*`` are immutable.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from markupsafe import escape

from hareg.gc.collect import collect_garbage
from tests.oci import (
    Manifest,
    artifact_manifest,
    config_blob,
    image_index,
    image_manifest,
    random_blob,
)
from tests.ui.conftest import AppFactory
from tests.ui.helpers import (
    HOSTILE,
    LONG_COMPONENT,
    LONG_TAG,
    basic,
    client_for,
    csrf_of,
    push,
    text,
)

SECRET = "secret/vault"
TEAM = "team/app"
PUBLIC = "public/base"
HOSTILE_REPO = f"team/{LONG_COMPONENT}"
COSIGN = "application/vnd.dev.cosign.artifact.sig.v1+json"
SPDX = "application/spdx+json"
USERS = (None, "reader", "pusher", "admin")


class Content:
    def __init__(self) -> None:
        self.images: dict[str, Manifest] = {}
        self.index: Manifest | None = None
        self.signature: Manifest | None = None
        self.sbom: Manifest | None = None
        self.hostile: Manifest | None = None
        self.secret: Manifest | None = None


@pytest.fixture(scope="module")
def content_app(module_app_factory: AppFactory) -> tuple[Flask, Content]:
    app = module_app_factory(
        retention=[{"repository": "team/**", "keep_last": 2, "protect": "latest",
                    "immutable_tags": r"1\..*"}],
    )
    api = app.test_client()
    admin = basic("admin")
    content = Content()
    for tag in ("1.0", "1.1", "latest", "old"):
        content.images[tag] = image_manifest()
        push(api, TEAM, content.images[tag], tag, admin)
    amd = image_manifest(config_blob(architecture="amd64"), [random_blob(2048)])
    arm = image_manifest(config_blob(architecture="arm64"), [random_blob(4096)])
    index = image_index([amd, arm])
    doc = index.json
    doc["manifests"][1]["platform"] = {"architecture": "arm64", "os": "linux", "variant": "v8"}
    content.index = Manifest(json.dumps(doc).encode(), index.media_type, children=(amd, arm))
    push(api, TEAM, content.index, "multi", admin)
    content.signature = artifact_manifest(content.images["1.0"], artifact_type=COSIGN,
                                          annotations={"dev.sigstore.cosign/signer": "ci"})
    push(api, TEAM, content.signature, None, admin)
    content.sbom = artifact_manifest(content.images["1.0"], artifact_type=SPDX,
                                     annotations={"note": HOSTILE})
    push(api, TEAM, content.sbom, None, admin)
    content.secret = image_manifest()
    push(api, SECRET, content.secret, "v1", admin)
    push(api, PUBLIC, image_manifest(), "stable", admin)
    hostile_layer = random_blob(100, HOSTILE[:200])
    content.hostile = image_manifest(layers=[hostile_layer], artifact_type=HOSTILE,
                                     annotations={HOSTILE: HOSTILE, "long": "y" * 3000})
    push(api, HOSTILE_REPO, content.hostile, LONG_TAG, admin)
    push(api, SECRET, artifact_manifest(content.secret, artifact_type=COSIGN), None, admin)
    return app, content


def _get(app: Flask, user: str | None, url: str) -> Any:
    return client_for(app, user).get(url)


# --- every page renders, with the security headers ---


def _pages(content: Content) -> list[str]:
    one = content.images["1.0"].digest
    return ["/ui/", "/ui/?q=app", f"/ui/r/{TEAM}", f"/ui/r/{TEAM}/-/manifests/{one}",
            f"/ui/r/{TEAM}/-/manifests/{content.index.digest}",  # type: ignore[union-attr]
            "/ui/gc", f"/ui/gc?repository={TEAM}", "/ui/promotions", "/ui/status",
            "/ui/promote", f"/ui/r/{TEAM}/-/tags/old/delete"]


def test_every_page_renders_for_admin(content_app: tuple[Flask, Content]) -> None:
    app, content = content_app
    client = client_for(app, "admin")
    for url in _pages(content):
        resp = client.get(url)
        assert resp.status_code == 200, (url, text(resp)[:500])
        assert resp.mimetype == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
        body = text(resp)
        assert "<script>" not in body  # only <script src=...>, never inline
        assert " style=" not in body and "<style" not in body
        assert re.findall(r"<script[^>]*>", body) == [
            '<script src="/ui/static/hareg.js" defer>']


def test_static_files_are_served(content_app: tuple[Flask, Content]) -> None:
    app, _ = content_app
    client = app.test_client()
    for name, kind in (("hareg.css", "text/css"), ("hareg.js", "text/javascript")):
        resp = client.get(f"/ui/static/{name}")
        assert resp.status_code == 200 and resp.mimetype == kind
        resp.close()


def test_repository_list_columns(content_app: tuple[Flask, Content]) -> None:
    app, _ = content_app
    body = text(_get(app, "admin", "/ui/"))
    row = body[body.index(f">{TEAM}</a>"):]
    row = row[:row.index("</tr>")]
    assert ">local<" in row
    assert '<td data-label="Tags" class="num">5</td>' in row  # 1.0 1.1 latest old multi
    assert "KiB" in row and "<time datetime=" in row


def test_repository_page_shows_tags_and_retention(content_app: tuple[Flask, Content]) -> None:
    app, content = content_app
    body = text(_get(app, "reader", f"/ui/r/{TEAM}"))
    assert "docker pull localhost/team/app:1.0" in body
    assert "linux/amd64, linux/arm64/v8" in body  # the index's platforms
    assert body.count(">immutable<") == 2  # 1.0 and 1.1
    assert "protected (protect = latest)" in body
    assert "among the 2 newest (keep_last)" in body
    assert "removed by the next sweep" in body and "beyond keep_last=2" in body
    assert content.images["1.0"].digest[:19] in body
    assert "Delete</a>" not in body and "Promote</a>" not in body  # a reader may neither


def test_manifest_page_shows_layers_referrers_and_children(
        content_app: tuple[Flask, Content]) -> None:
    app, content = content_app
    one = content.images["1.0"]
    body = text(_get(app, "reader", f"/ui/r/{TEAM}/-/manifests/{one.digest}"))
    assert one.digest in body
    for blob in one.blobs:
        assert blob.digest[:19] in body
    assert "<h3>Signatures</h3>" in body and "<h3>SBOMs</h3>" in body
    assert COSIGN in body and SPDX in body
    for ref in (content.signature, content.sbom):
        assert f"/ui/r/{TEAM}/-/manifests/{ref.digest}" in body  # type: ignore[union-attr]
    assert f"docker pull localhost/{TEAM}@{one.digest}" in body
    index = content.index
    assert index is not None
    body = text(_get(app, "reader", f"/ui/r/{TEAM}/-/manifests/{index.digest}"))
    assert "<h2>Platforms</h2>" in body and "linux/arm64/v8" in body
    for child in index.children:
        assert f"/ui/r/{TEAM}/-/manifests/{child.digest}" in body


def test_referrer_links_to_its_subject(content_app: tuple[Flask, Content]) -> None:
    app, content = content_app
    sig = content.signature
    assert sig is not None
    body = text(_get(app, "reader", f"/ui/r/{TEAM}/-/manifests/{sig.digest}"))
    assert f"/ui/r/{TEAM}/-/manifests/{content.images['1.0'].digest}" in body
    assert "dev.sigstore.cosign/signer" in body


def test_search_and_unknown_pages(content_app: tuple[Flask, Content]) -> None:
    app, _ = content_app
    client = client_for(app, "admin")
    body = text(client.get("/ui/?q=vaul"))
    assert f">{SECRET}</a>" in body and f">{TEAM}</a>" not in body
    assert "No repository you may see" in text(client.get("/ui/?q=nothing-like-this"))
    assert client.get("/ui/r/team/nope").status_code == 404
    assert client.get(f"/ui/r/{TEAM}/-/manifests/sha256:{'0' * 64}").status_code == 404
    assert client.get(f"/ui/r/{TEAM}/-/manifests/not-a-digest").status_code == 404
    assert client.get("/ui/r/Not..A..Name").status_code == 404
    assert client.get("/ui/?after=" + "x" * 300).status_code == 400
    assert client.get("/ui/gc?before=abc").status_code == 400


# --- permissions: nobody sees a repository they may not pull ---


@pytest.mark.parametrize("user", USERS)
def test_repository_list_is_filtered(content_app: tuple[Flask, Content],
                                     user: str | None) -> None:
    app, _ = content_app
    body = text(_get(app, user, "/ui/"))
    listed = set(re.findall(r'<a href="/ui/r/([^"]+)">', body))
    expected = {None: {PUBLIC}, "reader": {PUBLIC, TEAM, HOSTILE_REPO},
                "pusher": {PUBLIC, TEAM, HOSTILE_REPO},
                "admin": {PUBLIC, TEAM, HOSTILE_REPO, SECRET}}[user]
    assert listed == expected


@pytest.mark.parametrize("user", (None, "reader", "pusher"))
def test_no_page_shows_a_hidden_repository(content_app: tuple[Flask, Content],
                                           user: str | None) -> None:
    """``secret/vault`` is named nowhere for those who may not pull it: not in any page,
    not by a direct URL (404, as for a repository that does not exist), not in a search,
    a GC preview or the promotions."""
    app, content = content_app
    client = client_for(app, user)
    secret_digest = content.secret.digest  # type: ignore[union-attr]
    for url in [*_pages(content), "/ui/?q=secret", "/ui/?q=vault",
                f"/ui/gc?repository={SECRET}", "/ui/promotions"]:
        resp = client.get(url, follow_redirects=True)
        body = text(resp)
        assert f"/ui/r/{SECRET}" not in body and secret_digest not in body, url
        if "vault" not in url:  # a search or a preview shows what was asked for, no more
            assert "vault" not in body, url
    hidden = client.get(f"/ui/r/{SECRET}")
    missing = client.get("/ui/r/secret/nothing-here")
    assert hidden.status_code == missing.status_code == 404
    assert text(hidden).replace(SECRET, "X") == text(missing).replace(
        "secret/nothing-here", "X")
    assert client.get(f"/ui/r/{SECRET}/-/manifests/{secret_digest}").status_code == 404
    delete = client.get(f"/ui/r/{SECRET}/-/tags/v1/delete").status_code
    assert delete == client.get("/ui/r/secret/nothing/-/tags/v1/delete").status_code
    assert delete == (302 if user is None else 404)  # anonymous: log in first, whatever it is


def test_anonymous_sees_public_only(content_app: tuple[Flask, Content]) -> None:
    app, _ = content_app
    client = app.test_client()
    assert client.get(f"/ui/r/{PUBLIC}").status_code == 200
    assert client.get(f"/ui/r/{TEAM}").status_code == 404
    assert "Log in</a> to see the repositories" in text(client.get("/ui/"))
    # pages that need a user send anonymous viewers to the login form
    resp = client.get("/ui/gc")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/ui/login?next=")
    assert client.get("/ui/promote").status_code == 302


def test_gc_preview_and_history(content_app: tuple[Flask, Content]) -> None:
    app, _ = content_app
    client = client_for(app, "reader")
    body = text(client.get(f"/ui/gc?repository={TEAM}"))
    assert "would remove <strong>" in body
    assert "beyond keep_last=2" in body
    assert "No sweep has run yet." in body or "dry run" in body
    reg = app.extensions["hareg"]
    config = app.config["HAREG_CONFIG"]
    collect_garbage(reg, config.gc, config.retention, dry_run=True, trigger="test")
    body = text(client.get("/ui/gc"))
    assert "dry run" in body and ">ok<" in body and "test" in body
    body = text(client.get(f"/ui/gc?repository={PUBLIC}"))
    assert "No <code>[[retention]]</code> rule applies" in body


def test_status_page(content_app: tuple[Flask, Content]) -> None:
    app, _ = content_app
    body = text(app.test_client().get("/ui/status"))
    assert body.count(">ready") == 2 and "hareg 0." in body and "Uptime" in body


# --- hostile content is escaped everywhere ---


def test_hostile_strings_are_escaped(content_app: tuple[Flask, Content]) -> None:
    app, content = content_app
    client = client_for(app, "admin")
    hostile = content.hostile
    assert hostile is not None
    urls = ["/ui/", f"/ui/r/{HOSTILE_REPO}", f"/ui/r/{HOSTILE_REPO}/-/manifests/{hostile.digest}",
            f"/ui/gc?repository={HOSTILE_REPO}", f"/ui/r/{HOSTILE_REPO}/-/tags/{LONG_TAG}/delete",
            "/ui/?q=" + HOSTILE[:100], f"/ui/gc?repository={HOSTILE[:50]}"]
    for url in urls:
        resp = client.get(url)
        assert resp.status_code in (200, 400), url
        body = text(resp)
        assert "<script>alert" not in body and "<img src=x" not in body, url
        assert 'alert("x")' not in body and "onerror=alert(1)>" not in body, url
    body = text(client.get(f"/ui/r/{HOSTILE_REPO}/-/manifests/{hostile.digest}"))
    assert str(escape(HOSTILE)) in body  # shown, as text
    assert LONG_TAG in text(client.get(f"/ui/r/{HOSTILE_REPO}"))


def test_hostile_promote_and_login_input_is_escaped(content_app: tuple[Flask, Content]) -> None:
    app, _ = content_app
    client = client_for(app, "admin")
    token = csrf_of(text(client.get("/ui/promote")))
    resp = client.post("/ui/promote", data={"csrf_token": token, "source": HOSTILE,
                                            "target": HOSTILE})
    assert resp.status_code == 400
    assert "<script>alert" not in text(resp)
    anonymous = app.test_client()
    token = csrf_of(text(anonymous.get("/ui/login")))
    resp = anonymous.post("/ui/login", data={"csrf_token": token, "username": HOSTILE,
                                             "password": "x", "next": HOSTILE})
    assert resp.status_code == 401 and "<script>alert" not in text(resp)
