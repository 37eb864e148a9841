# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-3, end-7, end-7b, end-9: pushing, pulling and deleting manifests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from tests.fixtures.server import HaregServer
from tests.oci import (
    DOCKER_FOREIGN_LAYER,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_NONDISTRIBUTABLE,
    OCI_MANIFEST,
    Manifest,
    assert_error,
    config_blob,
    digest_of,
    fake_digest,
    image_index,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
    random_blob,
    resolve,
)

MAX_MANIFEST_SIZE = 4 * 1024 * 1024


def _murl(registry: HaregServer, repo: str, reference: str) -> str:
    return f"{registry.url}/v2/{repo}/manifests/{reference}"


def _put_raw(
    session: requests.Session,
    registry: HaregServer,
    repo: str,
    reference: str,
    data: bytes,
    media_type: str,
) -> requests.Response:
    return session.put(
        _murl(registry, repo, reference), data=data, headers={"Content-Type": media_type}
    )


def _push_blobs(session: requests.Session, registry: HaregServer, repo: str, m: Manifest) -> None:
    for blob in m.blobs:
        push_blob(session, registry.url, repo, blob.data)


def _assert_pulls(
    session: requests.Session, registry: HaregServer, repo: str, reference: str, m: Manifest
) -> None:
    """GET and HEAD by ``reference`` hand back ``m`` byte for byte with the right headers."""
    resp = session.get(_murl(registry, repo, reference), headers={"Accept": m.media_type})
    assert resp.status_code == 200, resp.text[:500]
    assert resp.content == m.data
    assert resp.headers["Content-Type"] == m.media_type
    assert resp.headers["Docker-Content-Digest"] == m.digest
    assert resp.headers["Content-Length"] == str(m.size)
    resp = session.head(_murl(registry, repo, reference))
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["Content-Type"] == m.media_type
    assert resp.headers["Docker-Content-Digest"] == m.digest
    assert resp.headers["Content-Length"] == str(m.size)


def _assert_created(resp: requests.Response, repo: str, digest: str) -> None:
    assert resp.status_code == 201, resp.text[:500]
    location = resp.headers["Location"]
    assert not urlsplit(location).netloc, f"Location is not relative: {location}"
    assert urlsplit(location).path == f"/v2/{repo}/manifests/{digest}"
    assert resp.headers["Docker-Content-Digest"] == digest


def _docker_image() -> Manifest:
    return image_manifest(media_type=DOCKER_MANIFEST)


# --- pushing and pulling each type ------------------------------------------------------------


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_oci_image_manifest(
    registry: HaregServer, session: requests.Session, repo: str, by: str
):
    m = image_manifest(layers=[random_blob(100), random_blob(2000)])
    _push_blobs(session, registry, repo, m)
    reference = "v1.0" if by == "tag" else m.digest
    resp = push_manifest(session, registry.url, repo, reference, m)
    _assert_created(resp, repo, m.digest)
    assert "OCI-Subject" not in resp.headers
    _assert_pulls(session, registry, repo, reference, m)
    _assert_pulls(session, registry, repo, m.digest, m)


def test_docker_schema2_manifest(registry: HaregServer, session: requests.Session, repo: str):
    m = _docker_image()
    _push_blobs(session, registry, repo, m)
    resp = push_manifest(session, registry.url, repo, "latest", m)
    _assert_created(resp, repo, m.digest)
    _assert_pulls(session, registry, repo, "latest", m)
    _assert_pulls(session, registry, repo, m.digest, m)


@pytest.mark.parametrize(
    ("index_type", "child_type"),
    [(OCI_INDEX, OCI_MANIFEST), (DOCKER_MANIFEST_LIST, DOCKER_MANIFEST), (OCI_INDEX, None)],
    ids=["oci-index", "docker-list", "oci-index-mixed"],
)
def test_index(
    registry: HaregServer,
    session: requests.Session,
    repo: str,
    index_type: str,
    child_type: str | None,
):
    if child_type is None:  # an OCI index over one OCI and one Docker manifest
        children = [image_manifest(), _docker_image()]
    else:
        children = [image_manifest(media_type=child_type) for _ in range(2)]
    for child in children:
        push_image(session, registry.url, repo, child)
    index = image_index(children, media_type=index_type)
    resp = push_manifest(session, registry.url, repo, "multi", index)
    _assert_created(resp, repo, index.digest)
    _assert_pulls(session, registry, repo, "multi", index)
    _assert_pulls(session, registry, repo, index.digest, index)
    for child in children:
        _assert_pulls(session, registry, repo, child.digest, child)


