# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Pushes through a virtual name land in its deploy member; deletes are refused."""

from __future__ import annotations

from typing import Any

from hareg.registry.namespaces import Virtual
from tests.oci import image_manifest, random_blob
from tests.virtual.conftest import App

DOCKER = Virtual("docker", ("release", "dev"), deploy="dev")
NO_UPLOAD = "00000000-0000-0000-0000-000000000000"


def _tags(app: App, repo: str) -> Any:
    return app.client.get(f"/v2/{repo}/tags/list").json


def test_chunked_upload_and_manifest_land_in_the_deploy_member(app: App) -> None:
    app.push_blob("release/seed", random_blob(10))  # the namespaces exist
    app.define(DOCKER)
    manifest = image_manifest(layers=[random_blob(7000)])
    config, layer = manifest.blobs
    # a chunked upload: POST, PATCH, PATCH, PUT; every Location keeps the virtual name
    start = app.client.post("/v2/docker/team/app/blobs/uploads/")
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    assert location.startswith("/v2/docker/team/app/blobs/uploads/")
    patch = app.client.patch(location, data=layer.data[:4000],
                             headers={"Content-Range": "0-3999"})
    assert patch.status_code == 202, patch.text
    location = patch.headers["Location"]
    assert location.startswith("/v2/docker/team/app/blobs/uploads/")
    status = app.client.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-3999"
    done = app.client.put(f"{location}?digest={layer.digest}", data=layer.data[4000:])
    assert done.status_code == 201, done.text
    assert done.headers["Location"] == f"/v2/docker/team/app/blobs/{layer.digest}"
    # a monolithic upload
    app.push_blob("docker/team/app", config)
    resp = app.put_manifest("docker/team/app", "v1", manifest, tags=["latest"])
    assert resp.status_code == 201, resp.text
    assert resp.headers["Location"] == f"/v2/docker/team/app/manifests/{manifest.digest}"
    assert resp.headers["OCI-Tag"] == "v1, latest"

    assert _tags(app, "dev/team/app")["tags"] == ["latest", "v1"]
    assert app.client.get("/v2/release/team/app/tags/list").status_code == 404
    assert app.client.get("/v2/dev/team/app/manifests/v1").data == manifest.data
    assert app.client.get(f"/v2/dev/team/app/blobs/{layer.digest}").data == layer.data
    # the Locations answered are usable
    assert app.client.get(done.headers["Location"]).data == layer.data
    assert app.client.get(resp.headers["Location"]).data == manifest.data
    assert app.client.get("/v2/docker/team/app/manifests/latest").data == manifest.data


def test_cancel_an_upload_through_the_virtual_name(app: App) -> None:
    app.define(DOCKER)
    start = app.client.post("/v2/docker/team/app/blobs/uploads/")
    location = start.headers["Location"]
    assert app.client.delete(location).status_code == 204
    assert app.client.get(location).status_code == 404
    # the session is the deploy repository's: the same id under the member name is known
    start = app.client.post("/v2/docker/team/app/blobs/uploads/")
    upload_id = start.headers["Docker-Upload-UUID"]
    assert app.client.get(f"/v2/dev/team/app/blobs/uploads/{upload_id}").status_code == 204


def test_mounts_into_the_deploy_member(app: App) -> None:
    from_dev, from_release = random_blob(100), random_blob(100)
    app.push_blob("dev/lib/base", from_dev)
    app.push_blob("release/lib/base", from_release)
    app.define(DOCKER)
    # from a member repository by its own name
    resp = app.client.post(
        f"/v2/docker/team/app/blobs/uploads/?mount={from_dev.digest}&from=dev/lib/base")
    assert resp.status_code == 201, resp.text
    assert resp.headers["Location"] == f"/v2/docker/team/app/blobs/{from_dev.digest}"
    # from a virtual name: whichever member links it
    resp = app.client.post(
        f"/v2/docker/team/app/blobs/uploads/?mount={from_release.digest}&from=docker/lib/base")
    assert resp.status_code == 201, resp.text
    for blob in (from_dev, from_release):
        assert app.client.head(f"/v2/dev/team/app/blobs/{blob.digest}").status_code == 200
    # a blob the source does not have: an upload session starts instead
    missing = random_blob(10)
    resp = app.client.post(
        f"/v2/docker/team/app/blobs/uploads/?mount={missing.digest}&from=docker/lib/base")
    assert resp.status_code == 202
    # a mount from a virtual name into a plain repository
    resp = app.client.post(
        f"/v2/plain/app/blobs/uploads/?mount={from_release.digest}&from=docker/lib/base")
    assert resp.status_code == 201


