# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Building blocks for tests that talk to a registry over HTTP.

Content: random blobs with their digests, OCI and Docker manifests and indexes
as *exact bytes* (what is pushed is what a registry must hand back), and the
digests of those bytes.

Transport: small helpers on top of :class:`requests.Session` that push blobs
(monolithic or chunked) and manifests, resolve the relative ``Location``
headers a registry returns, and read the error codes of a spec error body.

Nothing here knows about hareg: the helpers speak the OCI distribution spec
and can be pointed at any registry.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

# --- media types -----------------------------------------------------------------------------

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#: The OCI "empty" blob (``{}``) used as the config of artifacts.
EMPTY_JSON = b"{}"

#: Media types of image manifests (configs + layers) and of indexes (child manifests).
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

OCTET_STREAM = "application/octet-stream"
MiB = 1024 * 1024

# --- digests and blobs -----------------------------------------------------------------------


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The OCI digest (``<algorithm>:<lowercase hex>``) of ``data``."""
    if algorithm not in ("sha256", "sha512"):
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def random_bytes(size: int) -> bytes:
    """``size`` random bytes (incompressible, unique per call)."""
    return os.urandom(size)


def fake_digest(algorithm: str = "sha256") -> str:
    """A well-formed digest of random content: guaranteed unknown to any registry."""
    return digest_of(os.urandom(32), algorithm)


class _ContentAddressed:
    """Digest and size of ``self.data``: what every blob and manifest is known by."""

    data: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    @property
    def sha512(self) -> str:
        return digest_of(self.data, "sha512")

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Blob(_ContentAddressed):
    """Some bytes and the descriptor fields derived from them."""

    data: bytes
    media_type: str = OCTET_STREAM

    def descriptor(self, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
        """An OCI descriptor for this blob; ``extra`` adds fields (``urls``, ``annotations``…)."""
        desc: dict[str, Any] = {
            "mediaType": media_type or self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        desc.update(extra)
        return desc


def random_blob(size: int = 1024, media_type: str = OCI_LAYER) -> Blob:
    """A blob of ``size`` random bytes."""
    return Blob(random_bytes(size), media_type)


def config_blob(media_type: str = OCI_CONFIG, **fields: Any) -> Blob:
    """A small, unique image config (JSON) blob."""
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": {"test.nonce": uuid.uuid4().hex}},
    }
    doc.update(fields)
    return Blob(json.dumps(doc, sort_keys=True).encode(), media_type)


def empty_config() -> Blob:
    """The OCI empty descriptor's blob (``{}``), as used by artifacts."""
    return Blob(EMPTY_JSON, OCI_EMPTY)


# --- manifests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest(_ContentAddressed):
    """A manifest (or index) as the exact bytes to push, plus its media type.

    ``blobs`` lists the blobs it references that must be pushed first (config and
    layers); ``children`` the manifests an index references.
    """

    data: bytes
    media_type: str
    blobs: tuple[Blob, ...] = ()
    children: tuple[Manifest, ...] = field(default=())

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        desc: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        desc.update(extra)
        return desc