def test_nested_index(registry: HaregServer, session: requests.Session, repo: str):
    inner = image_index([image_manifest()])
    outer = image_index([inner])
    push_image(session, registry.url, repo, outer, "nested")
    _assert_pulls(session, registry, repo, "nested", outer)


def test_bytes_kept_exactly(registry: HaregServer, session: requests.Session, repo: str):
    """Odd whitespace, key order, escapes and a trailing newline survive: digest = sha256(bytes)."""
    config, layer = config_blob(), random_blob(300)
    for blob in (config, layer):
        push_blob(session, registry.url, repo, blob.data)
    text = (
        '{\r\n\t"layers" :[ {"size":LSIZE,  "digest":"LDIGEST",\n"mediaType":"LTYPE"}\t],\n'
        '  "annotations": {"note": "caf\\u00e9 \u00e9t\u00e9 \\"quoted\\" \\/slash"},\n'
        '"config":{"mediaType":"CTYPE","size":CSIZE,"digest":"CDIGEST"},'
        '   "mediaType":"MTYPE",\n\n "schemaVersion":   2   }\n\n'
    )
    for placeholder, value in {
        "LSIZE": str(layer.size), "LDIGEST": layer.digest, "LTYPE": OCI_LAYER,
        "CSIZE": str(config.size), "CDIGEST": config.digest, "CTYPE": OCI_CONFIG,
        "MTYPE": OCI_MANIFEST,
    }.items():  # fmt: skip
        text = text.replace(placeholder, value)
    data = text.encode("utf-8")
    json.loads(data)  # still valid JSON
    m = Manifest(data, OCI_MANIFEST)
    resp = push_manifest(session, registry.url, repo, "odd", m)
    _assert_created(resp, repo, digest_of(data))
    _assert_pulls(session, registry, repo, "odd", m)
    _assert_pulls(session, registry, repo, m.digest, m)


def test_push_same_manifest_twice(registry: HaregServer, session: requests.Session, repo: str):
    m = image_manifest()
    push_image(session, registry.url, repo, m, "a")
    resp = push_manifest(session, registry.url, repo, "a", m)
    _assert_created(resp, repo, m.digest)
    resp = push_manifest(session, registry.url, repo, m.digest, m)
    _assert_created(resp, repo, m.digest)
    _assert_pulls(session, registry, repo, "a", m)


def test_tag_moves_to_new_manifest(registry: HaregServer, session: requests.Session, repo: str):
    first, second = image_manifest(), image_manifest()
    push_image(session, registry.url, repo, first, "latest")
    push_image(session, registry.url, repo, second, "latest")
    _assert_pulls(session, registry, repo, "latest", second)
    _assert_pulls(session, registry, repo, first.digest, first)


def test_same_manifest_in_two_repositories(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str
):
    m = image_manifest()
    push_image(session, registry.url, repo, m, "x")
    resp = session.get(_murl(registry, other_repo, m.digest))
    assert_error(resp, 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN")
    push_image(session, registry.url, other_repo, m, "y")
    _assert_pulls(session, registry, other_repo, "y", m)


# --- unknown manifests ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_unknown_manifest(
    registry: HaregServer, session: requests.Session, repo: str, method: str
):
    push_image(session, registry.url, repo, image_manifest(), "exists")
    head = method == "HEAD"
    for reference in ("nope", fake_digest()):
        resp = session.request(method, _murl(registry, repo, reference))
        assert_error(resp, 404, "MANIFEST_UNKNOWN", head=head)


def test_unknown_repository(registry: HaregServer, session: requests.Session, repo: str):
    for reference in ("latest", fake_digest()):
        resp = session.get(_murl(registry, repo, reference))
        assert_error(resp, 404, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")


# --- missing references -----------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["config", "layer", "both"])
@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST], ids=["oci", "docker"])
def test_manifest_blob_unknown(
    registry: HaregServer, session: requests.Session, repo: str, missing: str, media_type: str
):
    m = image_manifest(media_type=media_type)
    config, layer = m.blobs
    if missing == "layer":
        push_blob(session, registry.url, repo, config.data)
    elif missing == "config":
        push_blob(session, registry.url, repo, layer.data)
    else:
        push_blob(session, registry.url, repo, b"repository exists")
    resp = _put_raw(session, registry, repo, "t", m.data, m.media_type)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
    assert_error(session.get(_murl(registry, repo, m.digest)), 404, "MANIFEST_UNKNOWN")
    assert_error(session.get(_murl(registry, repo, "t")), 404, "MANIFEST_UNKNOWN")


