# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Manifests and blobs through a virtual name: members in resolution order."""

from __future__ import annotations

from typing import Any

from hareg.registry.namespaces import Remote, Virtual
from hareg.registry.promotion import promote
from tests.oci import image_manifest, random_blob
from tests.virtual.conftest import App

DOCKER = Virtual("docker", ("release", "dev"), deploy="dev")


def _error_code(resp: Any) -> str:
    return str(resp.json["errors"][0]["code"])


def test_tag_resolves_in_member_order(app: App) -> None:
    """A tag both members have is answered by the first; one only the second has, by it."""
    in_release, in_dev, only_dev = image_manifest(), image_manifest(), image_manifest()
    app.push_image("release/team/app", "v1", in_release)
    app.push_image("dev/team/app", "v1", in_dev)
    app.push_image("dev/team/app", "v2", only_dev)
    app.define(DOCKER)

    for method in ("GET", "HEAD"):
        resp = app.client.open("/v2/docker/team/app/manifests/v1", method=method)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Docker-Content-Digest"] == in_release.digest
        assert resp.headers["Content-Type"] == in_release.media_type
        assert resp.headers["Content-Length"] == str(in_release.size)
        assert resp.data == (in_release.data if method == "GET" else b"")
    resp = app.client.get("/v2/docker/team/app/manifests/v2")
    assert resp.status_code == 200
    assert resp.data == only_dev.data

    # the other order: dev first
    app.define(Virtual("docker", ("dev", "release"), deploy="dev"))
    resp = app.client.get("/v2/docker/team/app/manifests/v1")
    assert resp.headers["Docker-Content-Digest"] == in_dev.digest


def test_digest_resolves_in_any_member(app: App) -> None:
    in_release, in_dev = image_manifest(), image_manifest()
    app.push_image("release/team/app", "v1", in_release)
    app.push_image("dev/team/app", "v1", in_dev)
    app.define(DOCKER)
    for manifest in (in_release, in_dev):
        for method in ("GET", "HEAD"):
            resp = app.client.open(f"/v2/docker/team/app/manifests/{manifest.digest}",
                                   method=method)
            assert resp.status_code == 200
            assert resp.headers["Docker-Content-Digest"] == manifest.digest
            assert resp.data == (manifest.data if method == "GET" else b"")


def test_unknown_manifests_and_bad_references(app: App) -> None:
    app.push_image("dev/team/app", "v1", image_manifest())
    app.define(DOCKER)
    elsewhere = image_manifest()
    app.push_image("dev/other/app", "v1", elsewhere)  # same member namespace, other path
    for reference in ("nope", elsewhere.digest):
        resp = app.client.get(f"/v2/docker/team/app/manifests/{reference}")
        assert resp.status_code == 404
        assert _error_code(resp) == "MANIFEST_UNKNOWN"
        assert app.client.head(f"/v2/docker/team/app/manifests/{reference}").status_code == 404
    assert app.client.get("/v2/docker/nothing/here/manifests/v1").status_code == 404
    resp = app.client.get("/v2/docker/team/app/manifests/sha256:abc")
    assert resp.status_code == 400


def test_promotion_changes_what_the_virtual_name_resolves(app: App) -> None:
    """CI pushes to dev, promotion links into release: the virtual name follows."""
    old, new = image_manifest(), image_manifest()
    app.push_image("release/team/app", "stable", old)
    app.push_image("dev/team/app", "build-2", new)
    app.define(DOCKER)
    resp = app.client.get("/v2/docker/team/app/manifests/stable")
    assert resp.headers["Docker-Content-Digest"] == old.digest

    promote(app.reg, "dev/team/app:build-2", "release/team/app:stable")

    resp = app.client.get("/v2/docker/team/app/manifests/stable")
    assert resp.status_code == 200
    assert resp.headers["Docker-Content-Digest"] == new.digest
    assert resp.data == new.data
    # and its blobs, now linked in release too, are served through the virtual name
    for blob in new.blobs:
        assert app.client.get(f"/v2/docker/team/app/blobs/{blob.digest}").data == blob.data


def test_blob_get_head_and_range(app: App) -> None:
    blob = random_blob(3000)
    app.push_blob("dev/team/app", blob)
    app.define(DOCKER)
    url = f"/v2/docker/team/app/blobs/{blob.digest}"
    resp = app.client.get(url)
    assert resp.status_code == 200
    assert resp.data == blob.data
    assert resp.headers["Docker-Content-Digest"] == blob.digest
    head = app.client.head(url)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "3000"
    assert head.data == b""
    part = app.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.data == blob.data[100:200]
    assert part.headers["Content-Range"] == "bytes 100-199/3000"
    assert app.client.get(url, headers={"Range": "bytes=5000-"}).status_code == 416


def test_blob_in_no_member_is_unknown(app: App) -> None:
    linked_elsewhere = random_blob(100)
    app.push_blob("dev/other/app", linked_elsewhere)
    app.push_blob("dev/team/app", random_blob(100))
    app.define(DOCKER)
    for method in ("GET", "HEAD"):
        resp = app.client.open(f"/v2/docker/team/app/blobs/{linked_elsewhere.digest}",
                               method=method)
        assert resp.status_code == 404
    assert _error_code(app.client.get(
        f"/v2/docker/team/app/blobs/{linked_elsewhere.digest}")) == "BLOB_UNKNOWN"


