# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""tags/list, referrers and the catalog through virtual names: unions over the members."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hareg.db import repositories
from hareg.db import tags as tag_rows
from hareg.registry.namespaces import Virtual
from tests.oci import artifact_manifest, image_manifest, random_blob
from tests.virtual.conftest import App

DOCKER = Virtual("docker", ("release", "dev"), deploy="dev")
# byte order differs from case-insensitive and version order; "shared" is in both members
RELEASE_TAGS = ["1.0", "V2", "b", "shared", "v10"]
DEV_TAGS = ["1.0.1", "Z", "_x", "a", "shared", "v9"]
ALL_TAGS = sorted(set(RELEASE_TAGS) | set(DEV_TAGS))


def _tag_all(app: App, repo: str, tags: list[str]) -> None:
    manifest = image_manifest()
    app.push_image(repo, tags[0], manifest)
    for tag in tags[1:]:
        assert app.put_manifest(repo, tag, manifest).status_code == 201


@pytest.fixture
def tagged(app: App) -> App:
    _tag_all(app, "release/team/app", RELEASE_TAGS)
    _tag_all(app, "dev/team/app", DEV_TAGS)
    app.define(DOCKER)
    return app


def _next(resp: Any) -> str | None:
    link = resp.headers.get("Link")
    if link is None:
        return None
    assert link.endswith('>; rel="next"')
    return link[1:link.index(">")]


def _walk(app: App, url: str, key: str, limit: int = 100) -> tuple[list[str], int]:
    """Follow Link headers from ``url``: every item, and the number of pages."""
    items: list[str] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        pages += 1
        assert pages <= limit, "pagination does not end"
        resp = app.client.get(next_url)
        assert resp.status_code == 200, resp.text
        items += resp.json[key]
        next_url = _next(resp)
    return items, pages


def test_tags_are_the_sorted_union(tagged: App) -> None:
    resp = tagged.client.get("/v2/docker/team/app/tags/list")
    assert resp.status_code == 200
    assert resp.json == {"name": "docker/team/app", "tags": ALL_TAGS}
    assert "Link" not in resp.headers
    assert ALL_TAGS[:4] == ["1.0", "1.0.1", "V2", "Z"]  # the expectation itself: bytes


