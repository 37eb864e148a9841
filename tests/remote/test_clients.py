# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A second hareg in token mode as a token-flow upstream, and podman pulling through hareg as
a ``registries.conf`` mirror with a path prefix."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hareg.registry.namespaces import Remote
from tests.auth.helpers import SERVICE, Keys, auth_toml, fetch_token, write_htpasswd
from tests.clients.layout import write_image_layout
from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.oci import error_codes, image_manifest, new_session, push_image, random_blob
from tests.rebuild.test_distribution import Skopeo
from tests.remote.conftest import (
    UPSTREAM_PASSWORD,
    UPSTREAM_USER,
    Distribution,
    define_remote,
)

HTTP_TIMEOUT = 60
ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def token_upstream(factory: ServerFactory, tmp_path: Path) -> HaregServer:
    keys = Keys.create(tmp_path / "keys")
    htpasswd = write_htpasswd(tmp_path / "htpasswd", {UPSTREAM_USER: UPSTREAM_PASSWORD})
    server = factory.create("filesystem", name="token-upstream", start=False, workers=1)
    server.config_path.write_text(to_toml(server.config) + "\n" + auth_toml({
        "mode": "token", "htpasswd": str(htpasswd), "service": SERVICE,
        "signing_key": str(keys.signing_path), "token_lifetime": 300}))
    server.start()
    return server


def token_requests(server: HaregServer) -> int:
    return len(re.findall(r'"GET /token\?[^"]*" 200', server.log_tail(10_000_000)))


def test_the_docker_token_flow_of_an_upstream(server_factory: ServerFactory,
                                              tmp_path: Path) -> None:
    upstream = token_upstream(server_factory, tmp_path)
    image = image_manifest(layers=[random_blob(2048), random_blob(1024)])
    with new_session() as http:
        token = fetch_token(http, upstream.url, ["repository:team/app:pull,push"],
                            UPSTREAM_USER, UPSTREAM_PASSWORD).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        push_image(http, upstream.url, "team/app", image, "v1")
    front = server_factory.create("filesystem", start=False, workers=1)
    front.config["log"]["level"] = "debug"
    front.config_path.write_text(to_toml(front.config))
    front.start()
    define_remote(front, Remote(name="hub", url=upstream.url, username=UPSTREAM_USER,
                                password=UPSTREAM_PASSWORD, tag_ttl=0.0, timeout=5.0))
    before = token_requests(upstream)
    with new_session() as http:
        for ref in ("v1", "v1", image.digest):
            resp = http.get(f"{front.url}/v2/hub/team/app/manifests/{ref}",
                            headers={"Accept": ACCEPT}, timeout=HTTP_TIMEOUT)
            assert resp.status_code == 200 and resp.content == image.data
        for blob in image.blobs:
            resp = http.get(f"{front.url}/v2/hub/team/app/blobs/{blob.digest}",
                            timeout=HTTP_TIMEOUT)
            assert resp.status_code == 200 and resp.content == blob.data
    # one token for the scope, reused until it expires (one worker: one token cache)
    assert token_requests(upstream) - before == 1
    log = front.log_tail(10_000_000)
    assert UPSTREAM_PASSWORD not in log and "Bearer ey" not in log

    # wrong credentials: a clear 503 naming the upstream, never a 500
    define_remote(front, Remote(name="bad", url=upstream.url, username=UPSTREAM_USER,
                                password="wrong-password", timeout=5.0))
    with new_session() as http:
        resp = http.get(f"{front.url}/v2/bad/team/app/manifests/v1",
                        headers={"Accept": ACCEPT}, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 503 and error_codes(resp) == ["UNAVAILABLE"]
    message = resp.json()["errors"][0]["message"]
    assert upstream.url in message and "wrong-password" not in message
    assert "wrong-password" not in front.log_tail(10_000_000)


@pytest.mark.needs("docker-registry", "skopeo", "podman")
def test_podman_pulls_through_a_mirror_with_a_path_prefix(
        distribution: Distribution, server_factory: ServerFactory, tmp_path: Path,
        remote_for: Callable[..., Remote]) -> None:
    image = write_image_layout(tmp_path / "image", "v1", seed=7)
    skopeo = Skopeo(tmp_path / "skopeo")
    skopeo.copy(f"oci:{tmp_path / 'image'}:v1", f"docker://{distribution.host}/library/app:v1",
                "--preserve-digests", "--dest-creds", f"{UPSTREAM_USER}:{UPSTREAM_PASSWORD}")
    front = server_factory.create("filesystem")
    define_remote(front, remote_for(distribution.url))
    home = tmp_path / "podman"
    for sub in ("root", "tmp", "config"):
        (home / sub).mkdir(parents=True)
    runroot = Path(tempfile.mkdtemp(prefix="hareg-podman-"))  # podman wants it short
    (home / "config" / "containers").mkdir()
    (home / "config" / "containers" / "policy.json").write_text(
        '{"default": [{"type": "insecureAcceptAnything"}]}')
    conf = home / "registries.conf"
    # podman has no credentials for the upstream: the pull can only succeed through hareg
    conf.write_text(f"""
[[registry]]
prefix = "{distribution.host}"
location = "{distribution.host}"
insecure = true

[[registry.mirror]]
location = "{front.host}/hub"
insecure = true
""")
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(CONTAINERS_REGISTRIES_CONF=str(conf), TMPDIR=str(home / "tmp"),
               XDG_CONFIG_HOME=str(home / "config"), HOME=str(home))
    cmd = ["podman", "--root", str(home / "root"), "--runroot", str(runroot),
           "--storage-driver", "vfs", "--events-backend", "file", "--cgroup-manager",
           "cgroupfs", "pull", "--tls-verify=false",
           f"{distribution.host}/library/app:v1"]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        subprocess.run(["podman", "--root", str(home / "root"), "--runroot", str(runroot),
                        "--storage-driver", "vfs", "rmi", "-a", "-f"],
                       env=env, capture_output=True, timeout=60, check=False)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # podman's pull went through hareg: the tag is cached (tags/list lists cached tags only)
    with new_session() as http:
        tags = http.get(f"{front.url}/v2/hub/library/app/tags/list", timeout=HTTP_TIMEOUT)
    assert tags.json()["tags"] == ["v1"]
    assert f"/v2/hub/library/app/blobs/{image.layers[0].digest}" in front.log_tail(10_000_000)
    assert distribution.served("GET", r"/v2/library/app/manifests/") >= 1
