# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Repository names: nested names work everywhere, invalid ones are refused everywhere.

Invalid names go out through :mod:`http.client` so that no client library normalises
the path (urllib3 would resolve ``..`` segments before sending).
"""

from __future__ import annotations

import http.client
import json
import uuid
from urllib.parse import quote

import pytest
import requests

from tests.fixtures.server import HaregServer
from tests.oci import (
    OCI_MANIFEST,
    OCTET_STREAM,
    artifact_manifest,
    digest_of,
    fake_digest,
    image_manifest,
    push_blob,
    push_blob_chunked,
    push_image,
    random_bytes,
    start_upload,
)


def _long_name(length: int) -> str:
    """A name of exactly ``length`` characters: components of ~50 ``a`` joined by ``/``."""
    k = (length - 1) // 51
    name = ("a" * 50 + "/") * k + "a" * (length - 51 * k)
    assert len(name) == length and not name.endswith("/")
    return name


VALID_NAMES = [
    "a",
    "0",
    "a/b/c",
    "deeply/nested/name/with/many/levels",
    "a.b/c_d/e__f/g-h/i--j/k---l",
    "x1.y2-z3_w4",
    _long_name(255),
]

INVALID_NAMES = {
    "uppercase": "Upper/case",
    "uppercase-component": "lower/Upper",
    "dot-dot-component": "a/../b",
    "dot-dot-only": "..",
    "double-dot-in-component": "a..b",
    "too-long": _long_name(256),
    "leading-dash": "-abc",
    "trailing-dash": "abc-",
    "leading-dot": ".abc",
    "trailing-dot": "abc.",
    "leading-underscore": "_abc",
    "trailing-underscore": "abc_",
    "triple-underscore": "a___b",
    "component-ends-with-separator": "abc-/def",
    "empty-component": "a//b",
    "space": "a b",
    "colon": "a:b",
    "non-ascii": "caf\u00e9",
    # '$' in a regular expression also matches before a final newline: the name check must not
    "trailing-newline": "abc\n",
    "nested-trailing-newline": "abc/def\n",
}


# --- nested and edge-of-valid names ------------------------------------------------------------


@pytest.mark.parametrize("suffix", VALID_NAMES, ids=lambda n: n if len(n) < 40 else f"len{len(n)}")
def test_valid_names_work_everywhere(
    registry: HaregServer, session: requests.Session, suffix: str
):
    # keep the name unique per test and its length exact: replace the head with a nonce
    nonce = uuid.uuid4().hex[:8]
    name = nonce + suffix[len(nonce) :] if len(suffix) > 60 else f"n{nonce}/{suffix}"
    if len(suffix) > 60:
        assert len(name) == len(suffix)
    base = f"{registry.url}/v2/{name}"
    # blobs: monolithic and chunked uploads, GET, HEAD
    data = random_bytes(3000)
    digest = push_blob(session, registry.url, name, data)
    assert session.get(f"{base}/blobs/{digest}").content == data
    assert session.head(f"{base}/blobs/{digest}").status_code == 200
    chunked = push_blob_chunked(session, registry.url, name, random_bytes(5000), 2000)
    assert session.head(f"{base}/blobs/{chunked}").status_code == 200
    # upload status and cancel
    url = start_upload(session, registry.url, name)
    assert session.get(url).status_code == 204
    assert session.delete(url).status_code == 204
    # manifests, tags, referrers
    m = image_manifest()
    push_image(session, registry.url, name, m, "v1")
    resp = session.get(f"{base}/manifests/v1")
    assert resp.status_code == 200 and resp.content == m.data
    assert session.get(f"{base}/tags/list").json() == {"name": name, "tags": ["v1"]}
    art = artifact_manifest(m)
    push_image(session, registry.url, name, art)
    refs = session.get(f"{base}/referrers/{m.digest}").json()["manifests"]
    assert [r["digest"] for r in refs] == [art.digest]
    # mount into a sibling, catalog lists it
    sibling = f"{name[:200]}/sib" if len(name) < 200 else f"s{nonce}/sib"
    resp = session.post(
        f"{registry.url}/v2/{sibling}/blobs/uploads/", params={"mount": digest, "from": name}
    )
    assert resp.status_code == 201, resp.text
    catalog = session.get(f"{registry.url}/v2/_catalog", params={"last": name[:-1], "n": "5"})
    assert name in catalog.json()["repositories"]
    # deletes
    assert session.delete(f"{base}/manifests/v1").status_code == 202
    assert session.delete(f"{base}/manifests/{m.digest}").status_code == 202
    assert session.delete(f"{base}/blobs/{digest}").status_code == 202


# --- invalid names ----------------------------------------------------------------------------


def _raw(
    host: str, method: str, path: str, body: bytes = b"", content_type: str = OCTET_STREAM
) -> tuple[int, dict[str, str], bytes]:
    """One request with the path sent exactly as given (only non-ASCII is percent-encoded)."""
    address, port = host.rsplit(":", 1)
    conn = http.client.HTTPConnection(address, int(port), timeout=15)
    try:
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        conn.request(method, quote(path, safe="/:?=&%@-._~!$'()*+,;"), body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _endpoints(name: str) -> list[tuple[str, str, bytes, str]]:
    d = fake_digest()
    up = f"/v2/{name}/blobs/uploads/{uuid.uuid4()}"
    m = image_manifest().data
    return [
        ("GET", f"/v2/{name}/tags/list", b"", OCTET_STREAM),
        ("GET", f"/v2/{name}/tags/list?n=1", b"", OCTET_STREAM),
        ("GET", f"/v2/{name}/manifests/latest", b"", OCTET_STREAM),
        ("HEAD", f"/v2/{name}/manifests/{d}", b"", OCTET_STREAM),
        ("PUT", f"/v2/{name}/manifests/latest", m, OCI_MANIFEST),
        ("PUT", f"/v2/{name}/manifests/{digest_of(m)}?tag=x", m, OCI_MANIFEST),
        ("DELETE", f"/v2/{name}/manifests/latest", b"", OCTET_STREAM),
        ("DELETE", f"/v2/{name}/manifests/{d}", b"", OCTET_STREAM),
        ("GET", f"/v2/{name}/blobs/{d}", b"", OCTET_STREAM),
        ("HEAD", f"/v2/{name}/blobs/{d}", b"", OCTET_STREAM),
        ("DELETE", f"/v2/{name}/blobs/{d}", b"", OCTET_STREAM),
        ("POST", f"/v2/{name}/blobs/uploads/", b"", OCTET_STREAM),
        ("POST", f"/v2/{name}/blobs/uploads/?digest={digest_of(b'x')}", b"x", OCTET_STREAM),
        ("POST", f"/v2/{name}/blobs/uploads/?mount={d}&from=valid/name", b"", OCTET_STREAM),
        ("GET", up, b"", OCTET_STREAM),
        ("PATCH", up, b"x", OCTET_STREAM),
        ("PUT", f"{up}?digest={digest_of(b'x')}", b"x", OCTET_STREAM),
        ("DELETE", up, b"", OCTET_STREAM),
        ("GET", f"/v2/{name}/referrers/{d}", b"", OCTET_STREAM),
    ]


@pytest.mark.parametrize("case", list(INVALID_NAMES))
def test_invalid_name_everywhere(registry: HaregServer, case: str):
    name = INVALID_NAMES[case]
    failures: list[str] = []
    for method, path, body, content_type in _endpoints(name):
        status, headers, content = _raw(registry.host, method, path, body, content_type)
        problem = None
        if status != 400:
            problem = f"status {status}"
        elif method != "HEAD":
            try:
                codes = [e["code"] for e in json.loads(content)["errors"]]
            except (ValueError, KeyError, TypeError):
                codes = []
            if headers.get("content-type", "").split(";")[0] != "application/json":
                problem = f"content-type {headers.get('content-type')!r}"
            elif codes[:1] != ["NAME_INVALID"]:
                problem = f"codes {codes}"
        if problem:
            failures.append(f"{method} {path[:120]}: {problem} {content[:150]!r}")
    assert not failures, f"name {name[:60]!r}:\n" + "\n".join(failures)


def test_invalid_from_in_mount_is_not_fatal(
    registry: HaregServer, session: requests.Session, repo: str
):
    """An invalid ``from`` repository is either refused (400 NAME_INVALID) or ignored (202)."""
    resp = session.post(
        f"{registry.url}/v2/{repo}/blobs/uploads/",
        params={"mount": fake_digest(), "from": "Not/Valid"},
    )
    assert resp.status_code in (202, 400), resp.text
    if resp.status_code == 400:
        assert resp.json()["errors"][0]["code"] == "NAME_INVALID"
