# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Pulling through a remote namespace in front of a real CNCF distribution (Basic auth):
skopeo, the TTL, an upstream that is down or stalls, mirror mode, 405 on writes, rebuild-db."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from hareg.registry.namespaces import Remote
from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.oci import (
    Manifest,
    digest_of,
    error_codes,
    image_manifest,
    new_session,
    push_image,
    random_blob,
)
from tests.rebuild.test_distribution import Skopeo
from tests.remote.conftest import UPSTREAM_PASSWORD, Distribution, define_remote

pytestmark = [pytest.mark.needs("docker-registry")]

ACCEPT = ("application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json,"
          " application/vnd.docker.distribution.manifest.v2+json")
HTTP_TIMEOUT = 60


def start_front(factory: ServerFactory, workers: int = 1, **registry: object) -> HaregServer:
    """A hareg (filesystem) logging at debug level: the credentials checks read everything.

    One worker, but where a test is about what the cache remembers between requests (TTL,
    revalidation): two, so that consecutive requests may land in different processes.
    """
    server = factory.create("filesystem", start=False, workers=workers, **registry)
    server.config["log"]["level"] = "debug"
    server.config_path.write_text(to_toml(server.config))
    server.start()
    return server


def push_upstream(upstream: Distribution, repo: str, tag: str,
                  manifest: Manifest | None = None) -> Manifest:
    manifest = manifest or image_manifest(layers=[random_blob(4096)])
    with upstream.session() as http:
        push_image(http, upstream.url, repo, manifest, tag)
    return manifest


def get_manifest(server: HaregServer, repo: str, ref: str, **params: str):  # type: ignore[no-untyped-def]
    with new_session() as http:
        return http.get(f"{server.url}/v2/{repo}/manifests/{ref}", params=params,
                        headers={"Accept": ACCEPT}, timeout=HTTP_TIMEOUT)


def pull_into_cache(server: HaregServer, image: Manifest) -> None:
    """Pull ``image`` (``library/base:v1`` upstream) through ``hub/``: its manifest and blobs
    are then in the remote's cache."""
    with new_session() as http:
        assert get_manifest(server, "hub/library/base", "v1").status_code == 200
        for blob in image.blobs:
            http.get(f"{server.url}/v2/hub/library/base/blobs/{blob.digest}",
                     timeout=HTTP_TIMEOUT).raise_for_status()


def assert_blobs_served(http: requests.Session, server: HaregServer, image: Manifest) -> None:
    """Every blob of ``image`` comes back byte-identical through ``hub/library/base``."""
    for blob in image.blobs:
        got = http.get(f"{server.url}/v2/hub/library/base/blobs/{blob.digest}",
                       timeout=HTTP_TIMEOUT)
        assert got.status_code == 200 and got.content == blob.data


def test_skopeo_copies_an_image_through_the_remote_name(
        distribution: Distribution, server_factory: ServerFactory, tmp_path: Path,
        remote_for: Callable[..., Remote]) -> None:
    image = push_upstream(distribution, "library/base", "v1")
    server = start_front(server_factory)
    define_remote(server, remote_for(distribution.url))
    skopeo = Skopeo(tmp_path / "skopeo")
    out = tmp_path / "out"
    skopeo("copy", "--retry-times", "0", "--src-tls-verify=false", "--preserve-digests",
           f"docker://{server.host}/hub/library/base:v1", f"oci:{out}:v1")
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["digest"] == image.digest
    for blob in image.blobs:
        algo, hexa = blob.digest.split(":")
        assert (out / "blobs" / algo / hexa).read_bytes() == blob.data
    with new_session() as http:
        # the cache is an ordinary repository: its tags are listed
        tags = http.get(f"{server.url}/v2/hub/library/base/tags/list", timeout=HTTP_TIMEOUT)
        assert tags.json()["tags"] == ["v1"]
        # a blob pulled once is not fetched again
        blob_path = f"/v2/library/base/blobs/{image.blobs[1].digest}"
        assert distribution.served("GET", blob_path) == 1
        again = http.get(f"{server.url}/v2/hub/library/base/blobs/{image.blobs[1].digest}",
                         timeout=HTTP_TIMEOUT)
        assert again.content == image.blobs[1].data
        assert distribution.served("GET", blob_path) == 1
        # a range of a cached blob
        part = http.get(f"{server.url}/v2/hub/library/base/blobs/{image.blobs[1].digest}",
                        headers={"Range": "bytes=10-19"}, timeout=HTTP_TIMEOUT)
        assert part.status_code == 206 and part.content == image.blobs[1].data[10:20]
    assert UPSTREAM_PASSWORD not in server.log_tail(10_000_000)


