# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""No leak through a virtual name: a member the caller may not pull directly is treated as
empty by every answer (basic mode, rules granting pull on some members only)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from hareg.registry.namespaces import Virtual
from tests.oci import Manifest, artifact_manifest, fake_digest, image_manifest, random_blob
from tests.virtual.conftest import App

PASSWORDS = {user: f"{user}-{secrets.token_hex(6)}"
             for user in ("alice", "bob", "eve", "carol", "dan", "frank")}
RULES = [
    # alice: everything on the three namespaces
    {"subjects": ["alice"], "repositories": ["docker/**", "dev/**", "release/**"],
     "actions": ["*"]},
    # bob: the virtual name and release, not dev
    {"subjects": ["bob"], "repositories": ["docker/**", "release/**"], "actions": ["pull"]},
    # eve: the virtual name only: every member is hidden
    {"subjects": ["eve"], "repositories": ["docker/**"], "actions": ["pull"]},
    # carol: may push to the virtual name, but not to its deploy member
    {"subjects": ["carol"], "repositories": ["docker/**", "dev/**", "release/**"],
     "actions": ["pull"]},
    {"subjects": ["carol"], "repositories": ["docker/**"], "actions": ["push"]},
    # dan: the members, not the virtual name
    {"subjects": ["dan"], "repositories": ["dev/**", "release/**"], "actions": ["pull"]},
    # frank: pushes through the virtual name into dev, but may not pull dev
    {"subjects": ["frank"], "repositories": ["docker/**", "release/**"],
     "actions": ["pull", "push"]},
    {"subjects": ["frank"], "repositories": ["dev/**"], "actions": ["push"]},
]
# dev first: bob's answers must skip it, not stop at it
DOCKER = Virtual("docker", ("dev", "release"), deploy="dev")


@dataclass
class World:
    app: App
    in_release: Manifest
    in_dev: Manifest       # dev/team/app:v1, ahead of release's in resolution order
    dev_only: Manifest     # dev/team/app:dev-only
    secret: Manifest       # dev/secret/app:v1 (no release counterpart)
    ref_release: Manifest  # a referrer of in_release, in release
    ref_dev: Manifest      # a referrer of in_release, in dev

    def get(self, user: str | None, url: str, method: str = "GET", **kwargs: Any) -> Any:
        return self.app.client.open(url, method=method, **self.app.auth(user), **kwargs)


@pytest.fixture
def world(make_app: Any) -> World:
    app = make_app(auth={"mode": "basic", "rules": RULES}, passwords=PASSWORDS)
    in_release, in_dev, dev_only, secret = (image_manifest() for _ in range(4))
    app.push_image("release/team/app", "v1", in_release, "alice")
    app.push_image("dev/team/app", "v1", in_dev, "alice")
    app.push_image("dev/team/app", "dev-only", dev_only, "alice")
    app.push_image("dev/secret/app", "v1", secret, "alice")
    app.push_image("dev/team/app", "shared-subject", in_release, "alice")
    ref_release, ref_dev = artifact_manifest(in_release), artifact_manifest(in_release)
    for repo, ref in (("release/team/app", ref_release), ("dev/team/app", ref_dev)):
        for blob in ref.blobs:
            app.push_blob(repo, blob, "alice")
        assert app.put_manifest(repo, ref.digest, ref, "alice").status_code == 201
    app.define(DOCKER)
    return World(app, in_release, in_dev, dev_only, secret, ref_release, ref_dev)


def _shape(resp: Any) -> tuple[int, list[tuple[str, str]]]:
    """What an answer reveals besides the name asked for: status, codes and messages."""
    body = resp.json or {}
    return resp.status_code, [(e["code"], e["message"]) for e in body.get("errors", [])]


def test_alice_sees_every_member(world: World) -> None:
    resp = world.get("alice", "/v2/docker/team/app/manifests/v1")
    assert resp.headers["Docker-Content-Digest"] == world.in_dev.digest
    tags = world.get("alice", "/v2/docker/team/app/tags/list").json["tags"]
    assert tags == ["dev-only", "shared-subject", "v1"]
    catalog = world.get("alice", "/v2/_catalog").json["repositories"]
    assert "docker/secret/app" in catalog


def test_manifests_of_a_hidden_member(world: World) -> None:
    assert world.get("bob", "/v2/dev/team/app/manifests/v1").status_code == 403  # directly
    resp = world.get("bob", "/v2/docker/team/app/manifests/v1")
    assert resp.status_code == 200
    assert resp.headers["Docker-Content-Digest"] == world.in_release.digest  # dev skipped
    never = _shape(world.get("bob", "/v2/docker/team/app/manifests/never-was"))
    assert never[0] == 404
    for method in ("GET", "HEAD"):
        for reference in ("dev-only", world.dev_only.digest, world.in_dev.digest):
            resp = world.get("bob", f"/v2/docker/team/app/manifests/{reference}", method)
            assert resp.status_code == 404
            if method == "GET":
                assert _shape(resp) == never
        resp = world.get("bob", "/v2/docker/secret/app/manifests/v1", method)
        assert resp.status_code == 404
    for user in ("bob", "eve"):
        assert _shape(world.get(user, "/v2/docker/secret/app/manifests/v1")) == never