def encode(doc: Mapping[str, Any]) -> bytes:
    """Deterministic compact JSON encoding used for every generated manifest."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()


def image_manifest(
    config: Blob | None = None,
    layers: Sequence[Blob] | None = None,
    *,
    media_type: str = OCI_MANIFEST,
    subject: Manifest | Mapping[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
    extra_layers: Sequence[Mapping[str, Any]] = (),
) -> Manifest:
    """An image manifest (OCI by default, Docker schema 2 with ``media_type=DOCKER_MANIFEST``).

    Without arguments: a fresh config and one random 512-byte layer. Media types of
    config and layers default to the family of ``media_type``. ``extra_layers`` are
    raw descriptors appended as they are (e.g. non-distributable layers with
    ``urls`` whose blobs are not pushed).
    """
    docker = media_type == DOCKER_MANIFEST
    if config is None:
        config = config_blob(DOCKER_CONFIG if docker else OCI_CONFIG)
    if layers is None:
        layers = [random_blob(512, DOCKER_LAYER if docker else OCI_LAYER)]
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    doc["config"] = config.descriptor()
    doc["layers"] = [layer.descriptor() for layer in layers] + [dict(d) for d in extra_layers]
    if subject is not None:
        doc["subject"] = subject.descriptor() if isinstance(subject, Manifest) else dict(subject)
    if annotations is not None:
        doc["annotations"] = dict(annotations)
    return Manifest(encode(doc), media_type, blobs=(config, *layers))


def image_index(
    manifests: Iterable[Manifest | Mapping[str, Any]],
    *,
    media_type: str = OCI_INDEX,
    subject: Manifest | Mapping[str, Any] | None = None,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """An OCI image index (or Docker manifest list) over ``manifests``.

    Entries that are :class:`Manifest` become descriptors with a linux/amd64
    platform and are remembered as ``children``; mappings are used as raw
    descriptors (to reference manifests that were never pushed).
    """
    children: list[Manifest] = []
    descs: list[dict[str, Any]] = []
    for m in manifests:
        if isinstance(m, Manifest):
            children.append(m)
            descs.append(m.descriptor(platform={"architecture": "amd64", "os": "linux"}))
        else:
            descs.append(dict(m))
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    doc["manifests"] = descs
    if subject is not None:
        doc["subject"] = subject.descriptor() if isinstance(subject, Manifest) else dict(subject)
    if annotations is not None:
        doc["annotations"] = dict(annotations)
    return Manifest(encode(doc), media_type, children=tuple(children))


def artifact_manifest(
    subject: Manifest | Mapping[str, Any] | None,
    *,
    artifact_type: str | None = "application/vnd.example.artifact.v1",
    config: Blob | None = None,
    annotations: Mapping[str, str] | None = None,
    layers: Sequence[Blob] | None = None,
) -> Manifest:
    """An OCI artifact (by default with the empty config) referring to ``subject``."""
    return image_manifest(
        config or empty_config(),
        layers if layers is not None else [random_blob(64, "application/vnd.example.data")],
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )


# --- HTTP helpers ----------------------------------------------------------------------------


class RegistryError(AssertionError):
    """A registry answered a helper's request with an unexpected status."""

    def __init__(self, what: str, response: requests.Response) -> None:
        body = response.content[:2000].decode("utf-8", "replace")
        super().__init__(
            f"{what}: {response.request.method} {response.url} -> {response.status_code}\n"
            f"headers: {dict(response.headers)}\nbody: {body}"
        )
        self.response = response


def new_session() -> requests.Session:
    """A session that ignores proxy environment variables and ``.netrc``."""
    session = requests.Session()
    session.trust_env = False
    return session


def resolve(base_url: str, location: str) -> str:
    """Resolve a (possibly relative) ``Location`` header against the registry's base URL."""
    return urljoin(base_url.rstrip("/") + "/", location)