def test_pushes_and_deletes_into_a_remote_namespace_get_405(
        distribution: Distribution, server_factory: ServerFactory,
        remote_for: Callable[..., Remote]) -> None:
    image = push_upstream(distribution, "library/base", "v1")
    server = start_front(server_factory)
    define_remote(server, remote_for(distribution.url))
    assert get_manifest(server, "hub/library/base", "v1").status_code == 200
    base = f"{server.url}/v2/hub/library/base"
    with new_session() as http:
        answers = [
            http.post(f"{base}/blobs/uploads/", timeout=HTTP_TIMEOUT),
            http.put(f"{base}/manifests/v2", data=image.data,
                     headers={"Content-Type": image.media_type}, timeout=HTTP_TIMEOUT),
            http.delete(f"{base}/manifests/v1", timeout=HTTP_TIMEOUT),
            http.delete(f"{base}/manifests/{image.digest}", timeout=HTTP_TIMEOUT),
            http.delete(f"{base}/blobs/{image.blobs[0].digest}", timeout=HTTP_TIMEOUT),
            http.patch(f"{base}/blobs/uploads/00000000-0000-0000-0000-000000000000",
                       timeout=HTTP_TIMEOUT),
        ]
    for resp in answers:
        assert resp.status_code == 405, resp.text
        assert error_codes(resp) == ["UNSUPPORTED"]
        assert "remote namespace" in resp.json()["errors"][0]["message"]
    assert get_manifest(server, "hub/library/base", "v1").status_code == 200


def test_a_cached_tag_is_served_until_its_ttl_ends(
        distribution: Distribution, server_factory: ServerFactory,
        remote_for: Callable[..., Remote]) -> None:
    first = push_upstream(distribution, "team/app", "latest")
    server = start_front(server_factory, workers=2)
    define_remote(server, remote_for(distribution.url, tag_ttl=3.0))
    assert get_manifest(server, "hub/team/app", "latest").headers[
        "Docker-Content-Digest"] == first.digest
    second = push_upstream(distribution, "team/app", "latest")  # the upstream retags
    heads_before = distribution.served("HEAD", r"/v2/team/app/manifests/latest")
    # within the TTL: the old digest, and the upstream is not asked
    resp = get_manifest(server, "hub/team/app", "latest")
    assert resp.headers["Docker-Content-Digest"] == first.digest
    assert distribution.served("HEAD", r"/v2/team/app/manifests/latest") \
        == heads_before
    # after it: the new one (bounded polling)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = get_manifest(server, "hub/team/app", "latest")
        if resp.headers["Docker-Content-Digest"] == second.digest:
            break
        time.sleep(0.2)
    assert resp.headers["Docker-Content-Digest"] == second.digest
    assert resp.content == second.data and "Warning" not in resp.headers
    # both stay cached by digest
    assert get_manifest(server, "hub/team/app", first.digest).content == first.data


def test_an_unchanged_tag_is_revalidated_with_a_head_only(
        distribution: Distribution, server_factory: ServerFactory,
        remote_for: Callable[..., Remote]) -> None:
    image = push_upstream(distribution, "team/same", "v1")
    server = start_front(server_factory, workers=2)
    define_remote(server, remote_for(distribution.url, tag_ttl=0.0))
    for _ in range(3):
        resp = get_manifest(server, "hub/team/same", "v1")
        assert resp.status_code == 200 and resp.content == image.data
    assert distribution.served("GET", r"/v2/team/same/manifests/v1") == 1
    assert distribution.served("HEAD", r"/v2/team/same/manifests/v1") == 2


def test_upstream_down_serves_the_cache_and_fails_uncached_content_clearly(
        distribution: Distribution, server_factory: ServerFactory,
        remote_for: Callable[..., Remote]) -> None:
    image = push_upstream(distribution, "library/base", "v1")
    other = push_upstream(distribution, "library/other", "v1")
    server = start_front(server_factory)
    define_remote(server, remote_for(distribution.url, tag_ttl=0.0, timeout=3.0))
    pull_into_cache(server, image)
    with new_session() as http:
        distribution.kill()
        # cached: served, past the TTL, with a Warning
        resp = get_manifest(server, "hub/library/base", "v1")
        assert resp.status_code == 200 and resp.content == image.data
        assert "stale" in resp.headers["Warning"].lower()
        head = http.head(f"{server.url}/v2/hub/library/base/manifests/v1",
                         headers={"Accept": ACCEPT}, timeout=HTTP_TIMEOUT)
        assert head.status_code == 200 and "stale" in head.headers["Warning"].lower()
        assert head.headers["Docker-Content-Digest"] == image.digest
        by_digest = get_manifest(server, "hub/library/base", image.digest)
        assert by_digest.status_code == 200 and "Warning" not in by_digest.headers
        assert_blobs_served(http, server, image)
        # uncached: a clear 503 naming the upstream
        for resp in (get_manifest(server, "hub/library/other", "v1"),
                     get_manifest(server, "hub/library/other", other.digest),
                     http.get(f"{server.url}/v2/hub/library/other/blobs/{other.blobs[0].digest}",
                              timeout=HTTP_TIMEOUT)):
            assert resp.status_code == 503, resp.text
            assert error_codes(resp) == ["UNAVAILABLE"]
            assert distribution.url in resp.json()["errors"][0]["message"]