def test_manifest_put_links_what_members_have(app: App) -> None:
    """A client that saw a blob through the virtual name (HEAD 200, from release) skips its
    upload: the manifest PUT still lands in dev, which now links it."""
    base = image_manifest()
    app.push_image("release/team/app", "v1", base)
    app.define(DOCKER)
    _, layer = base.blobs
    assert app.client.head(f"/v2/docker/team/app/blobs/{layer.digest}").status_code == 200
    new_config = random_blob(20)
    app.push_blob("docker/team/app", new_config)
    manifest = image_manifest(config=new_config, layers=[layer])
    resp = app.put_manifest("docker/team/app", "v2", manifest)
    assert resp.status_code == 201, resp.text
    assert app.client.get(f"/v2/dev/team/app/blobs/{layer.digest}").data == layer.data
    assert app.client.get("/v2/dev/team/app/manifests/v2").data == manifest.data
    # a blob no member has is still refused
    unknown = image_manifest(config=new_config, layers=[random_blob(30)])
    resp = app.put_manifest("docker/team/app", "v3", unknown)
    assert resp.status_code == 400
    assert resp.json["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"


def test_push_without_deploy_member_is_405(app: App) -> None:
    app.push_blob("release/seed", random_blob(10))
    app.define(Virtual("docker", ("release",)))
    blob = random_blob(10)
    answers = [
        app.client.post("/v2/docker/team/app/blobs/uploads/"),
        app.client.post(f"/v2/docker/team/app/blobs/uploads/?digest={blob.digest}",
                        data=blob.data),
        app.client.post(f"/v2/docker/team/app/blobs/uploads/?mount={blob.digest}"),
        app.client.patch(f"/v2/docker/team/app/blobs/uploads/{NO_UPLOAD}",
                         data=b"x"),
        app.client.put(f"/v2/docker/team/app/blobs/uploads/{NO_UPLOAD}"
                       f"?digest={blob.digest}", data=b"x"),
        app.put_manifest("docker/team/app", "v1", image_manifest()),
    ]
    for resp in answers:
        assert resp.status_code == 405, resp.text
        error = resp.json["errors"][0]
        assert error["code"] == "UNSUPPORTED"
        assert "no deploy member" in error["message"]
    assert app.client.get("/v2/_catalog").json["repositories"] == ["docker/seed",
                                                                   "release/seed"]


def test_deletes_through_a_virtual_name_are_405(app: App) -> None:
    manifest = image_manifest()
    app.push_image("dev/team/app", "v1", manifest)
    app.define(DOCKER)
    answers = [
        app.client.delete("/v2/docker/team/app/manifests/v1"),
        app.client.delete(f"/v2/docker/team/app/manifests/{manifest.digest}"),
        app.client.delete(f"/v2/docker/team/app/blobs/{manifest.blobs[1].digest}"),
    ]
    for resp in answers:
        assert resp.status_code == 405, resp.text
        assert resp.json["errors"][0]["code"] == "UNSUPPORTED"
        assert "delete in the member namespace" in resp.json["errors"][0]["message"]
    # nothing was deleted
    assert app.client.get("/v2/dev/team/app/manifests/v1").data == manifest.data
    assert app.client.delete("/v2/dev/team/app/manifests/v1").status_code == 202