def with_query(url: str, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended to whatever query string it already has."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    return urlunsplit(parts._replace(query=urlencode(query + items)))


def error_codes(response: requests.Response) -> list[str]:
    """The ``code`` of every error in a spec error body (``[]`` when the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [e.get("code") for e in body["errors"] if isinstance(e, dict)]


def start_upload(
    session: requests.Session,
    base_url: str,
    repo: str,
    params: Mapping[str, str] | None = None,
) -> str:
    """POST a new upload session; return its absolute URL."""
    resp = session.post(f"{base_url}/v2/{repo}/blobs/uploads/", params=params)
    if resp.status_code != 202:
        raise RegistryError("starting an upload", resp)
    return resolve(base_url, resp.headers["Location"])


def push_blob(
    session: requests.Session,
    base_url: str,
    repo: str,
    data: bytes | Blob,
    *,
    algorithm: str = "sha256",
) -> str:
    """Push ``data`` monolithically (POST then PUT ?digest=); return its digest.

    With ``algorithm="sha512"`` the upload is opened with ``?digest-algorithm=sha512``
    and completed with the sha512 digest.
    """
    raw = data.data if isinstance(data, Blob) else data
    digest = digest_of(raw, algorithm)
    params = {"digest-algorithm": algorithm} if algorithm != "sha256" else None
    url = start_upload(session, base_url, repo, params)
    resp = session.put(
        with_query(url, {"digest": digest}),
        data=raw,
        headers={"Content-Type": OCTET_STREAM},
    )
    if resp.status_code != 201:
        raise RegistryError(f"completing the upload of {digest}", resp)
    return digest


def push_blob_chunked(
    session: requests.Session,
    base_url: str,
    repo: str,
    data: bytes,
    chunk_size: int,
    *,
    final_chunk: bool = False,
) -> str:
    """Push ``data`` in PATCHes of ``chunk_size`` bytes (with Content-Range); return its digest.

    With ``final_chunk`` the last chunk travels in the body of the closing PUT.
    """
    digest = digest_of(data)
    url = start_upload(session, base_url, repo)
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]
    last = chunks.pop() if final_chunk else b""
    offset = 0
    for chunk in chunks:
        resp = session.patch(
            url,
            data=chunk,
            headers={
                "Content-Type": OCTET_STREAM,
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            },
        )
        if resp.status_code != 202:
            raise RegistryError(f"PATCH at offset {offset}", resp)
        offset += len(chunk)
        url = resolve(base_url, resp.headers["Location"])
    resp = session.put(
        with_query(url, {"digest": digest}), data=last, headers={"Content-Type": OCTET_STREAM}
    )
    if resp.status_code != 201:
        raise RegistryError(f"completing the chunked upload of {digest}", resp)
    return digest


def push_manifest(
    session: requests.Session,
    base_url: str,
    repo: str,
    reference: str,
    manifest: Manifest,
    *,
    params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
) -> requests.Response:
    """PUT ``manifest`` at ``reference`` (a tag or digest); return the 201 response."""
    url = f"{base_url}/v2/{repo}/manifests/{reference}"
    if params:
        url = with_query(url, params)
    resp = session.put(url, data=manifest.data, headers={"Content-Type": manifest.media_type})
    if resp.status_code != 201:
        raise RegistryError(f"pushing manifest {manifest.digest} as {reference}", resp)
    return resp


def push_image(
    session: requests.Session,
    base_url: str,
    repo: str,
    manifest: Manifest,
    reference: str | None = None,
) -> requests.Response:
    """Push ``manifest`` with everything it needs: its blobs, then (recursively) its children.

    ``reference`` defaults to the manifest's digest.
    """
    for blob in manifest.blobs:
        push_blob(session, base_url, repo, blob.data)
    for child in manifest.children:
        push_image(session, base_url, repo, child)
    return push_manifest(session, base_url, repo, reference or manifest.digest, manifest)


def get_all_pages(
    session: requests.Session,
    base_url: str,
    path: str,
    key: str,
    *,
    max_pages: int = 1000,
) -> tuple[list[str], list[requests.Response]]:
    """Follow ``Link: <...>; rel="next"`` headers from ``path`` until the end.

    Returns the concatenated ``key`` lists (``tags`` or ``repositories``) and every
    response. Bounded by ``max_pages``.
    """
    items: list[str] = []
    responses: list[requests.Response] = []
    url: str | None = resolve(base_url, path)
    for _ in range(max_pages):
        if url is None:
            return items, responses
        resp = session.get(url)
        if resp.status_code != 200:
            raise RegistryError(f"listing {key}", resp)
        responses.append(resp)
        items.extend(resp.json()[key] or [])
        link = next_link(resp)
        url = resolve(base_url, link) if link else None
    raise AssertionError(f"pagination of {path} did not end within {max_pages} pages")


def next_link(response: requests.Response) -> str | None:
    """The target of a ``rel="next"`` Link header, or None."""
    header = response.headers.get("Link")
    if not header:
        return None
    for part in header.split(","):
        target, _, params = part.strip().partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return target.strip().removeprefix("<").removesuffix(">")
    return None


def assert_error(
    response: requests.Response, status: int, *codes: str, head: bool = False
) -> dict[str, Any]:
    """Assert ``response`` is a spec error: ``status``, JSON content type, ``errors`` list.

    When ``codes`` are given, the first error's code must be one of them. With
    ``head`` (a HEAD request) only the status is checked. Returns the first error.
    """
    context = (
        f"{response.request.method} {response.url} -> {response.status_code} "
        f"{response.headers.get('Content-Type')!r}: {response.content[:500]!r}"
    )
    assert response.status_code == status, f"expected {status}: {context}"
    if head:
        return {}
    content_type = response.headers.get("Content-Type", "")
    assert content_type.split(";")[0].strip() == "application/json", context
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list), context
    assert body["errors"], context
    for error in body["errors"]:
        assert isinstance(error, dict), context
        assert isinstance(error.get("code"), str) and error["code"], context
        assert isinstance(error.get("message"), str), context
    first: dict[str, Any] = body["errors"][0]
    if codes:
        assert first["code"] in codes, f"expected code in {codes}: {context}"
    return first
