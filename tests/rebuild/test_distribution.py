# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Adopting a CNCF distribution bucket: skopeo pushes to a real ``docker-registry`` 2.x
(filesystem driver), hareg rebuilds its database from that root directory and serves every
image back with the same digests and bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.clients.layout import closure, read_blob, write_image_layout, write_index_layout
from tests.fixtures.server import ServerFactory, child_env, free_port, wait_until_answers
from tests.rebuild.content import ACCEPT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.clients,
    pytest.mark.needs("docker-registry", "skopeo"),  # Debian's docker-registry
]

DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
"""


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running ``docker-registry serve`` on loopback; yields (host:port, rootdirectory)."""
    root, port = tmp_path / "distribution", free_port()
    root.mkdir()
    config = tmp_path / "distribution.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=root, port=port))
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with open(tmp_path / "distribution.log", "wb") as log:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_until_answers(f"http://127.0.0.1:{port}/v2/", 30,
                                  lambda: proc.poll() is None):
            pytest.fail((tmp_path / "distribution.log").read_text(), pytrace=False)
        yield f"127.0.0.1:{port}", root
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Skopeo:
    """skopeo with a private HOME, policy, registries.conf and blob-info cache."""

    def __init__(self, home: Path) -> None:
        for sub in ("config", "data", "run", "tmp"):
            (home / sub).mkdir(parents=True)
        (home / "registries.conf").write_text("")
        self.env = {k: v for k, v in os.environ.items()
                    if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        self.env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
                        XDG_DATA_HOME=str(home / "data"), XDG_RUNTIME_DIR=str(home / "run"),
                        TMPDIR=str(home / "tmp"), _CONTAINERS_ROOTLESS_UID="4242",
                        CONTAINERS_REGISTRIES_CONF=str(home / "registries.conf"))

    def __call__(self, *args: str) -> str:
        cmd = ["skopeo", "--insecure-policy", *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr[-4000:]}"
        return proc.stdout

    def copy(self, src: str, dst: str, *extra: str) -> None:
        self("copy", "--retry-times", "0", "--src-tls-verify=false", "--dest-tls-verify=false",
             *extra, src, dst)


def answers(http: requests.Session, host: str, refs: dict[str, list[str]]) -> dict[str, Any]:
    """Catalog, tag lists and raw manifests (bytes, type, digest) as a registry serves them."""
    out: dict[str, Any] = {"catalog": http.get(f"http://{host}/v2/_catalog").json()}
    for repo, tags in refs.items():
        out[f"tags {repo}"] = sorted(http.get(f"http://{host}/v2/{repo}/tags/list").json()["tags"])
        for ref in tags:
            resp = http.get(f"http://{host}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})
            out[f"manifest {repo}:{ref}"] = (  # error bodies differ between registries
                (resp.status_code, resp.headers.get("Content-Type"),
                 resp.headers.get("Docker-Content-Digest"), resp.content)
                if resp.ok else (resp.status_code,))
    return out


def test_hareg_adopts_a_distribution_bucket(distribution: tuple[str, Path], tmp_path: Path,
                                           server_factory: ServerFactory) -> None:
    host, root = distribution
    skopeo = Skopeo(tmp_path / "skopeo")
    image = write_image_layout(tmp_path / "image", "v1", seed=1)
    index = write_index_layout(tmp_path / "index", "multi", seed=2)
    skopeo.copy(f"oci:{tmp_path / 'image'}:v1", f"docker://{host}/library/base:v1",
                "--preserve-digests")
    skopeo.copy(f"oci:{tmp_path / 'image'}:v1", f"docker://{host}/library/base:stable",
                "--preserve-digests")
    skopeo.copy(f"oci:{tmp_path / 'index'}:multi", f"docker://{host}/team/app/multi:2.0",
                "--all", "--preserve-digests")
    skopeo.copy(f"oci:{tmp_path / 'image'}:v1", f"docker://{host}/legacy:docker",
                "--format", "v2s2")  # converted: Docker schema 2 media types
    # deleted in distribution: its revision link and tag go, its blobs stay
    gone = write_image_layout(tmp_path / "gone", "v1", seed=3)
    skopeo.copy(f"oci:{tmp_path / 'gone'}:v1", f"docker://{host}/library/base:gone",
                "--preserve-digests")
    skopeo("delete", "--tls-verify=false",
           f"docker://{host}/library/base@{gone.manifest.digest}")
    refs = {"library/base": ["v1", "stable", image.manifest.digest, gone.manifest.digest],
            "team/app/multi": ["2.0", index.index.digest, *index.child_digests],
            "legacy": ["docker"]}
    with requests.Session() as http:
        http.trust_env = False
        before = answers(http, host, refs)
    assert before["tags library/base"] == ["stable", "v1"]
    assert before[f"manifest library/base:{gone.manifest.digest}"][0] == 404

    server = server_factory.create("filesystem", storage={"driver": "filesystem",
                                                          "root": str(root)}, start=False)
    proc = subprocess.run(
        [sys.executable, "-m", "hareg_cli", "rebuild-db", "--config", str(server.config_path)],
        env=child_env(), capture_output=True, text=True, timeout=120, cwd=server.work_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["counts"]["repositories"]["added"] == 3
    assert summary["counts"]["tags"]["added"] == 4
    server.start()

    with requests.Session() as http:
        http.trust_env = False
        after = answers(http, server.host, refs)
    assert {k: (v, after[k]) for k, v in before.items() if after[k] != v} == {}

    # pulled back through hareg: the same digests and byte-identical blobs
    out = tmp_path / "pulled"
    skopeo.copy(f"docker://{server.host}/team/app/multi:2.0", f"oci:{out}:multi",
                "--all", "--preserve-digests")
    skopeo.copy(f"docker://{server.host}/library/base@{image.manifest.digest}", f"oci:{out}:v1",
                "--preserve-digests")
    for src, digest in ((tmp_path / "index", index.index.digest),
                        (tmp_path / "image", image.manifest.digest)):
        assert closure(out, digest) == closure(src, digest)
        for blob in closure(src, digest):
            assert read_blob(out, blob) == read_blob(src, blob)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{server.host}/legacy:docker")
    assert raw.encode() == before["manifest legacy:docker"][3]