def test_nested_virtual_namespaces_are_flattened(app: App) -> None:
    base, mine = image_manifest(), image_manifest()
    app.push_image("base/team/app", "v1", base)
    app.push_image("mine/team/app", "v1", mine)
    app.push_image("mine/team/app", "v2", mine)
    app.define(Virtual("inner", ("base",)), Virtual("outer", ("inner", "mine")))
    assert app.client.get("/v2/outer/team/app/manifests/v1").data == base.data
    assert app.client.get("/v2/outer/team/app/manifests/v2").data == mine.data
    assert app.client.get("/v2/outer/team/app/tags/list").json["tags"] == ["v1", "v2"]


def test_a_remote_member_whose_upstream_is_down(app: App) -> None:
    """What the remote member's cache holds is served; what it does not hold gets the
    upstream's 503 naming it, quickly (nothing listens on its URL), never a hang or a 500."""
    cached = image_manifest()
    app.push_image("hub/library/alpine", "3", cached)  # as the cache would hold it
    app.define(Remote("hub", "http://127.0.0.1:9", timeout=5),
               Virtual("docker", ("dev", "hub"), deploy="dev"))
    resp = app.client.get(f"/v2/docker/library/alpine/manifests/{cached.digest}")
    assert resp.status_code == 200
    assert resp.data == cached.data
    for blob in cached.blobs:
        assert app.client.get(f"/v2/docker/library/alpine/blobs/{blob.digest}").status_code \
            == 200
    for path in ("/v2/docker/library/alpine/manifests/4",
                 "/v2/docker/library/busybox/manifests/1"):
        resp = app.client.get(path)
        assert resp.status_code == 503, resp.data
        assert _error_code(resp) == "UNAVAILABLE"
        assert "127.0.0.1:9" in resp.json["errors"][0]["message"]


def test_a_pull_answered_from_a_remote_members_cache_records_it(app: App) -> None:
    """Retention's ``not_pulled_for`` reads ``manifests.pulled_on``: a pull through a virtual
    name that a remote member's cache answers (the one statement over the members, no
    upstream asked) records it as a pull through the remote name does, by tag and by digest,
    HEAD too; a local member's answer records nothing."""
    by_tag, by_digest, headed, stale, local = (image_manifest() for _ in range(5))
    app.push_image("hub/library/alpine", "3", by_tag)  # as the cache would hold them
    app.push_image("hub/library/alpine", "2", stale)  # never confirmed upstream: stale
    app.push_image("hub/library/alpine", "old", by_digest)
    app.push_image("hub/library/alpine", "older", headed)
    app.push_image("dev/library/alpine", "mine", local)
    app.define(Remote("hub", "http://127.0.0.1:9", timeout=5),
               Virtual("docker", ("dev", "hub"), deploy="dev"))

    def pulled_on(repo: str, digest: str) -> Any:
        with app.reg.db.read() as cur:
            cur.execute("SELECT m.pulled_on, (now() AT TIME ZONE 'UTC')::date FROM manifests m"
                        " JOIN repositories r ON r.id = m.repository_id"
                        " WHERE r.name = %s AND m.digest = %s", (repo, digest))
            day, today = cur.fetchone()
        assert day in (None, today)
        return day

    with app.reg.db.read() as cur:  # confirmed upstream just now: fresh, so the cache answers
        cur.execute("UPDATE tags SET upstream_checked_at = now() WHERE name = '3'")
    assert pulled_on("hub/library/alpine", by_tag.digest) is None
    resp = app.client.get("/v2/docker/library/alpine/manifests/3")
    assert resp.status_code == 200 and resp.data == by_tag.data
    assert "Warning" not in resp.headers  # not a stale answer of the remote's own path
    assert pulled_on("hub/library/alpine", by_tag.digest) is not None

    resp = app.client.get(f"/v2/docker/library/alpine/manifests/{by_digest.digest}")
    assert resp.status_code == 200 and resp.data == by_digest.data
    assert pulled_on("hub/library/alpine", by_digest.digest) is not None
    resp = app.client.head(f"/v2/docker/library/alpine/manifests/{headed.digest}")
    assert resp.status_code == 200
    assert pulled_on("hub/library/alpine", headed.digest) is not None

    # past its TTL with the upstream down: the remote's own path serves it stale, and that
    # is a pull too (an outage must not let retention collect what is in use)
    resp = app.client.get("/v2/docker/library/alpine/manifests/2")
    assert resp.status_code == 200 and resp.data == stale.data and "Warning" in resp.headers
    assert pulled_on("hub/library/alpine", stale.digest) is not None

    for reference in ("mine", local.digest):
        assert app.client.get(f"/v2/docker/library/alpine/manifests/{reference}").data \
            == local.data
    assert pulled_on("dev/library/alpine", local.digest) is None
