# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Every error code that can arise without auth, its JSON shape and content type; 405s.

One table: a name, a function making the request against a fresh repository, the
status and the accepted codes. Every row is checked for the spec's body shape
``{"errors": [{"code", "message", "detail"?}]}``, ``Content-Type: application/json``
and the API version header.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import unique_name
from tests.fixtures.server import HaregServer
from tests.oci import (
    OCI_MANIFEST,
    OCTET_STREAM,
    assert_error,
    digest_of,
    fake_digest,
    image_index,
    image_manifest,
    push_blob,
    push_image,
    random_bytes,
    resolve,
    start_upload,
    with_query,
)

SPEC_CODES = {
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
}


@dataclass(frozen=True)
class Ctx:
    s: requests.Session
    base: str  # http://host:port
    repo: str  # a repository that exists (has one blob and one tagged manifest)

    @property
    def v2(self) -> str:
        return f"{self.base}/v2/{self.repo}"


Case = tuple[Callable[[Ctx], requests.Response], int | tuple[int, ...], tuple[str, ...]]


def _upload(c: Ctx) -> str:
    return start_upload(c.s, c.base, c.repo)


def _patched_upload(c: Ctx) -> str:
    resp = c.s.patch(
        _upload(c), data=b"0123456789", headers={"Content-Type": OCTET_STREAM,
                                                 "Content-Range": "0-9"}
    )
    assert resp.status_code == 202
    return resolve(c.base, resp.headers["Location"])


def _put_manifest(c: Ctx, data: bytes, media_type: str = OCI_MANIFEST, ref: str = "t"):
    return c.s.put(f"{c.v2}/manifests/{ref}", data=data, headers={"Content-Type": media_type})


def _bad_manifest(c: Ctx) -> requests.Response:
    return _put_manifest(c, b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'"')


