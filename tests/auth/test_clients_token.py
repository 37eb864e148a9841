# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Real clients through the token flow: skopeo and the oras Python SDK log in with a user name
and password, fetch tokens from hareg's realm endpoint, push and pull."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import oras.provider
import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.auth.helpers import HTTP_TIMEOUT, USERS
from tests.clients.layout import closure, read_blob, ref_descriptor, write_image_layout
from tests.fixtures.server import HaregServer
from tests.tools import require

pytestmark = pytest.mark.clients

SKOPEO_TIMEOUT = 120.0


class Skopeo:
    """skopeo with private HOME/XDG dirs, an empty auth file and no registries.conf."""

    def __init__(self, root: Path) -> None:
        dirs = {n: root / n for n in ("home", "data", "config", "run", "tmp")}
        for path in dirs.values():
            path.mkdir(parents=True)
        auth = root / "auth.json"
        auth.write_text('{"auths": {}}')
        (root / "registries.conf").write_text("")
        self.env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.env.update(HOME=str(dirs["home"]), XDG_DATA_HOME=str(dirs["data"]),
                        XDG_CONFIG_HOME=str(dirs["config"]), XDG_RUNTIME_DIR=str(dirs["run"]),
                        TMPDIR=str(dirs["tmp"]), REGISTRY_AUTH_FILE=str(auth),
                        CONTAINERS_REGISTRIES_CONF=str(root / "registries.conf"))
        if os.geteuid() == 0:
            self.env["_CONTAINERS_ROOTLESS_UID"] = "4242"  # a private blob-info cache
        self.tmpdir = dirs["tmp"]

    def copy(self, src: str, dst: str, *flags: str) -> subprocess.CompletedProcess[str]:
        cmd = ["skopeo", "--insecure-policy", "--tmpdir", str(self.tmpdir), "copy",
               "--preserve-digests", "--retry-times", "0", *flags, src, dst]
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                              timeout=SKOPEO_TIMEOUT, check=False)


@pytest.fixture
def skopeo(tmp_path: Path) -> Skopeo:
    require("skopeo")
    return Skopeo(tmp_path / "skopeo")


def creds(user: str) -> str:
    return f"{user}:{USERS[user]}"


def test_skopeo_pushes_and_pulls_with_credentials(token_server: HaregServer, skopeo: Skopeo,
                                                  tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_image_layout(src, "v1", seed=5)
    ref = f"docker://{token_server.host}/team/skopeo-{uuid.uuid4().hex[:8]}:v1"
    push = skopeo.copy(f"oci:{src}:v1", ref, "--dest-tls-verify=false",
                       "--dest-creds", creds("alice"))
    assert push.returncode == 0, push.stderr
    pull = skopeo.copy(ref, f"oci:{out}:v1", "--src-tls-verify=false",
                       "--src-creds", creds("bob"))
    assert pull.returncode == 0, pull.stderr
    digest = ref_descriptor(src, "v1")["digest"]
    assert ref_descriptor(out, "v1")["digest"] == digest
    for blob in closure(src, digest):
        assert read_blob(out, blob) == read_blob(src, blob)
    for secret in USERS.values():
        assert secret not in push.stderr + pull.stderr


def test_skopeo_without_credentials_gets_a_clear_error(token_server: HaregServer,
                                                       skopeo: Skopeo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_image_layout(src, "v1", seed=6)
    ref = f"docker://{token_server.host}/team/denied-{uuid.uuid4().hex[:8]}:v1"
    push = skopeo.copy(f"oci:{src}:v1", ref, "--dest-tls-verify=false")
    assert push.returncode != 0
    assert "authentication required" in push.stderr or "unauthorized" in push.stderr.lower(), \
        push.stderr
    pull = skopeo.copy(ref, f"oci:{tmp_path / 'out'}:v1", "--src-tls-verify=false")
    assert pull.returncode != 0
    assert "authentication required" in pull.stderr or "unauthorized" in pull.stderr.lower(), \
        pull.stderr
    wrong = skopeo.copy(f"oci:{src}:v1", ref, "--dest-tls-verify=false",
                        "--dest-creds", "alice:wrong")
    assert wrong.returncode != 0
    assert "invalid username or password" in wrong.stderr, wrong.stderr


def test_skopeo_user_without_push_is_denied(token_server: HaregServer, skopeo: Skopeo,
                                            tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_image_layout(src, "v1", seed=7)
    ref = f"docker://{token_server.host}/team/bob-{uuid.uuid4().hex[:8]}:v1"
    push = skopeo.copy(f"oci:{src}:v1", ref, "--dest-tls-verify=false",
                       "--dest-creds", creds("bob"))
    assert push.returncode != 0
    assert "denied" in push.stderr.lower(), push.stderr


class _TimeoutAdapter(HTTPAdapter):
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = HTTP_TIMEOUT
        return super().send(request, **kwargs)


def oras_client(server: HaregServer, user: str, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> oras.provider.Registry:
    monkeypatch.setenv("HOME", str(tmp_path / "oras-home"))
    reg = oras.provider.Registry(hostname=server.host, insecure=True)
    reg.session.trust_env = False
    reg.session.mount("http://", _TimeoutAdapter())
    reg.login(username=user, password=USERS[user], hostname=server.host,
              config_path=str(tmp_path / "oras-home" / "config.json"))
    return reg


def test_oras_with_username_and_password(token_server: HaregServer, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"notes.txt": b"hello " + uuid.uuid4().hex.encode(), "data.bin": os.urandom(50_000)}
    (tmp_path / "in").mkdir()
    paths = []
    for file_name, content in files.items():
        path = tmp_path / "in" / file_name
        path.write_bytes(content)
        paths.append(f"{path}:application/octet-stream")
    repo = f"team/oras-{uuid.uuid4().hex[:8]}"
    target = f"{token_server.host}/{repo}:v1"
    alice = oras_client(token_server, "alice", tmp_path / "a", monkeypatch)
    resp = alice.push(target=target, files=paths, disable_path_validation=True, quiet=True)
    assert resp.status_code == 201, resp.text
    bob = oras_client(token_server, "bob", tmp_path / "b", monkeypatch)
    pulled = bob.pull(target=target, outdir=str(tmp_path / "out"))
    assert {Path(p).name: Path(p).read_bytes() for p in pulled} == files
    assert bob.get_tags(f"{token_server.host}/{repo}") == ["v1"]