def test_blob_in_other_repository_is_unknown(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str
):
    m = image_manifest()
    _push_blobs(session, registry, other_repo, m)
    push_blob(session, registry.url, repo, b"repository exists")
    resp = _put_raw(session, registry, repo, "t", m.data, m.media_type)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize("index_type", [OCI_INDEX, DOCKER_MANIFEST_LIST], ids=["oci", "docker"])
def test_index_with_unknown_child(
    registry: HaregServer, session: requests.Session, repo: str, index_type: str
):
    child_type = OCI_MANIFEST if index_type == OCI_INDEX else DOCKER_MANIFEST
    known = image_manifest(media_type=child_type)
    unknown = image_manifest(media_type=child_type)
    push_image(session, registry.url, repo, known)
    _push_blobs(session, registry, repo, unknown)  # its blobs are there, the manifest is not
    index = image_index([known, unknown], media_type=index_type)
    resp = _put_raw(session, registry, repo, "idx", index.data, index.media_type)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
    assert_error(session.get(_murl(registry, repo, index.digest)), 404, "MANIFEST_UNKNOWN")


def test_index_child_in_other_repository_is_unknown(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str
):
    child = image_manifest()
    push_image(session, registry.url, other_repo, child)
    push_blob(session, registry.url, repo, b"repository exists")
    index = image_index([child])
    resp = _put_raw(session, registry, repo, "idx", index.data, index.media_type)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")


def test_sparse_index(hareg_server: Callable[..., HaregServer], session: requests.Session):
    server = hareg_server(sparse_indexes=True, workers=1)
    repo = "sparse/repo"
    known = image_manifest()
    push_image(session, server.url, repo, known)
    never_pushed = image_manifest()
    index = image_index([known, never_pushed])
    resp = push_manifest(session, server.url, repo, "sparse", index)
    _assert_created(resp, repo, index.digest)
    _assert_pulls(session, server, repo, "sparse", index)
    # an image manifest still needs its blobs with sparse indexes on
    m = image_manifest()
    resp = _put_raw(session, server, repo, "img", m.data, m.media_type)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")


def test_non_distributable_layer_with_urls(
    registry: HaregServer, session: requests.Session, repo: str
):
    foreign = random_blob(50)
    m = image_manifest(
        extra_layers=[
            foreign.descriptor(
                OCI_LAYER_NONDISTRIBUTABLE, urls=["https://example.com/layer.tar.gz"]
            )
        ]
    )
    _push_blobs(session, registry, repo, m)  # config and the normal layer only
    resp = push_manifest(session, registry.url, repo, "nondist", m)
    _assert_created(resp, repo, m.digest)
    _assert_pulls(session, registry, repo, "nondist", m)


def test_docker_foreign_layer_with_urls(
    registry: HaregServer, session: requests.Session, repo: str
):
    foreign = random_blob(50)
    m = image_manifest(
        media_type=DOCKER_MANIFEST,
        extra_layers=[
            foreign.descriptor(DOCKER_FOREIGN_LAYER, urls=["https://example.com/win.tar.gz"])
        ],
    )
    _push_blobs(session, registry, repo, m)
    resp = push_manifest(session, registry.url, repo, "foreign", m)
    _assert_created(resp, repo, m.digest)


def test_layer_without_urls_still_needs_its_blob(
    registry: HaregServer, session: requests.Session, repo: str
):
    """A non-distributable media type alone (without urls) does not excuse a missing blob."""
    m = image_manifest(extra_layers=[random_blob(50).descriptor(OCI_LAYER_NONDISTRIBUTABLE)])
    _push_blobs(session, registry, repo, m)
    resp = _put_raw(session, registry, repo, "t", m.data, m.media_type)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")


# --- subject ----------------------------------------------------------------------------------


