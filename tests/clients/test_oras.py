# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ORAS Python SDK (PyPI ``oras``) against hareg, on every storage driver.

Artifacts (files with their own media types, a custom config media type) go
in with ``Registry.push`` over plain HTTP and come back with ``Registry.pull``.
Referrers: the SDK's ``push(subject=...)`` sets ``subject`` but has no way to
set ``artifactType`` (the referrers API then reports the config media type);
a second referrer with an explicit ``artifactType`` is built by hand and sent
with the SDK's lower-level ``upload_blob`` / ``upload_manifest``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import oras.auth
import oras.oci
import oras.provider
import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.oci import new_session

pytestmark = pytest.mark.clients

HTTP_TIMEOUT = 30.0

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

BUNDLE_CONFIG_TYPE = "application/vnd.example.hareg.bundle.config.v1+json"
SBOM_CONFIG_TYPE = "application/vnd.example.hareg.sbom.v1+json"
SIGNATURE_TYPE = "application/vnd.example.hareg.signature.v1"


class RegistryServerError(oras.auth.AuthenticationException):
    """A 5xx from the registry.

    oras-py retries failed requests five times with sleeps of up to 81 s; an
    AuthenticationException is the one exception its retry decorator re-raises
    at once, so a server error fails the test immediately, with the answer.
    """


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request of the SDK's session a bounded timeout."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = HTTP_TIMEOUT
        return super().send(request, **kwargs)


