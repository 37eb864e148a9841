# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The issue's workflow end to end, with real parts only: namespaces defined with the
``hareg namespace`` CLI, a virtual ``docker`` over the local ``dev`` and ``release`` and the
remote ``hub`` (a CNCF distribution with Basic auth), skopeo as the client.

CI pushes to ``docker/team/app`` (it lands in ``dev/team/app``), ``hareg promote`` links it
into ``release/team/app``, and consumers keep pulling ``docker/...``: local content first,
then what the remote caches, then the upstream; with the upstream gone, what was pulled once
still comes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.helpers import COMMAND_TIMEOUT, HAREG
from tests.fixtures.server import HaregServer, ServerFactory, child_env
from tests.oci import image_manifest, new_session, random_blob
from tests.rebuild.test_distribution import Skopeo
from tests.remote.conftest import UPSTREAM_PASSWORD, UPSTREAM_USER, Distribution
from tests.remote.test_pull_through import ACCEPT, push_upstream

pytestmark = [pytest.mark.needs("docker-registry", "skopeo")]

#: How long a change of the definitions may take to reach the server's workers.
DEFINITIONS_REACH = 20.0


def hareg_cli(server: HaregServer, *args: str, stdin: str = "") -> str:
    result = subprocess.run([HAREG, *args, "--config", str(server.config_path)],
                            env=child_env({}), capture_output=True, text=True, input=stdin,
                            timeout=COMMAND_TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr
    assert UPSTREAM_PASSWORD not in result.stdout + result.stderr
    return result.stdout


def wait_routed(server: HaregServer, name: str) -> None:
    """Until the server serves ``name`` as a defined namespace: a DELETE into it is refused
    with 405 (a local namespace answers 404). Bounded."""
    deadline = time.monotonic() + DEFINITIONS_REACH
    with new_session() as http:
        while time.monotonic() < deadline:
            if http.delete(f"{server.url}/v2/{name}/probe/manifests/latest",
                           timeout=10).status_code == 405:
                return
            time.sleep(0.2)
    raise AssertionError(f"{name!r} not routed as a defined namespace in {DEFINITIONS_REACH} s")


def digest_of_tag(server: HaregServer, repo: str, tag: str) -> str:
    with new_session() as http:
        resp = http.get(f"{server.url}/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT},
                        timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.headers["Docker-Content-Digest"]


def copy(skopeo: Skopeo, src: str, dst: str) -> None:
    skopeo.copy(src, dst, "--preserve-digests")


def test_push_promote_and_pull_through_one_virtual_name(server_factory: ServerFactory,
                                                         distribution: Distribution,
                                                         tmp_path: Path) -> None:
    server = server_factory.create("filesystem")
    hareg_cli(server, "namespace", "add-remote", "hub", "--url", distribution.url,
              "--username", UPSTREAM_USER, "--password-stdin", "--tag-ttl", "1h",
              "--timeout", "5s", stdin=UPSTREAM_PASSWORD + "\n")
    hareg_cli(server, "namespace", "add-virtual", "docker", "--member", "dev",
              "--member", "hub", "--deploy", "dev")
    listed = hareg_cli(server, "namespace", "list")
    assert "docker" in listed and "hub" in listed
    wait_routed(server, "docker")
    wait_routed(server, "hub")

    skopeo = Skopeo(tmp_path / "skopeo")
    host = server.url.removeprefix("http://")
    # The upstream holds a base image and its own team/app:2.
    base = push_upstream(distribution, "team/base", "1")
    upstream_app = push_upstream(distribution, "team/app", "2",
                                 image_manifest(layers=[random_blob(2048)]))

    # CI pushes through the virtual name: the image lands in the deploy member only.
    work = tmp_path / "image"
    copy(skopeo, f"docker://{host}/hub/team/base:1", f"oci:{work}:base")
    copy(skopeo, f"oci:{work}:base", f"docker://{host}/docker/team/app:2")
    with new_session() as http:
        assert http.get(f"{server.url}/v2/dev/team/app/tags/list",
                        timeout=30).json()["tags"] == ["2"]
        assert http.get(f"{server.url}/v2/release/team/app/tags/list",
                        timeout=30).status_code == 404
    assert digest_of_tag(server, "dev/team/app", "2") == base.digest

    # The local member shadows the upstream's team/app:2; the upstream's base comes through.
    assert digest_of_tag(server, "docker/team/app", "2") == base.digest != upstream_app.digest
    assert digest_of_tag(server, "docker/team/base", "1") == base.digest
    copy(skopeo, f"docker://{host}/docker/team/base:1", f"oci:{work}:through-virtual")

    # A promotion into release, listed first once it exists (a member must be a defined
    # namespace or hold repositories), changes what the virtual name resolves.
    copy(skopeo, f"docker://{host}/hub/team/app:2", f"oci:{work}:upstream-app")
    copy(skopeo, f"oci:{work}:upstream-app", f"docker://{host}/dev/team/app:candidate")
    hareg_cli(server, "promote", "dev/team/app:candidate", "release/team/app:2")
    assert digest_of_tag(server, "docker/team/app", "2") == base.digest
    hareg_cli(server, "namespace", "update", "docker", "--member", "release", "--member", "dev",
              "--member", "hub")
    deadline = time.monotonic() + DEFINITIONS_REACH
    while digest_of_tag(server, "docker/team/app", "2") != upstream_app.digest:
        assert time.monotonic() < deadline, "the new member order was not applied"
        time.sleep(0.2)
    with new_session() as http:
        tags = http.get(f"{server.url}/v2/docker/team/app/tags/list", timeout=30).json()
    assert tags["tags"] == ["2", "candidate"]

    # The upstream goes away: what was pulled once through the remote still comes, and what
    # was never pulled gets an error naming the upstream.
    distribution.kill()
    copy(skopeo, f"docker://{host}/docker/team/base:1", f"oci:{work}:offline")
    with new_session() as http:
        resp = http.get(f"{server.url}/v2/docker/team/never-pulled/manifests/1",
                        headers={"Accept": ACCEPT}, timeout=30)
    assert resp.status_code == 503, resp.text
    assert distribution.url.removeprefix("http://") in resp.json()["errors"][0]["message"]