@pytest.mark.parametrize("subject_pushed", [True, False], ids=["present", "absent"])
def test_subject_header(
    registry: HaregServer, session: requests.Session, repo: str, subject_pushed: bool
):
    subject = image_manifest()
    if subject_pushed:
        push_image(session, registry.url, repo, subject, "base")
    m = image_manifest(subject=subject, artifact_type="application/vnd.example.sig")
    _push_blobs(session, registry, repo, m)
    resp = push_manifest(session, registry.url, repo, m.digest, m)
    _assert_created(resp, repo, m.digest)
    assert resp.headers.get("OCI-Subject") == subject.digest
    _assert_pulls(session, registry, repo, m.digest, m)


def test_index_with_subject_header(registry: HaregServer, session: requests.Session, repo: str):
    subject = image_manifest()
    child = image_manifest()
    push_image(session, registry.url, repo, child)
    index = image_index([child], subject=subject, artifact_type="application/vnd.example.idx")
    resp = push_manifest(session, registry.url, repo, index.digest, index)
    _assert_created(resp, repo, index.digest)
    assert resp.headers.get("OCI-Subject") == subject.digest


# --- invalid manifests ------------------------------------------------------------------------


def _invalid_bodies() -> dict[str, tuple[bytes, str]]:
    valid = image_manifest().json
    no_config = {k: v for k, v in valid.items() if k != "config"}
    return {
        "not-json": (b"{this is not json", OCI_MANIFEST),
        "empty-body": (b"", OCI_MANIFEST),
        "json-array": (b"[1, 2, 3]", OCI_MANIFEST),
        "schema-version-1": (json.dumps({**valid, "schemaVersion": 1}).encode(), OCI_MANIFEST),
        "no-config": (json.dumps(no_config).encode(), OCI_MANIFEST),
        "layers-not-list": (json.dumps({**valid, "layers": "x"}).encode(), OCI_MANIFEST),
        "bad-layer-digest": (
            json.dumps(
                {**valid, "layers": [{"mediaType": OCI_LAYER, "digest": "sha256:xyz", "size": 1}]}
            ).encode(),
            OCI_MANIFEST,
        ),
        "negative-size": (
            json.dumps(
                {**valid, "config": {**valid["config"], "size": -1}}
            ).encode(),
            OCI_MANIFEST,
        ),
        "index-without-manifests": (
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX}).encode(),
            OCI_INDEX,
        ),
        "body-type-differs-from-content-type": (json.dumps(valid).encode(), OCI_INDEX),
        "docker-content-type-oci-body": (json.dumps(valid).encode(), DOCKER_MANIFEST),
        "unsupported-content-type": (json.dumps(valid).encode(), "text/plain"),
        "schema1-content-type": (
            json.dumps(valid).encode(),
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
        ),
    }


@pytest.mark.parametrize("case", list(_invalid_bodies()))
def test_invalid_manifest(registry: HaregServer, session: requests.Session, repo: str, case: str):
    data, media_type = _invalid_bodies()[case]
    # make the blobs of the valid base manifest known, so only the defect is wrong
    for blob in image_manifest().blobs:
        push_blob(session, registry.url, repo, blob.data)
    resp = _put_raw(session, registry, repo, "bad", data, media_type)
    if case == "bad-layer-digest":  # the spec allows DIGEST_INVALID for a bad layer digest
        assert_error(resp, 400, "MANIFEST_INVALID", "DIGEST_INVALID")
    else:
        assert_error(resp, 400, "MANIFEST_INVALID")
    assert_error(session.get(_murl(registry, repo, "bad")), 404, "MANIFEST_UNKNOWN")


def test_invalid_manifest_with_its_blobs_present(
    registry: HaregServer, session: requests.Session, repo: str
):
    """Content-Type / mediaType mismatch on an otherwise pushable manifest."""
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = _put_raw(session, registry, repo, "t", m.data, DOCKER_MANIFEST)
    assert_error(resp, 400, "MANIFEST_INVALID")
    resp = _put_raw(session, registry, repo, "t", m.data, OCI_INDEX)
    assert_error(resp, 400, "MANIFEST_INVALID")


@pytest.mark.parametrize(
    "tag", ["-dash-first", ".dot-first", "a" * 129, "has:colon", "sp ace", "ümlaut", "a+b"]
)
def test_invalid_tag(
    registry: HaregServer, session: requests.Session, repo: str, tag: str
):
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = _put_raw(session, registry, repo, tag, m.data, m.media_type)
    if tag != "has:colon":
        assert_error(resp, 400, "MANIFEST_INVALID")
    else:  # a colon makes it a (malformed) digest: DIGEST_INVALID is fair too
        assert_error(resp, 400, "MANIFEST_INVALID", "DIGEST_INVALID")


