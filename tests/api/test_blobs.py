# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-2 and end-10: pulling, ranging and deleting blobs."""

from __future__ import annotations

import pytest
import requests

from tests.fixtures.server import HaregServer
from tests.oci import OCTET_STREAM, assert_error, fake_digest, push_blob, random_bytes

SIZE = 10_000


@pytest.fixture
def blob(registry: HaregServer, session: requests.Session, repo: str) -> tuple[bytes, str]:
    data = random_bytes(SIZE)
    return data, push_blob(session, registry.url, repo, data)


def _url(registry: HaregServer, repo: str, digest: str) -> str:
    return f"{registry.url}/v2/{repo}/blobs/{digest}"


def test_get_blob(registry: HaregServer, session: requests.Session, repo: str, blob):
    data, digest = blob
    resp = session.get(_url(registry, repo, digest))
    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["Content-Length"] == str(SIZE)
    assert resp.headers["Content-Type"] == OCTET_STREAM
    assert resp.headers["Docker-Content-Digest"] == digest
    assert resp.headers["Accept-Ranges"] == "bytes"


def test_head_blob(registry: HaregServer, session: requests.Session, repo: str, blob):
    _, digest = blob
    resp = session.head(_url(registry, repo, digest))
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["Content-Length"] == str(SIZE)
    assert resp.headers["Content-Type"] == OCTET_STREAM
    assert resp.headers["Docker-Content-Digest"] == digest
    assert resp.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=100-4095", 100, 4095),
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
        ("bytes=9000-", 9000, SIZE - 1),
        ("bytes=0-", 0, SIZE - 1),
        ("bytes=-10", SIZE - 10, SIZE - 1),
        (f"bytes=-{SIZE}", 0, SIZE - 1),
        (f"bytes=-{SIZE + 50}", 0, SIZE - 1),  # suffix longer than the blob: the whole blob
        (f"bytes=5000-{SIZE + 1000}", 5000, SIZE - 1),  # last-byte-pos past the end is clamped
    ],
)
def test_range(
    registry: HaregServer, session: requests.Session, repo: str, blob, spec, start, end
):
    data, digest = blob
    resp = session.get(_url(registry, repo, digest), headers={"Range": spec})
    assert resp.status_code == 206, resp.text[:300]
    assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert resp.headers["Content-Length"] == str(end - start + 1)
    assert resp.content == data[start : end + 1]
    assert resp.headers["Docker-Content-Digest"] == digest


@pytest.mark.parametrize("spec", [f"bytes={SIZE}-", f"bytes={SIZE}-{SIZE + 10}", "bytes=-0"])
def test_range_not_satisfiable(
    registry: HaregServer, session: requests.Session, repo: str, blob, spec
):
    _, digest = blob
    resp = session.get(_url(registry, repo, digest), headers={"Range": spec})
    assert resp.status_code == 416, resp.text[:300]
    assert resp.headers["Content-Range"] == f"bytes */{SIZE}"


def test_multi_range_answers_whole_blob(
    registry: HaregServer, session: requests.Session, repo: str, blob
):
    data, digest = blob
    resp = session.get(_url(registry, repo, digest), headers={"Range": "bytes=0-1,4-5"})
    assert resp.status_code == 200
    assert resp.content == data


def test_head_with_range(registry: HaregServer, session: requests.Session, repo: str, blob):
    _, digest = blob
    resp = session.head(_url(registry, repo, digest), headers={"Range": "bytes=10-19"})
    assert resp.status_code in (200, 206)
    if resp.status_code == 206:
        assert resp.headers["Content-Range"] == f"bytes 10-19/{SIZE}"
        assert resp.headers["Content-Length"] == "10"
    else:
        assert resp.headers["Content-Length"] == str(SIZE)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_unknown_blob(registry: HaregServer, session: requests.Session, repo: str, blob, method):
    resp = session.request(method, _url(registry, repo, fake_digest()))
    assert_error(resp, 404, "BLOB_UNKNOWN", head=method == "HEAD")


def test_unknown_repository(registry: HaregServer, session: requests.Session, other_repo: str):
    resp = session.get(_url(registry, other_repo, fake_digest()))
    # the contract says BLOB_UNKNOWN; the OCI spec also allows NAME_UNKNOWN here
    assert_error(resp, 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")


def test_blob_only_visible_in_its_repository(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str, blob
):
    _, digest = blob
    push_blob(session, registry.url, other_repo, b"other repository exists")
    for method in ("GET", "HEAD"):
        resp = session.request(method, _url(registry, other_repo, digest))
        assert_error(resp, 404, "BLOB_UNKNOWN", head=method == "HEAD")
    resp = session.get(_url(registry, other_repo, digest), headers={"Range": "bytes=0-9"})
    assert_error(resp, 404, "BLOB_UNKNOWN")


def test_sha512_blob(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(2222)
    digest = push_blob(session, registry.url, repo, data, algorithm="sha512")
    resp = session.get(_url(registry, repo, digest))
    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["Docker-Content-Digest"] == digest
    resp = session.get(_url(registry, repo, digest), headers={"Range": "bytes=-22"})
    assert resp.status_code == 206
    assert resp.content == data[-22:]


# --- end-10 -----------------------------------------------------------------------------------


def test_delete_blob(registry: HaregServer, session: requests.Session, repo: str, blob):
    _, digest = blob
    resp = session.delete(_url(registry, repo, digest))
    assert resp.status_code == 202, resp.text
    assert_error(session.get(_url(registry, repo, digest)), 404, "BLOB_UNKNOWN")
    assert_error(session.delete(_url(registry, repo, digest)), 404, "BLOB_UNKNOWN")


def test_delete_blob_only_unlinks_this_repository(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str, blob
):
    data, digest = blob
    push_blob(session, registry.url, other_repo, data)
    assert session.delete(_url(registry, repo, digest)).status_code == 202
    assert session.head(_url(registry, repo, digest)).status_code == 404
    resp = session.get(_url(registry, other_repo, digest))
    assert resp.status_code == 200
    assert resp.content == data


def test_delete_then_reupload(registry: HaregServer, session: requests.Session, repo: str, blob):
    data, digest = blob
    assert session.delete(_url(registry, repo, digest)).status_code == 202
    assert push_blob(session, registry.url, repo, data) == digest
    resp = session.get(_url(registry, repo, digest))
    assert resp.status_code == 200
    assert resp.content == data


def test_delete_unknown_blob(registry: HaregServer, session: requests.Session, repo: str, blob):
    assert_error(session.delete(_url(registry, repo, fake_digest())), 404, "BLOB_UNKNOWN")