def test_a_stalled_upstream_is_given_up_after_the_timeout(
        server_factory: ServerFactory, remote_for: Callable[..., Remote]) -> None:
    """An upstream that accepts connections and never answers: a 503 after the remote's
    timeout, not a hang (the HTTP client's own timeout would fail the test)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        server = start_front(server_factory)
        define_remote(server, remote_for(f"http://127.0.0.1:{port}", timeout=0.5))
        with new_session() as http:
            for url in (f"{server.url}/v2/hub/x/manifests/v1",
                        f"{server.url}/v2/hub/x/blobs/{digest_of(b'x')}"):
                resp = http.get(url, timeout=20)
                assert resp.status_code == 503 and error_codes(resp) == ["UNAVAILABLE"]
                assert f"127.0.0.1:{port}" in resp.json()["errors"][0]["message"]


def test_allow_and_deny_patterns(distribution: Distribution, server_factory: ServerFactory,
                                 remote_for: Callable[..., Remote]) -> None:
    push_upstream(distribution, "library/base", "v1")
    push_upstream(distribution, "secret/base", "v1")
    server = start_front(server_factory)
    define_remote(server, remote_for(distribution.url, allow=("library/**",),
                                     deny=("library/forbidden",)))
    assert get_manifest(server, "hub/library/base", "v1").status_code == 200
    for repo in ("hub/secret/base", "hub/library/forbidden"):
        resp = get_manifest(server, repo, "v1")
        assert resp.status_code == 404 and error_codes(resp) == ["NAME_UNKNOWN"]
    assert distribution.served("(GET|HEAD)", "/v2/secret/") == 0


def test_mirror_mode_with_ns_parameter(distribution: Distribution,
                                       server_factory: ServerFactory,
                                       remote_for: Callable[..., Remote]) -> None:
    """containerd as a mirror: ``/v2/<upstream path>/...?ns=<upstream host>``."""
    image = push_upstream(distribution, "library/base", "v1")
    server = start_front(server_factory)
    define_remote(server, remote_for(distribution.url))
    resp = get_manifest(server, "library/base", "v1", ns=distribution.host)
    assert resp.status_code == 200 and resp.content == image.data
    with new_session() as http:
        blob = http.get(f"{server.url}/v2/library/base/blobs/{image.blobs[0].digest}",
                        params={"ns": distribution.host}, timeout=HTTP_TIMEOUT)
        assert blob.status_code == 200 and blob.content == image.blobs[0].data
        tags = http.get(f"{server.url}/v2/library/base/tags/list",
                        params={"ns": distribution.host}, timeout=HTTP_TIMEOUT)
        assert tags.json()["tags"] == ["v1"]
    # the content is cached under the remote's name
    assert get_manifest(server, "hub/library/base", image.digest).status_code == 200
    # an unknown host: an ordinary local name
    assert get_manifest(server, "library/base", "v1", ns="quay.io").status_code == 404


def test_rebuild_db_restores_the_cached_content(
        distribution: Distribution, server_factory: ServerFactory,
        remote_for: Callable[..., Remote]) -> None:
    """Cached content is ordinary repository data: rebuild-db --from-scratch restores it. Its
    tags come back unconfirmed (upstream_checked_at NULL: stale), so the next pull by tag
    asks the upstream; with the upstream down they are served stale."""
    image = push_upstream(distribution, "library/base", "v1")
    server = start_front(server_factory)
    define_remote(server, remote_for(distribution.url, tag_ttl=3600.0, timeout=3.0))
    pull_into_cache(server, image)
    server.stop()
    proc = subprocess.run([sys.executable, "-m", "hareg_cli", "rebuild-db", "--from-scratch",
                           "--config", str(server.config_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    distribution.kill()
    server.start()
    resp = get_manifest(server, "hub/library/base", "v1")
    assert resp.status_code == 200 and resp.content == image.data
    assert "Warning" in resp.headers  # unconfirmed after the rebuild, upstream down
    with new_session() as http:
        assert_blobs_served(http, server, image)


def test_garbage_collection_keeps_what_a_cached_tag_needs(
        distribution: Distribution, server_factory: ServerFactory,
        remote_for: Callable[..., Remote]) -> None:
    """The cache stores a manifest before its blobs; once the blobs are cached the manifest
    references them, so a sweep with no grace period keeps them all."""
    image = push_upstream(distribution, "library/base", "v1")
    server = server_factory.create("filesystem", start=False)
    server.config["gc"] = {"grace_period": "0s"}
    server.config_path.write_text(to_toml(server.config))
    server.start()
    define_remote(server, remote_for(distribution.url, timeout=3.0))
    pull_into_cache(server, image)
    proc = subprocess.run([sys.executable, "-m", "hareg_cli", "gc", "--config",
                           str(server.config_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    distribution.kill()
    with new_session() as http:
        assert get_manifest(server, "hub/library/base", "v1").content == image.data
        assert_blobs_served(http, server, image)