def test_tag_with_trailing_newline_in_path(
    registry: HaregServer, session: requests.Session, repo: str
):
    """``$`` in a regular expression matches before a final newline; the tag check must not."""
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = _put_raw(session, registry, repo, "x%0A", m.data, m.media_type)
    assert_error(resp, 400, "MANIFEST_INVALID")
    assert_error(session.get(_murl(registry, repo, m.digest)), 404, "MANIFEST_UNKNOWN")


def test_put_by_digest_with_tag_ending_in_newline(
    registry: HaregServer, session: requests.Session, repo: str
):
    """``?tag=x%0A`` is refused before anything is stored (it used to fail with 500 after
    the storage links were written)."""
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = session.put(
        _murl(registry, repo, m.digest),
        params=[("tag", "good"), ("tag", "x\n")],
        data=m.data,
        headers={"Content-Type": m.media_type},
    )
    assert_error(resp, 400, "MANIFEST_INVALID")
    assert_error(session.get(_murl(registry, repo, m.digest)), 404, "MANIFEST_UNKNOWN")
    assert_error(session.get(_murl(registry, repo, "good")), 404, "MANIFEST_UNKNOWN")
    assert_error(session.get(_murl(registry, repo, "x")), 404, "MANIFEST_UNKNOWN")


def test_put_by_digest_ending_in_newline(
    registry: HaregServer, session: requests.Session, repo: str
):
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = _put_raw(session, registry, repo, f"{m.digest}%0A", m.data, m.media_type)
    assert_error(resp, 400, "DIGEST_INVALID")
    assert_error(session.get(_murl(registry, repo, m.digest)), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("tag", ["a" * 128, "_underscore-first", "A.b-C_d", "0", "latest"])
def test_valid_tag_edges(registry: HaregServer, session: requests.Session, repo: str, tag: str):
    m = image_manifest()
    push_image(session, registry.url, repo, m, tag)
    _assert_pulls(session, registry, repo, tag, m)


# --- size limit -------------------------------------------------------------------------------


def _manifest_of_size(session, registry, repo, size: int) -> Manifest:
    """An image manifest padded (in an annotation) to exactly ``size`` bytes."""
    base = image_manifest(annotations={"pad": ""})
    _push_blobs(session, registry, repo, base)
    doc = base.json
    overhead = len(base.data)
    doc["annotations"]["pad"] = "x" * (size - overhead)
    data = json.dumps(doc, separators=(",", ":")).encode()
    assert len(data) == size
    return Manifest(data, OCI_MANIFEST)


def test_manifest_too_large(registry: HaregServer, session: requests.Session, repo: str):
    m = _manifest_of_size(session, registry, repo, MAX_MANIFEST_SIZE + 1)
    resp = _put_raw(session, registry, repo, "big", m.data, m.media_type)
    assert_error(resp, 413)
    assert_error(session.get(_murl(registry, repo, "big")), 404, "MANIFEST_UNKNOWN")


def test_manifest_at_size_limit(registry: HaregServer, session: requests.Session, repo: str):
    m = _manifest_of_size(session, registry, repo, MAX_MANIFEST_SIZE)
    resp = _put_raw(session, registry, repo, "limit", m.data, m.media_type)
    _assert_created(resp, repo, m.digest)
    _assert_pulls(session, registry, repo, "limit", m)


# --- digests ----------------------------------------------------------------------------------


def test_put_by_wrong_digest(registry: HaregServer, session: requests.Session, repo: str):
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    for wrong in (fake_digest(), digest_of(m.data + b" ")):
        resp = _put_raw(session, registry, repo, wrong, m.data, m.media_type)
        assert_error(resp, 400, "DIGEST_INVALID")
        assert_error(session.get(_murl(registry, repo, wrong)), 404, "MANIFEST_UNKNOWN")


def test_put_by_sha512_digest(registry: HaregServer, session: requests.Session, repo: str):
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = _put_raw(session, registry, repo, m.sha512, m.data, m.media_type)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Docker-Content-Digest"] == m.sha512
    assert urlsplit(resp.headers["Location"]).path == f"/v2/{repo}/manifests/{m.sha512}"
    resp = session.get(_murl(registry, repo, m.sha512))
    assert resp.status_code == 200, resp.text
    assert resp.content == m.data
    assert resp.headers["Docker-Content-Digest"] == m.sha512


def test_put_by_wrong_sha512_digest(registry: HaregServer, session: requests.Session, repo: str):
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    wrong = digest_of(m.data + b"\n", "sha512")
    resp = _put_raw(session, registry, repo, wrong, m.data, m.media_type)
    assert_error(resp, 400, "DIGEST_INVALID")


def test_sha512_blobs_in_manifest(registry: HaregServer, session: requests.Session, repo: str):
    config, layer = config_blob(), random_blob(700)
    push_blob(session, registry.url, repo, config.data, algorithm="sha512")
    push_blob(session, registry.url, repo, layer.data, algorithm="sha512")
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.sha512, "size": config.size},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer.sha512, "size": layer.size}],
    }
    m = Manifest(json.dumps(doc).encode(), OCI_MANIFEST)
    resp = push_manifest(session, registry.url, repo, "sha512-blobs", m)
    _assert_created(resp, repo, m.digest)
    _assert_pulls(session, registry, repo, "sha512-blobs", m)