CASES: dict[str, Case] = {
    "BLOB_UNKNOWN get": (lambda c: c.s.get(f"{c.v2}/blobs/{fake_digest()}"), 404,
                         ("BLOB_UNKNOWN",)),
    "BLOB_UNKNOWN delete": (lambda c: c.s.delete(f"{c.v2}/blobs/{fake_digest()}"), 404,
                            ("BLOB_UNKNOWN",)),
    "BLOB_UPLOAD_INVALID out-of-order": (
        lambda c: c.s.patch(_patched_upload(c), data=b"x",
                            headers={"Content-Type": OCTET_STREAM, "Content-Range": "20-20"}),
        416, ("BLOB_UPLOAD_INVALID",)),
    "BLOB_UPLOAD_UNKNOWN get": (
        lambda c: c.s.get(f"{c.v2}/blobs/uploads/{uuid.uuid4()}"), 404,
        ("BLOB_UPLOAD_UNKNOWN",)),
    "BLOB_UPLOAD_UNKNOWN after cancel": (
        lambda c: (lambda u: (c.s.delete(u), c.s.patch(u, data=b"x"))[1])(_upload(c)),
        404, ("BLOB_UPLOAD_UNKNOWN",)),
    "DIGEST_INVALID mismatch": (
        lambda c: c.s.put(with_query(_upload(c), {"digest": fake_digest()}), data=b"abc"),
        400, ("DIGEST_INVALID",)),
    "DIGEST_INVALID missing": (lambda c: c.s.put(_upload(c), data=b"abc"), 400,
                               ("DIGEST_INVALID",)),
    "DIGEST_INVALID malformed blob digest": (
        lambda c: c.s.get(f"{c.v2}/blobs/sha256:1234"), 400, ("DIGEST_INVALID",)),
    "DIGEST_INVALID uppercase hex": (
        lambda c: c.s.get(f"{c.v2}/blobs/sha256:{'AB' * 32}"), 400, ("DIGEST_INVALID",)),
    "DIGEST_INVALID unsupported algorithm": (
        lambda c: c.s.get(f"{c.v2}/blobs/sha384:{'ab' * 48}"), 400,
        ("DIGEST_INVALID", "UNSUPPORTED")),
    "DIGEST_INVALID manifest digest": (
        lambda c: _put_manifest(c, image_manifest().data, ref=fake_digest()), 400,
        ("DIGEST_INVALID",)),
    "DIGEST_INVALID digest-algorithm": (
        lambda c: c.s.post(f"{c.v2}/blobs/uploads/", params={"digest-algorithm": "md5"}), 400,
        ("DIGEST_INVALID",)),
    "MANIFEST_BLOB_UNKNOWN layers": (
        lambda c: _put_manifest(c, image_manifest().data), 400, ("MANIFEST_BLOB_UNKNOWN",)),
    "MANIFEST_BLOB_UNKNOWN index": (
        lambda c: _put_manifest(
            c, image_index([image_manifest()]).data, "application/vnd.oci.image.index.v1+json"
        ), 400, ("MANIFEST_BLOB_UNKNOWN",)),
    "MANIFEST_INVALID json": (_bad_manifest, 400, ("MANIFEST_INVALID",)),
    "MANIFEST_INVALID media type": (
        lambda c: _put_manifest(c, b"{}", "application/x-unknown"), 400, ("MANIFEST_INVALID",)),
    "MANIFEST_INVALID tag": (
        lambda c: _put_manifest(c, image_manifest().data, ref="-bad"), 400,
        ("MANIFEST_INVALID",)),
    "MANIFEST_UNKNOWN tag": (lambda c: c.s.get(f"{c.v2}/manifests/nope"), 404,
                             ("MANIFEST_UNKNOWN",)),
    "MANIFEST_UNKNOWN digest": (lambda c: c.s.get(f"{c.v2}/manifests/{fake_digest()}"), 404,
                                ("MANIFEST_UNKNOWN",)),
    "MANIFEST_UNKNOWN delete": (lambda c: c.s.delete(f"{c.v2}/manifests/{fake_digest()}"), 404,
                                ("MANIFEST_UNKNOWN",)),
    "NAME_INVALID": (lambda c: c.s.get(f"{c.base}/v2/Bad/Name/tags/list"), 400,
                     ("NAME_INVALID",)),
    "NAME_UNKNOWN tags": (
        lambda c: c.s.get(f"{c.base}/v2/unknown-{uuid.uuid4().hex}/tags/list"), 404,
        ("NAME_UNKNOWN",)),
    "SIZE_INVALID content-range": (
        lambda c: c.s.patch(_upload(c), data=b"12345",
                            headers={"Content-Type": OCTET_STREAM, "Content-Range": "0-99"}),
        (400, 416), ("SIZE_INVALID", "BLOB_UPLOAD_INVALID")),
    "413 manifest too large": (
        lambda c: _put_manifest(c, b" " * (4 * 1024 * 1024 + 1)), 413, ()),
    "400 pagination": (lambda c: c.s.get(f"{c.v2}/tags/list", params={"n": "-5"}), 400, ()),
    "400 referrers digest": (lambda c: c.s.get(f"{c.v2}/referrers/nope"), 400, ()),
}


@pytest.fixture(scope="module")
def existing_repo(registry: HaregServer, module_session: requests.Session) -> str:
    """A repository with one blob and one tagged manifest, per driver, shared by the module:
    every case is a refused request, and refused requests write nothing (invariant 6 of
    docs/architecture.rst; tests/api/test_manifest_writes.py checks it object by object)."""
    repo = f"{unique_name('errors')}/img"
    push_blob(module_session, registry.url, repo, random_bytes(100))
    push_image(module_session, registry.url, repo, image_manifest(), "exists")
    return repo


@pytest.fixture
def ctx(registry: HaregServer, session: requests.Session, existing_repo: str) -> Ctx:
    return Ctx(session, registry.url, existing_repo)