@pytest.mark.parametrize("n", [1, 2, 3, len(ALL_TAGS) - 1])
def test_tags_pages_across_members(tagged: App, n: int) -> None:
    items, pages = _walk(tagged, f"/v2/docker/team/app/tags/list?n={n}", "tags")
    assert items == ALL_TAGS
    assert pages == -(-len(ALL_TAGS) // n)


@pytest.mark.parametrize("n", [len(ALL_TAGS), len(ALL_TAGS) + 1, 10_000])
def test_tags_n_at_or_beyond_count(tagged: App, n: int) -> None:
    resp = tagged.client.get(f"/v2/docker/team/app/tags/list?n={n}")
    assert resp.json["tags"] == ALL_TAGS
    assert "Link" not in resp.headers


@pytest.mark.parametrize(("last", "expected"), [
    ("", ALL_TAGS),
    ("0", ALL_TAGS),               # before every tag
    ("1.0", ALL_TAGS[1:]),         # a release tag
    ("1.0.1", ALL_TAGS[2:]),       # a dev tag
    ("shared", ["v10", "v9"]),     # in both
    ("c", ["shared", "v10", "v9"]),  # in neither
    ("v9", []),                    # the last one
    ("zzz", []),                   # beyond every tag
])
def test_tags_last(tagged: App, last: str, expected: list[str]) -> None:
    resp = tagged.client.get("/v2/docker/team/app/tags/list", query_string={"last": last})
    assert resp.status_code == 200
    assert resp.json["tags"] == expected
    assert "Link" not in resp.headers


def test_tags_link_header(tagged: App) -> None:
    resp = tagged.client.get("/v2/docker/team/app/tags/list?n=2&last=Z")
    assert resp.json["tags"] == ["_x", "a"]
    query = parse_qs(urlsplit(_next(resp) or "").query)
    assert urlsplit(_next(resp) or "").path == "/v2/docker/team/app/tags/list"
    assert query == {"n": ["2"], "last": ["a"]}
    resp = tagged.client.get("/v2/docker/team/app/tags/list?n=0")
    assert resp.json == {"name": "docker/team/app", "tags": []}
    assert "Link" not in resp.headers


def test_tags_of_a_path_no_member_has(tagged: App) -> None:
    resp = tagged.client.get("/v2/docker/team/nothing/tags/list")
    assert resp.status_code == 404
    assert resp.json["errors"][0]["code"] == "NAME_UNKNOWN"
    _tag_all(tagged, "dev/team/only-dev", ["x"])
    assert tagged.client.get("/v2/docker/team/only-dev/tags/list").json["tags"] == ["x"]


def test_many_tags_page_through(app: App) -> None:
    """Two members with 600 and 400 tags (a third of them shared): pages of 250."""
    manifest = image_manifest()
    app.push_image("release/big/app", "t0000", manifest)
    app.push_image("dev/big/app", "t0000", manifest)
    release = [f"t{i:04d}" for i in range(0, 1200, 2)]
    dev = [f"t{i:04d}" for i in range(0, 1200, 3)]
    # the rows only (a tag list reads nothing else): 1,000 pushes would take a minute
    with app.reg.db.transaction() as cur:
        for repo, tags in (("release/big/app", release), ("dev/big/app", dev)):
            repo_id = repositories.repository_id(cur, repo)
            assert repo_id is not None
            manifest_id = tag_rows.tagged_manifest_id(cur, repo_id, "t0000")
            assert manifest_id is not None
            for tag in tags[1:]:
                tag_rows.upsert_tag(cur, repo_id, tag, manifest_id)
    app.define(DOCKER)
    items, pages = _walk(app, "/v2/docker/big/app/tags/list?n=250", "tags")
    assert items == sorted(set(release) | set(dev))
    assert pages == -(-len(items) // 250)


def test_referrers_union_deduplicated(app: App) -> None:
    subject = image_manifest()
    app.push_image("release/team/app", "v1", subject)
    app.push_image("dev/team/app", "v1", subject)
    shared = artifact_manifest(subject, artifact_type="application/vnd.example.sig")
    only_dev = artifact_manifest(subject, artifact_type="application/vnd.example.sbom")
    elsewhere = artifact_manifest(subject)
    for repo, artifact in (("release/team/app", shared), ("dev/team/app", shared),
                           ("dev/team/app", only_dev), ("dev/other/app", elsewhere)):
        if repo == "dev/other/app":
            app.push_image(repo, "v1", subject)
        for blob in artifact.blobs:
            app.push_blob(repo, blob)
        assert app.put_manifest(repo, artifact.digest, artifact).status_code == 201
    app.define(DOCKER)
    resp = app.client.get(f"/v2/docker/team/app/referrers/{subject.digest}")
    assert resp.status_code == 200
    digests = [d["digest"] for d in resp.json["manifests"]]
    assert sorted(digests) == sorted([shared.digest, only_dev.digest])
    assert resp.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
    resp = app.client.get(f"/v2/docker/team/app/referrers/{subject.digest}",
                          query_string={"artifactType": "application/vnd.example.sbom"})
    assert [d["digest"] for d in resp.json["manifests"]] == [only_dev.digest]
    assert resp.json["manifests"][0]["artifactType"] == "application/vnd.example.sbom"
    assert resp.headers["OCI-Filters-Applied"] == "artifactType"
    resp = app.client.get(f"/v2/docker/nothing/referrers/{subject.digest}")
    assert resp.status_code == 200
    assert resp.json["manifests"] == []


CATALOG_REPOS = ["dev/a/one", "dev/b", "release/a/one", "release/c", "zeta/x", "alpha/y",
                 "dev/z.z/q"]


@pytest.fixture
def catalog(app: App) -> tuple[App, list[str]]:
    for repo in CATALOG_REPOS:
        app.push_blob(repo, random_blob(10))
    app.client.post("/v2/dev/empty/blobs/uploads/")  # an upload only: not listed
    app.define(DOCKER, Virtual("all", ("zeta", "dev")))
    expected = sorted({*CATALOG_REPOS, "docker/a/one", "docker/b", "docker/c",
                       "docker/z.z/q", "all/x", "all/a/one", "all/b", "all/z.z/q"})
    return app, expected


def test_catalog_lists_virtual_names(catalog: tuple[App, list[str]]) -> None:
    app, expected = catalog
    resp = app.client.get("/v2/_catalog")
    assert resp.status_code == 200
    assert resp.json["repositories"] == expected
    assert "Link" not in resp.headers


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_catalog_pages(catalog: tuple[App, list[str]], n: int) -> None:
    app, expected = catalog
    items, pages = _walk(app, f"/v2/_catalog?n={n}", "repositories")
    assert items == expected
    assert pages == -(-len(expected) // n)


@pytest.mark.parametrize("last", ["", "a", "all/", "all/b", "dev", "docker", "docker/",
                                  "docker/a/one", "docker/b", "docker/zz", "docker0", "e",
                                  "release/c", "zzz"])
def test_catalog_last(catalog: tuple[App, list[str]], last: str) -> None:
    app, expected = catalog
    resp = app.client.get("/v2/_catalog", query_string={"last": last})
    assert resp.json["repositories"] == [r for r in expected if r > last]