# --- end-7b: PUT by digest with ?tag= ---------------------------------------------------------


def _oci_tags(resp: requests.Response) -> list[str]:
    return [t.strip() for t in resp.headers.get("OCI-Tag", "").split(",") if t.strip()]


def test_put_by_digest_with_tags(registry: HaregServer, session: requests.Session, repo: str):
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = push_manifest(
        session, registry.url, repo, m.digest, m, params=[("tag", "a"), ("tag", "b-2")]
    )
    _assert_created(resp, repo, m.digest)
    assert sorted(_oci_tags(resp)) == ["a", "b-2"]
    for tag in ("a", "b-2"):
        _assert_pulls(session, registry, repo, tag, m)
    tags = session.get(f"{registry.url}/v2/{repo}/tags/list").json()["tags"]
    assert tags == ["a", "b-2"]


def test_put_by_digest_with_one_tag(registry: HaregServer, session: requests.Session, repo: str):
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = push_manifest(session, registry.url, repo, m.digest, m, params={"tag": "only"})
    _assert_created(resp, repo, m.digest)
    assert _oci_tags(resp) == ["only"]
    _assert_pulls(session, registry, repo, "only", m)


def test_put_by_digest_with_invalid_tag(
    registry: HaregServer, session: requests.Session, repo: str
):
    m = image_manifest()
    _push_blobs(session, registry, repo, m)
    resp = session.put(
        _murl(registry, repo, m.digest),
        params=[("tag", "good"), ("tag", "-bad")],
        data=m.data,
        headers={"Content-Type": m.media_type},
    )
    assert_error(resp, 400, "MANIFEST_INVALID")
    # all or nothing: the valid tag was not applied either
    assert_error(session.get(_murl(registry, repo, "good")), 404, "MANIFEST_UNKNOWN")


# --- end-9: deletion --------------------------------------------------------------------------


def test_delete_by_tag_removes_only_the_tag(
    registry: HaregServer, session: requests.Session, repo: str
):
    m = image_manifest()
    push_image(session, registry.url, repo, m, "one")
    push_manifest(session, registry.url, repo, "two", m)
    resp = session.delete(_murl(registry, repo, "one"))
    assert resp.status_code == 202, resp.text
    assert_error(session.get(_murl(registry, repo, "one")), 404, "MANIFEST_UNKNOWN")
    _assert_pulls(session, registry, repo, m.digest, m)
    _assert_pulls(session, registry, repo, "two", m)
    assert session.get(f"{registry.url}/v2/{repo}/tags/list").json()["tags"] == ["two"]


def test_delete_by_digest_removes_its_tags(
    registry: HaregServer, session: requests.Session, repo: str
):
    m, keep = image_manifest(), image_manifest()
    push_image(session, registry.url, repo, m, "one")
    push_manifest(session, registry.url, repo, "two", m)
    push_image(session, registry.url, repo, keep, "keep")
    resp = session.delete(_murl(registry, repo, m.digest))
    assert resp.status_code == 202, resp.text
    for reference in (m.digest, "one", "two"):
        for method in ("GET", "HEAD"):
            resp = session.request(method, _murl(registry, repo, reference))
            assert_error(resp, 404, "MANIFEST_UNKNOWN", head=method == "HEAD")
    assert session.get(f"{registry.url}/v2/{repo}/tags/list").json()["tags"] == ["keep"]
    _assert_pulls(session, registry, repo, "keep", keep)