@pytest.mark.parametrize("case", list(CASES))
def test_error(ctx: Ctx, case: str):
    make, status, codes = CASES[case]
    resp = make(ctx)
    statuses = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in statuses, f"{resp.status_code}: {resp.text[:400]}"
    first = assert_error(resp, resp.status_code, *codes)
    assert resp.headers.get("Docker-Distribution-API-Version") == "registry/2.0"
    body = resp.json()
    for error in body["errors"]:
        assert set(error) <= {"code", "message", "detail"}, error
        assert error["code"] in SPEC_CODES, error
        if "detail" in error:
            json.dumps(error["detail"])  # any JSON value
    assert first["message"], first


def test_manifest_blob_unknown_names_the_blobs(ctx: Ctx):
    """The detail of a missing-blob error identifies the digest(s)."""
    m = image_manifest()
    resp = _put_manifest(ctx, m.data)
    assert_error(resp, 400, "MANIFEST_BLOB_UNKNOWN")
    text = json.dumps(resp.json())
    assert any(blob.digest in text for blob in m.blobs), text


# --- 405 --------------------------------------------------------------------------------------


def _405_routes(c: Ctx) -> list[tuple[str, str]]:
    d = fake_digest()
    return [
        ("PUT", f"{c.base}/v2/"),
        ("DELETE", f"{c.base}/v2/"),
        ("POST", f"{c.v2}/tags/list"),
        ("PUT", f"{c.v2}/tags/list"),
        ("DELETE", f"{c.v2}/tags/list"),
        ("POST", f"{c.v2}/manifests/latest"),
        ("PATCH", f"{c.v2}/manifests/latest"),
        ("POST", f"{c.v2}/blobs/{d}"),
        ("PUT", f"{c.v2}/blobs/{d}"),
        ("PATCH", f"{c.v2}/blobs/{d}"),
        ("PUT", f"{c.v2}/blobs/uploads/"),
        ("PATCH", f"{c.v2}/blobs/uploads/"),
        ("POST", f"{c.v2}/blobs/uploads/{uuid.uuid4()}"),
        ("POST", f"{c.v2}/referrers/{d}"),
        ("DELETE", f"{c.v2}/referrers/{d}"),
        ("POST", f"{c.base}/v2/_catalog"),
        ("DELETE", f"{c.base}/v2/_catalog"),
    ]


def test_unknown_method_is_405(ctx: Ctx):
    failures: list[str] = []
    for method, url in _405_routes(ctx):
        resp = ctx.s.request(method, url, data=b"", headers={"Content-Type": OCTET_STREAM})
        try:
            assert_error(resp, 405, "UNSUPPORTED")
            assert resp.headers.get("Allow"), "405 without an Allow header (RFC 9110 15.5.6)"
        except AssertionError as exc:
            failures.append(f"{method} {url}: {str(exc)[:300]}")
    assert not failures, "\n".join(failures)


def test_error_for_head_has_no_body(ctx: Ctx):
    resp = ctx.s.head(f"{ctx.v2}/blobs/{fake_digest()}")
    assert resp.status_code == 404
    assert resp.content == b""
    resp = ctx.s.head(f"{ctx.v2}/manifests/nope")
    assert resp.status_code == 404
    assert resp.content == b""


def test_blob_upload_invalid_keeps_range(ctx: Ctx):
    url = _patched_upload(ctx)
    resp = ctx.s.patch(
        url, data=b"x", headers={"Content-Type": OCTET_STREAM, "Content-Range": "3-3"}
    )
    assert_error(resp, 416, "BLOB_UPLOAD_INVALID")
    assert resp.headers.get("Range") == "0-9"


def test_digest_invalid_on_single_post(ctx: Ctx):
    resp = ctx.s.post(
        f"{ctx.v2}/blobs/uploads/",
        params={"digest": digest_of(b"other")},
        data=b"content",
        headers={"Content-Type": OCTET_STREAM},
    )
    assert_error(resp, 400, "DIGEST_INVALID")