def _fail_fast_on_5xx(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if response.status_code >= 500:
        raise RegistryServerError(
            f"{response.request.method} {response.url} -> {response.status_code}: "
            f"{response.text[:2000]}"
        )


@pytest.fixture
def client(
    registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> oras.provider.Registry:
    """An ORAS client for the test registry over plain HTTP, without host credentials."""
    monkeypatch.setenv("HOME", str(tmp_path / "oras-home"))  # no ~/.docker/config.json
    reg = oras.provider.Registry(hostname=registry.host, insecure=True)
    reg.session.trust_env = False  # no proxies from the environment
    reg.session.mount("http://", _TimeoutAdapter())
    reg.session.hooks["response"].append(_fail_fast_on_5xx)
    return reg


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """Plain HTTP for checks behind the SDK's back (no proxies from the environment)."""
    with new_session() as session:
        yield session


# -- helpers --------------------------------------------------------------------


def unique_repo(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def write_files(directory: Path, files: Mapping[str, bytes]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in files.items():
        path = directory / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def fetch_manifest(http: requests.Session, registry: Any, repo: str, ref: str) -> requests.Response:
    resp = http.get(
        f"{registry.url}/v2/{repo}/manifests/{ref}",
        headers={"Accept": f"{MT_MANIFEST}, {MT_INDEX}"},
        timeout=HTTP_TIMEOUT,
    )
    assert resp.status_code == 200, (ref, resp.status_code, resp.text)
    return resp


def subject_of(http: requests.Session, registry: Any, repo: str, ref: str) -> oras.oci.Subject:
    """The descriptor of manifest ``ref`` as the registry serves it."""
    resp = fetch_manifest(http, registry, repo, ref)
    assert (
        resp.headers["Docker-Content-Digest"]
        == "sha256:" + hashlib.sha256(resp.content).hexdigest()
    )
    return oras.oci.Subject(
        mediaType=resp.headers["Content-Type"],
        digest=resp.headers["Docker-Content-Digest"],
        size=len(resp.content),
    )


def get_referrers(
    http: requests.Session, registry: Any, repo: str, digest: str, artifact_type: str | None = None
) -> requests.Response:
    params = {"artifactType": artifact_type} if artifact_type else None
    resp = http.get(
        f"{registry.url}/v2/{repo}/referrers/{digest}", params=params, timeout=HTTP_TIMEOUT
    )
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].split(";")[0].strip() == MT_INDEX
    body = resp.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == MT_INDEX
    assert isinstance(body["manifests"], list)
    return resp


def by_digest(descriptors: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {d["digest"]: d for d in descriptors}
    assert len(out) == len(descriptors), f"duplicate descriptors: {descriptors}"
    return out


def push_signature(
    client: oras.provider.Registry,
    host: str,
    repo: str,
    subject: oras.oci.Subject,
    workdir: Path,
) -> tuple[str, bytes, requests.Response]:
    """A referrer with an explicit artifactType and the empty config, pushed by digest.

    ``Registry.push`` cannot set ``artifactType``, so this builds the manifest
    and uses the SDK's lower-level upload_blob / upload_manifest.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    sig_path, empty_path = workdir / "signature.bin", workdir / "empty.json"
    sig_path.write_bytes(b"not really a signature: " + secrets.token_bytes(32))
    empty_path.write_bytes(b"{}")
    container = client.get_container(f"{host}/{repo}")
    layer = oras.oci.NewLayer(str(sig_path), media_type="application/octet-stream")
    layer["annotations"] = {"org.opencontainers.image.title": "signature.bin"}
    config = {"mediaType": MT_EMPTY, "digest": EMPTY_DIGEST, "size": 2}
    for path, desc in ((sig_path, layer), (empty_path, config)):
        resp = client.upload_blob(str(path), container, desc)
        assert resp.status_code in (200, 201), (resp.status_code, resp.text)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "artifactType": SIGNATURE_TYPE,
        "config": config,
        "layers": [layer],
        "subject": {"mediaType": subject.mediaType, "digest": subject.digest, "size": subject.size},
        "annotations": {"org.example.hareg.signed-by": "test_oras"},
    }
    # upload_manifest sends json=manifest: requests serializes it with json.dumps.
    body = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    resp = client.upload_manifest(manifest, client.get_container(f"{host}/{repo}@{digest}"))
    assert resp.status_code == 201, (resp.status_code, resp.text)
    assert resp.headers["Docker-Content-Digest"] == digest
    return digest, body, resp


# -- tests ----------------------------------------------------------------------


def test_push_and_pull_artifact(
    client: oras.provider.Registry, registry: Any, http: requests.Session, tmp_path: Path
) -> None:
    files = {
        "README.md": b"# hareg artifact\n" + secrets.token_hex(64).encode(),
        "data.json": json.dumps({"nonce": secrets.token_hex(16)}).encode(),
        "blob.bin": secrets.token_bytes(70_000),
    }
    media_types = {
        "README.md": "text/markdown",
        "data.json": "application/vnd.example.hareg.data.v1+json",
        "blob.bin": "application/vnd.example.hareg.blob.v1",
    }
    paths = write_files(tmp_path / "in", files)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"purpose": "hareg client test"}))
    repo = unique_repo("clients/oras")
    target = f"{registry.host}/{repo}:v1"

    resp = client.push(
        target=target,
        files=[f"{p}:{media_types[p.name]}" for p in paths],
        manifest_config=f"{config}:{BUNDLE_CONFIG_TYPE}",
        manifest_annotations={"org.opencontainers.image.description": "hareg oras test"},
        disable_path_validation=True,
        quiet=True,
    )
    assert resp.status_code == 201, (resp.status_code, resp.text)
    assert resp.headers["Location"].endswith(
        f"/v2/{repo}/manifests/{resp.headers['Docker-Content-Digest']}"
    )

    manifest = client.get_manifest(target)
    assert manifest["mediaType"] == MT_MANIFEST
    assert manifest["config"]["mediaType"] == BUNDLE_CONFIG_TYPE
    assert manifest["annotations"] == {"org.opencontainers.image.description": "hareg oras test"}
    layers = {
        layer["annotations"]["org.opencontainers.image.title"]: layer
        for layer in manifest["layers"]
    }
    assert {name: layer["mediaType"] for name, layer in layers.items()} == media_types
    for name, layer in layers.items():
        assert layer["digest"] == "sha256:" + hashlib.sha256(files[name]).hexdigest()
        assert layer["size"] == len(files[name])
    config_blob = client.get_blob(target, manifest["config"]["digest"])
    assert config_blob.status_code == 200
    assert config_blob.content == config.read_bytes()

    pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
    assert sorted(Path(p).name for p in pulled) == sorted(files)
    for path in pulled:
        assert Path(path).read_bytes() == files[Path(path).name]

    assert client.get_tags(f"{registry.host}/{repo}") == ["v1"]


def test_chunked_push(
    client: oras.provider.Registry, registry: Any, http: requests.Session, tmp_path: Path
) -> None:
    """The SDK's chunked upload: POST, PATCH with Content-Range per chunk, PUT."""
    content = secrets.token_bytes(5 * 65_536 + 123)
    (path,) = write_files(tmp_path / "in", {"chunked.bin": content})
    repo = unique_repo("clients/oras-chunked")
    target = f"{registry.host}/{repo}:v1"
    resp = client.push(
        target=target,
        files=[str(path)],
        disable_path_validation=True,
        do_chunked=True,
        chunk_size=65_536,
        quiet=True,
    )
    assert resp.status_code == 201, (resp.status_code, resp.text)
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    head = http.head(f"{registry.url}/v2/{repo}/blobs/{digest}", timeout=HTTP_TIMEOUT)
    assert head.status_code == 200, head.status_code
    assert head.headers["Docker-Content-Digest"] == digest
    assert int(head.headers["Content-Length"]) == len(content)
    pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
    assert [Path(p).read_bytes() for p in pulled] == [content]


def test_referrers_of_an_artifact(
    client: oras.provider.Registry, registry: Any, http: requests.Session, tmp_path: Path
) -> None:
    repo = unique_repo("clients/oras-referrers")
    (artifact,) = write_files(tmp_path / "artifact", {"app.tar": secrets.token_bytes(4096)})
    resp = client.push(
        target=f"{registry.host}/{repo}:v1",
        files=[str(artifact)],
        manifest_config=f"{tmp_path / 'no-config'}:{BUNDLE_CONFIG_TYPE}",
        disable_path_validation=True,
        quiet=True,
    )
    assert resp.status_code == 201, resp.text
    subject = subject_of(http, registry, repo, "v1")
    assert subject.digest == resp.headers["Docker-Content-Digest"]
    assert get_referrers(http, registry, repo, subject.digest).json()["manifests"] == []

    # Referrer 1: an SBOM pushed with the SDK's push(subject=...). No
    # artifactType in the manifest, so the registry reports the config's type.
    (sbom,) = write_files(
        tmp_path / "sbom",
        {"sbom.spdx.json": json.dumps({"spdxVersion": "SPDX-2.3", "name": repo}).encode()},
    )
    sbom_config = tmp_path / "sbom-config.json"
    sbom_config.write_text(json.dumps({"generator": "test_oras"}))
    sbom_resp = client.push(
        target=f"{registry.host}/{repo}:sbom",
        files=[f"{sbom}:application/spdx+json"],
        manifest_config=f"{sbom_config}:{SBOM_CONFIG_TYPE}",
        manifest_annotations={"org.example.hareg.kind": "sbom"},
        subject=subject,
        disable_path_validation=True,
        quiet=True,
    )
    assert sbom_resp.status_code == 201, sbom_resp.text
    assert sbom_resp.headers.get("OCI-Subject") == subject.digest
    sbom_digest = sbom_resp.headers["Docker-Content-Digest"]
    sbom_manifest = fetch_manifest(http, registry, repo, sbom_digest)
    assert sbom_manifest.json()["subject"]["digest"] == subject.digest
    assert "artifactType" not in sbom_manifest.json()

    # Referrer 2: explicit artifactType, empty config, pushed by digest only.
    sig_digest, sig_body, sig_resp = push_signature(
        client, registry.host, repo, subject, tmp_path / "sig"
    )
    assert sig_resp.headers.get("OCI-Subject") == subject.digest
    assert fetch_manifest(http, registry, repo, sig_digest).content == sig_body

    listed = by_digest(get_referrers(http, registry, repo, subject.digest).json()["manifests"])
    assert set(listed) == {sbom_digest, sig_digest}
    expected = {
        sbom_digest: (
            len(sbom_manifest.content),
            SBOM_CONFIG_TYPE,
            {"org.example.hareg.kind": "sbom"},
        ),
        sig_digest: (len(sig_body), SIGNATURE_TYPE, {"org.example.hareg.signed-by": "test_oras"}),
    }
    for digest, (size, artifact_type, annots) in expected.items():
        desc = listed[digest]
        assert desc["mediaType"] == MT_MANIFEST, desc
        assert desc["size"] == size, desc
        assert desc["artifactType"] == artifact_type, desc
        assert desc.get("annotations") == annots, desc

    for artifact_type, digest in ((SBOM_CONFIG_TYPE, sbom_digest), (SIGNATURE_TYPE, sig_digest)):
        filtered = get_referrers(http, registry, repo, subject.digest, artifact_type)
        assert filtered.headers.get("OCI-Filters-Applied") == "artifactType"
        assert [d["digest"] for d in filtered.json()["manifests"]] == [digest]
    none = get_referrers(http, registry, repo, subject.digest, "application/vnd.example.nothing")
    assert none.headers.get("OCI-Filters-Applied") == "artifactType"
    assert none.json()["manifests"] == []

    # The referrers are not referrers of each other.
    assert get_referrers(http, registry, repo, sbom_digest).json()["manifests"] == []

    # Deleting a referrer drops it from the list.
    deleted = http.delete(f"{registry.url}/v2/{repo}/manifests/{sig_digest}", timeout=HTTP_TIMEOUT)
    assert deleted.status_code == 202, deleted.text
    after = get_referrers(http, registry, repo, subject.digest).json()["manifests"]
    assert [d["digest"] for d in after] == [sbom_digest]


def test_referrer_of_a_subject_that_was_never_pushed(
    client: oras.provider.Registry, registry: Any, http: requests.Session, tmp_path: Path
) -> None:
    repo = unique_repo("clients/oras-dangling")
    missing = b'{"never":"pushed"}'
    subject = oras.oci.Subject(
        mediaType=MT_MANIFEST,
        digest="sha256:" + hashlib.sha256(missing + secrets.token_bytes(8)).hexdigest(),
        size=len(missing),
    )
    sig_digest, _, resp = push_signature(client, registry.host, repo, subject, tmp_path)
    assert resp.headers.get("OCI-Subject") == subject.digest
    listed = get_referrers(http, registry, repo, subject.digest).json()["manifests"]
    assert [(d["digest"], d["artifactType"]) for d in listed] == [(sig_digest, SIGNATURE_TYPE)]