def test_delete_then_push_again(registry: HaregServer, session: requests.Session, repo: str):
    m = image_manifest()
    push_image(session, registry.url, repo, m, "t")
    assert session.delete(_murl(registry, repo, m.digest)).status_code == 202
    resp = push_manifest(session, registry.url, repo, "t", m)
    _assert_created(resp, repo, m.digest)
    _assert_pulls(session, registry, repo, "t", m)


def test_delete_unknown(registry: HaregServer, session: requests.Session, repo: str):
    push_image(session, registry.url, repo, image_manifest(), "exists")
    for reference in ("nope", fake_digest()):
        resp = session.delete(_murl(registry, repo, reference))
        assert_error(resp, 404, "MANIFEST_UNKNOWN")


def test_delete_twice(registry: HaregServer, session: requests.Session, repo: str):
    m = image_manifest()
    push_image(session, registry.url, repo, m, "t")
    assert session.delete(_murl(registry, repo, "t")).status_code == 202
    assert_error(session.delete(_murl(registry, repo, "t")), 404, "MANIFEST_UNKNOWN")
    assert session.delete(_murl(registry, repo, m.digest)).status_code == 202
    assert_error(session.delete(_murl(registry, repo, m.digest)), 404, "MANIFEST_UNKNOWN")


# --- configuration: delete disabled, read-only ------------------------------------------------


def _assert_unsupported(resp: requests.Response, read_only: bool = False) -> None:
    error = assert_error(resp, 405, "UNSUPPORTED")
    if read_only:
        assert re.search(r"read[- ]?only", error["message"], re.IGNORECASE), error


def test_delete_disabled(hareg_server: Callable[..., HaregServer], session: requests.Session):
    server = hareg_server(delete_enabled=False, workers=1)
    repo = "nodelete/repo"
    m = image_manifest()
    push_image(session, server.url, repo, m, "t")
    config_digest = m.blobs[0].digest
    _assert_unsupported(session.delete(_murl(server, repo, "t")))
    _assert_unsupported(session.delete(_murl(server, repo, m.digest)))
    _assert_unsupported(session.delete(f"{server.url}/v2/{repo}/blobs/{config_digest}"))
    # nothing was deleted
    _assert_pulls(session, server, repo, "t", m)
    assert session.head(f"{server.url}/v2/{repo}/blobs/{config_digest}").status_code == 200
    # uploads can still be cancelled: that is not a deletion of content
    upload = session.post(f"{server.url}/v2/{repo}/blobs/uploads/")
    assert upload.status_code == 202
    resp = session.delete(resolve(server.url, upload.headers["Location"]))
    assert resp.status_code == 204, resp.text


def test_read_only(hareg_server: Callable[..., HaregServer], session: requests.Session):
    server = hareg_server(read_only=True, workers=1)
    repo = "readonly/repo"
    m = image_manifest()
    base = f"{server.url}/v2/{repo}"
    upload = f"{base}/blobs/uploads/5b1d4cb6-6d0e-4a11-9a8c-3e1c4c8c1f00"
    writes = [
        ("POST", f"{base}/blobs/uploads/", None),
        ("POST", f"{base}/blobs/uploads/?digest={digest_of(b'x')}", b"x"),
        ("POST", f"{base}/blobs/uploads/?mount={digest_of(b'x')}&from=other/repo", None),
        ("PATCH", upload, b"x"),
        ("PUT", f"{upload}?digest={digest_of(b'x')}", b"x"),
        ("DELETE", upload, None),
        ("PUT", f"{base}/manifests/latest", m.data),
        ("PUT", f"{base}/manifests/{m.digest}", m.data),
        ("DELETE", f"{base}/manifests/latest", None),
        ("DELETE", f"{base}/manifests/{m.digest}", None),
        ("DELETE", f"{base}/blobs/{digest_of(b'x')}", None),
    ]
    for method, url, body in writes:
        resp = session.request(
            method, url, data=body, headers={"Content-Type": OCI_MANIFEST}
        )
        _assert_unsupported(resp, read_only=True)
    # reads still work
    assert session.get(f"{server.url}/v2/").status_code == 200
    assert_error(session.get(f"{base}/manifests/latest"), 404, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
    assert_error(session.get(f"{base}/tags/list"), 404, "NAME_UNKNOWN")