def test_blobs_of_a_hidden_member(world: World) -> None:
    dev_layer = world.dev_only.blobs[1].digest
    release_layer = world.in_release.blobs[1].digest
    never = _shape(world.get("bob", f"/v2/docker/team/app/blobs/{fake_digest()}"))
    assert never[0] == 404
    assert _shape(world.get("bob", f"/v2/docker/team/app/blobs/{dev_layer}")) == never
    assert world.get("bob", f"/v2/docker/team/app/blobs/{dev_layer}", "HEAD").status_code \
        == 404
    assert world.get("bob", f"/v2/docker/team/app/blobs/{release_layer}").status_code == 200
    assert world.get("alice", f"/v2/docker/team/app/blobs/{dev_layer}").status_code == 200
    assert _shape(world.get("eve", f"/v2/docker/team/app/blobs/{release_layer}")) == never


def test_tags_of_a_hidden_member(world: World) -> None:
    assert world.get("bob", "/v2/docker/team/app/tags/list").json["tags"] == ["v1"]
    resp = world.get("bob", "/v2/docker/team/app/tags/list?n=1")
    assert resp.json["tags"] == ["v1"]
    assert "Link" not in resp.headers
    never = _shape(world.get("bob", "/v2/docker/never/app/tags/list"))
    assert never[0] == 404
    assert _shape(world.get("bob", "/v2/docker/secret/app/tags/list")) == never
    assert _shape(world.get("eve", "/v2/docker/team/app/tags/list")) == never


def test_referrers_of_a_hidden_member(world: World) -> None:
    url = f"/v2/docker/team/app/referrers/{world.in_release.digest}"
    every = [d["digest"] for d in world.get("alice", url).json["manifests"]]
    assert sorted(every) == sorted([world.ref_release.digest, world.ref_dev.digest])
    assert [d["digest"] for d in world.get("bob", url).json["manifests"]] \
        == [world.ref_release.digest]
    assert world.get("eve", url).json["manifests"] == []


def test_catalog_of_a_hidden_member(world: World) -> None:
    assert world.get("bob", "/v2/_catalog").json["repositories"] \
        == ["docker/team/app", "release/team/app"]
    pages = [world.get("bob", "/v2/_catalog?n=1").json["repositories"],
             world.get("bob", "/v2/_catalog?n=1&last=docker/team/app").json["repositories"],
             world.get("bob", "/v2/_catalog?n=1&last=release/team/app").json["repositories"]]
    assert pages == [["docker/team/app"], ["release/team/app"], []]
    assert world.get("eve", "/v2/_catalog").json["repositories"] == []
    assert world.get("dan", "/v2/_catalog").json["repositories"] \
        == ["dev/secret/app", "dev/team/app", "release/team/app"]


def test_permission_on_the_virtual_name_itself(world: World) -> None:
    assert world.get(None, "/v2/docker/team/app/manifests/v1").status_code == 401
    assert world.get("dan", "/v2/docker/team/app/manifests/v1").status_code == 403
    assert world.get("dan", "/v2/docker/team/app/tags/list").status_code == 403


def test_push_needs_push_on_the_deploy_repository(world: World) -> None:
    blob = random_blob(10)
    for user in ("carol", "bob"):
        resp = world.get(user, f"/v2/docker/team/app/blobs/uploads/?digest={blob.digest}",
                         "POST", data=blob.data)
        assert resp.status_code == 403, (user, resp.text)
        assert resp.json["errors"][0]["code"] == "DENIED"
    resp = world.get("alice", f"/v2/docker/team/app/blobs/uploads/?digest={blob.digest}",
                     "POST", data=blob.data)
    assert resp.status_code == 201
    assert world.get("alice", f"/v2/dev/team/app/blobs/{blob.digest}").status_code == 200


def test_mount_from_a_virtual_name_uses_only_pullable_members(world: World) -> None:
    """A mount takes the blob only from members the caller may pull: frank may push to dev
    but not pull from it, so a blob only dev has is not mounted for him (an upload starts),
    nor linked by his manifest PUT."""
    layer = world.secret.blobs[1].digest
    url = f"/v2/docker/other/app/blobs/uploads/?mount={layer}&from=docker/secret/app"
    assert world.get("frank", url, "POST").status_code == 202
    resp = world.get("frank", f"/v2/docker/other/app/blobs/uploads/?mount={layer}", "POST")
    assert resp.status_code == 202
    resp = world.get("frank", "/v2/docker/other/app/manifests/v1", "PUT",
                     data=world.secret.data,
                     headers={"Content-Type": world.secret.media_type})
    assert resp.status_code == 400
    assert resp.json["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert world.get("alice", url, "POST").status_code == 201
    # blobs of release, which frank may pull, are linked into dev by his manifest PUT
    base = image_manifest()
    world.app.push_image("release/other/app", "base", base, "alice")
    resp = world.get("frank", "/v2/docker/other/app/manifests/v1", "PUT", data=base.data,
                     headers={"Content-Type": base.media_type})
    assert resp.status_code == 201, resp.text
    assert world.get("alice", "/v2/dev/other/app/manifests/v1").data == base.data
