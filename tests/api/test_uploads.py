# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-4a/4b/4c, end-5, end-6, end-11, end-13, end-14: blob uploads."""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from tests.fixtures.server import HaregServer
from tests.oci import (
    OCTET_STREAM,
    MiB,
    assert_error,
    digest_of,
    fake_digest,
    new_session,
    push_blob,
    push_blob_chunked,
    random_bytes,
    resolve,
    start_upload,
    with_query,
)


def _patch(
    session: requests.Session, url: str, data: bytes, start: int | None = None
) -> requests.Response:
    headers = {"Content-Type": OCTET_STREAM}
    if start is not None:
        headers["Content-Range"] = f"{start}-{start + len(data) - 1}"
    return session.patch(url, data=data, headers=headers)


def _put(session: requests.Session, url: str, digest: str, data: bytes = b"") -> requests.Response:
    return session.put(
        with_query(url, {"digest": digest}), data=data, headers={"Content-Type": OCTET_STREAM}
    )


def _assert_blob(
    session: requests.Session, registry: HaregServer, repo: str, data: bytes, digest: str
) -> None:
    resp = session.get(f"{registry.url}/v2/{repo}/blobs/{digest}")
    assert resp.status_code == 200, resp.text[:500]
    assert len(resp.content) == len(data)
    assert resp.content == data
    assert resp.headers["Docker-Content-Digest"] == digest


def _assert_relative(location: str) -> None:
    """The contract: Location headers are relative paths (no scheme, no host)."""
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and location.startswith("/v2/"), location


def _assert_blob_location(resp: requests.Response, repo: str, digest: str) -> None:
    _assert_relative(resp.headers["Location"])
    assert urlsplit(resp.headers["Location"]).path == f"/v2/{repo}/blobs/{digest}"
    assert resp.headers["Docker-Content-Digest"] == digest


# --- end-4a: opening a session ---------------------------------------------------------------


def test_post_opens_session(registry: HaregServer, session: requests.Session, repo: str):
    resp = session.post(f"{registry.url}/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202, resp.text
    location = resp.headers["Location"]
    _assert_relative(location)
    upload_uuid = resp.headers["Docker-Upload-UUID"]
    path = urlsplit(location).path
    assert path.startswith(f"/v2/{repo}/blobs/uploads/"), location
    assert path.rsplit("/", 1)[1] == upload_uuid
    assert resp.headers["Range"] == "0-0"
    assert resp.headers.get("Content-Length") == "0"
    assert resp.content == b""


def test_two_sessions_have_distinct_ids(
    registry: HaregServer, session: requests.Session, repo: str
):
    a = start_upload(session, registry.url, repo)
    b = start_upload(session, registry.url, repo)
    assert a != b


# --- monolithic: POST + PUT, single POST ------------------------------------------------------


def test_monolithic_post_put(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(10_000)
    digest = digest_of(data)
    url = start_upload(session, registry.url, repo)
    resp = _put(session, url, digest, data)
    assert resp.status_code == 201, resp.text
    _assert_blob_location(resp, repo, digest)
    _assert_blob(session, registry, repo, data, digest)
    # the session is gone once completed
    assert_error(session.get(url), 404, "BLOB_UPLOAD_UNKNOWN")


def test_single_post_with_digest(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(4096)
    digest = digest_of(data)
    resp = session.post(
        f"{registry.url}/v2/{repo}/blobs/uploads/",
        params={"digest": digest},
        data=data,
        headers={"Content-Type": OCTET_STREAM},
    )
    assert resp.status_code == 201, resp.text
    _assert_blob_location(resp, repo, digest)
    _assert_blob(session, registry, repo, data, digest)


def test_single_post_digest_mismatch(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(2048)
    wrong = fake_digest()
    resp = session.post(
        f"{registry.url}/v2/{repo}/blobs/uploads/",
        params={"digest": wrong},
        data=data,
        headers={"Content-Type": OCTET_STREAM},
    )
    assert_error(resp, 400, "DIGEST_INVALID")
    assert session.head(f"{registry.url}/v2/{repo}/blobs/{wrong}").status_code == 404
    assert session.head(f"{registry.url}/v2/{repo}/blobs/{digest_of(data)}").status_code == 404


def test_single_post_sha512(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(3000)
    digest = digest_of(data, "sha512")
    resp = session.post(
        f"{registry.url}/v2/{repo}/blobs/uploads/",
        params={"digest": digest},
        data=data,
        headers={"Content-Type": OCTET_STREAM},
    )
    assert resp.status_code == 201, resp.text
    _assert_blob_location(resp, repo, digest)
    _assert_blob(session, registry, repo, data, digest)


def _send_and_half_close(host: str, request: bytes, timeout: float = 15.0) -> bytes:
    """Send raw bytes to ``host``, close our side, read the answer until EOF or ``timeout``."""
    address, port = host.rsplit(":", 1)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    with socket.create_connection((address, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        try:
            while time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def test_single_post_body_shorter_than_content_length(registry: HaregServer, repo: str):
    """end-4b: a body shorter than its Content-Length (client gave up) is refused with 400."""
    data = random_bytes(1000)
    digest = digest_of(data)
    head = (
        f"POST /v2/{repo}/blobs/uploads/?digest={digest} HTTP/1.1\r\n"
        f"Host: {registry.host}\r\nContent-Type: {OCTET_STREAM}\r\n"
        f"Content-Length: {len(data) + 500}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = _send_and_half_close(registry.host, head + data)
    status_line = answer.split(b"\r\n", 1)[0]
    # The connection may also just be dropped: then there is no status line at all.
    if status_line:
        assert status_line.split()[1] == b"400", answer[:1000]
    with new_session() as s:
        assert s.head(f"{registry.url}/v2/{repo}/blobs/{digest}").status_code == 404


def test_empty_blob(registry: HaregServer, session: requests.Session, repo: str):
    digest = push_blob(session, registry.url, repo, b"")
    assert digest == "sha256:" + hashlib.sha256(b"").hexdigest()
    resp = session.get(f"{registry.url}/v2/{repo}/blobs/{digest}")
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["Content-Length"] == "0"


def test_reupload_existing_blob(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(777)
    first = push_blob(session, registry.url, repo, data)
    second = push_blob(session, registry.url, repo, data)
    assert first == second
    _assert_blob(session, registry, repo, data, first)


# --- end-4c: sha512 ---------------------------------------------------------------------------


def test_digest_algorithm_sha512_chunked(
    registry: HaregServer, session: requests.Session, repo: str
):
    data = random_bytes(150_000)
    digest = digest_of(data, "sha512")
    resp = session.post(
        f"{registry.url}/v2/{repo}/blobs/uploads/", params={"digest-algorithm": "sha512"}
    )
    assert resp.status_code == 202, resp.text
    url = resolve(registry.url, resp.headers["Location"])
    resp = _patch(session, url, data[:100_000], 0)
    assert resp.status_code == 202, resp.text
    url = resolve(registry.url, resp.headers["Location"])
    resp = _put(session, url, digest, data[100_000:])
    assert resp.status_code == 201, resp.text
    _assert_blob_location(resp, repo, digest)
    _assert_blob(session, registry, repo, data, digest)


def test_digest_algorithm_sha512_monolithic(
    registry: HaregServer, session: requests.Session, repo: str
):
    data = random_bytes(5000)
    digest = push_blob(session, registry.url, repo, data, algorithm="sha512")
    assert digest.startswith("sha512:")
    _assert_blob(session, registry, repo, data, digest)


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "nope!"])
def test_digest_algorithm_unsupported(
    registry: HaregServer, session: requests.Session, repo: str, algorithm: str
):
    resp = session.post(
        f"{registry.url}/v2/{repo}/blobs/uploads/", params={"digest-algorithm": algorithm}
    )
    assert_error(resp, 400, "DIGEST_INVALID")


# --- end-5/6: chunked -------------------------------------------------------------------------


def test_chunked_upload(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(300_000)
    digest = digest_of(data)
    resp = session.post(f"{registry.url}/v2/{repo}/blobs/uploads/")
    upload_uuid = resp.headers["Docker-Upload-UUID"]
    url = resolve(registry.url, resp.headers["Location"])
    offset = 0
    for size in (100_000, 1, 99_999):
        chunk = data[offset : offset + size]
        resp = _patch(session, url, chunk, offset)
        assert resp.status_code == 202, resp.text
        offset += size
        assert resp.headers["Range"] == f"0-{offset - 1}"
        assert resp.headers["Docker-Upload-UUID"] == upload_uuid
        assert urlsplit(resp.headers["Location"]).path.startswith(
            f"/v2/{repo}/blobs/uploads/"
        )
        url = resolve(registry.url, resp.headers["Location"])
    resp = _put(session, url, digest, data[offset:])
    assert resp.status_code == 201, resp.text
    _assert_blob_location(resp, repo, digest)
    _assert_blob(session, registry, repo, data, digest)
    assert_error(session.get(url), 404, "BLOB_UPLOAD_UNKNOWN")


def test_streamed_patch_without_content_range(
    registry: HaregServer, session: requests.Session, repo: str
):
    data = random_bytes(70_000)
    digest = digest_of(data)
    url = start_upload(session, registry.url, repo)
    resp = _patch(session, url, data[:30_000])
    assert resp.status_code == 202, resp.text
    assert resp.headers["Range"] == "0-29999"
    url = resolve(registry.url, resp.headers["Location"])
    resp = _patch(session, url, data[30_000:])
    assert resp.status_code == 202, resp.text
    assert resp.headers["Range"] == f"0-{len(data) - 1}"
    url = resolve(registry.url, resp.headers["Location"])
    resp = _put(session, url, digest)
    assert resp.status_code == 201, resp.text
    _assert_blob(session, registry, repo, data, digest)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("total", "chunk"),
    [(12 * MiB, 3 * MiB), (12 * MiB + 12345, 6 * MiB)],
    ids=["3MiB-patches", "6MiB-patches"],
)
def test_large_chunked_upload(
    registry: HaregServer, session: requests.Session, repo: str, total: int, chunk: int
):
    """Small PATCHes must not break S3's 5 MiB minimum part size; large ones the common path."""
    data = random_bytes(total)
    digest = push_blob_chunked(session, registry.url, repo, data, chunk)
    resp = session.get(f"{registry.url}/v2/{repo}/blobs/{digest}", stream=True)
    assert resp.status_code == 200
    assert resp.headers["Content-Length"] == str(total)
    h = hashlib.sha256()
    received = 0
    for part in resp.iter_content(1024 * 1024):
        h.update(part)
        received += len(part)
    assert received == total
    assert f"sha256:{h.hexdigest()}" == digest
    # a range across the 5 MiB boundary (where multipart parts meet) reads back exactly
    start, end = 5 * MiB - 100, 5 * MiB + 99
    resp = session.get(
        f"{registry.url}/v2/{repo}/blobs/{digest}", headers={"Range": f"bytes={start}-{end}"}
    )
    assert resp.status_code == 206
    assert resp.content == data[start : end + 1]


def test_final_put_carries_whole_blob_after_empty_session(
    registry: HaregServer, session: requests.Session, repo: str
):
    data = random_bytes(1234)
    digest = digest_of(data)
    url = start_upload(session, registry.url, repo)
    resp = session.get(url)
    assert resp.status_code == 204
    resp = _put(session, url, digest, data)
    assert resp.status_code == 201, resp.text
    _assert_blob(session, registry, repo, data, digest)


def test_incomplete_upload_is_not_a_blob(
    registry: HaregServer, session: requests.Session, repo: str
):
    data = random_bytes(4000)
    url = start_upload(session, registry.url, repo)
    resp = _patch(session, url, data, 0)
    assert resp.status_code == 202
    for method in ("GET", "HEAD"):
        resp = session.request(method, f"{registry.url}/v2/{repo}/blobs/{digest_of(data)}")
        assert_error(resp, 404, "BLOB_UNKNOWN", head=method == "HEAD")


# --- end-13: status ---------------------------------------------------------------------------


def test_upload_status(registry: HaregServer, session: requests.Session, repo: str):
    resp = session.post(f"{registry.url}/v2/{repo}/blobs/uploads/")
    upload_uuid = resp.headers["Docker-Upload-UUID"]
    url = resolve(registry.url, resp.headers["Location"])
    resp = session.get(url)
    assert resp.status_code == 204, resp.text
    assert resp.headers["Range"] == "0-0"
    assert resp.headers["Docker-Upload-UUID"] == upload_uuid
    assert urlsplit(resp.headers["Location"]).path.startswith(f"/v2/{repo}/blobs/uploads/")
    resp = _patch(session, url, random_bytes(1000), 0)
    assert resp.status_code == 202
    url = resolve(registry.url, resp.headers["Location"])
    resp = session.get(url)
    assert resp.status_code == 204
    assert resp.headers["Range"] == "0-999"
    assert resp.headers["Docker-Upload-UUID"] == upload_uuid


# --- end-14: cancel ---------------------------------------------------------------------------


def test_cancel_upload(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(5000)
    url = start_upload(session, registry.url, repo)
    resp = _patch(session, url, data, 0)
    assert resp.status_code == 202
    url = resolve(registry.url, resp.headers["Location"])
    resp = session.delete(url)
    assert resp.status_code == 204, resp.text
    assert_error(session.get(url), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(_patch(session, url, b"more", 5000), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(_put(session, url, digest_of(data)), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(session.delete(url), 404, "BLOB_UPLOAD_UNKNOWN")
    assert session.head(f"{registry.url}/v2/{repo}/blobs/{digest_of(data)}").status_code == 404


# --- 416 and mismatches -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "start", [1001, 999, 0, 500], ids=["gap", "overlap-1", "restart", "mid"]
)
def test_out_of_order_patch_is_416(
    registry: HaregServer, session: requests.Session, repo: str, start: int
):
    data = random_bytes(2000)
    digest = digest_of(data)
    url = start_upload(session, registry.url, repo)
    resp = _patch(session, url, data[:1000], 0)
    assert resp.status_code == 202
    url = resolve(registry.url, resp.headers["Location"])
    resp = _patch(session, url, data[start : start + 100] or b"x" * 100, start)
    assert_error(resp, 416, "BLOB_UPLOAD_INVALID")
    assert resp.headers.get("Range") == "0-999"
    # the session is intact: its status still says 1000 bytes, and it can be completed
    resp = session.get(url)
    assert resp.status_code == 204
    assert resp.headers["Range"] == "0-999"
    url = resolve(registry.url, resp.headers["Location"])
    resp = _patch(session, url, data[1000:], 1000)
    assert resp.status_code == 202, resp.text
    url = resolve(registry.url, resp.headers["Location"])
    resp = _put(session, url, digest)
    assert resp.status_code == 201, resp.text
    _assert_blob(session, registry, repo, data, digest)


def test_first_patch_not_at_zero_is_416(
    registry: HaregServer, session: requests.Session, repo: str
):
    url = start_upload(session, registry.url, repo)
    resp = _patch(session, url, random_bytes(100), 10)
    assert_error(resp, 416, "BLOB_UPLOAD_INVALID")


@pytest.mark.parametrize("content_range", ["0-99", "0-10", "0-1"])
def test_content_range_length_mismatch(
    registry: HaregServer, session: requests.Session, repo: str, content_range: str
):
    url = start_upload(session, registry.url, repo)
    resp = session.patch(
        url,
        data=random_bytes(50),
        headers={"Content-Type": OCTET_STREAM, "Content-Range": content_range},
    )
    assert resp.status_code in (400, 416), resp.text
    assert_error(resp, resp.status_code)


@pytest.mark.parametrize("content_range", ["abc", "5", "-1-4", "4-0"])
def test_malformed_content_range(
    registry: HaregServer, session: requests.Session, repo: str, content_range: str
):
    url = start_upload(session, registry.url, repo)
    resp = session.patch(
        url,
        data=b"abcde",
        headers={"Content-Type": OCTET_STREAM, "Content-Range": content_range},
    )
    assert resp.status_code in (400, 416), resp.text
    assert_error(resp, resp.status_code)


def test_put_digest_mismatch(registry: HaregServer, session: requests.Session, repo: str):
    data = random_bytes(3000)
    url = start_upload(session, registry.url, repo)
    resp = _put(session, url, fake_digest(), data)
    assert_error(resp, 400, "DIGEST_INVALID")
    assert session.head(f"{registry.url}/v2/{repo}/blobs/{digest_of(data)}").status_code == 404


def test_put_after_patch_digest_mismatch(
    registry: HaregServer, session: requests.Session, repo: str
):
    data = random_bytes(3000)
    url = start_upload(session, registry.url, repo)
    resp = _patch(session, url, data, 0)
    url = resolve(registry.url, resp.headers["Location"])
    # the digest of a prefix: same algorithm, right format, wrong content
    resp = _put(session, url, digest_of(data[:-1]))
    assert_error(resp, 400, "DIGEST_INVALID")


def test_put_sha256_digest_on_sha512_session(
    registry: HaregServer, session: requests.Session, repo: str
):
    """A session hashed with sha512 cannot be closed with a (correct) sha256 digest, or it can
    if the registry hashes both; either way it must never store the blob under a wrong digest."""
    data = random_bytes(1000)
    url = start_upload(session, registry.url, repo, {"digest-algorithm": "sha512"})
    resp = _put(session, url, digest_of(data), data)
    if resp.status_code == 201:
        _assert_blob(session, registry, repo, data, digest_of(data))
    else:
        assert_error(resp, 400, "DIGEST_INVALID")


def test_put_without_digest(registry: HaregServer, session: requests.Session, repo: str):
    url = start_upload(session, registry.url, repo)
    resp = session.put(url, data=b"abc", headers={"Content-Type": OCTET_STREAM})
    assert_error(resp, 400, "DIGEST_INVALID")


@pytest.mark.parametrize(
    "digest",
    ["sha256:abc", "sha256:" + "A" * 64, "sha256", "sha256:" + "g" * 64, "sha512:" + "0" * 64],
)
def test_put_malformed_digest(
    registry: HaregServer, session: requests.Session, repo: str, digest: str
):
    url = start_upload(session, registry.url, repo)
    resp = _put(session, url, digest, b"abc")
    assert_error(resp, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_session(
    registry: HaregServer, session: requests.Session, repo: str, method: str
):
    url = f"{registry.url}/v2/{repo}/blobs/uploads/{uuid.uuid4()}"
    if method == "PUT":
        url = with_query(url, {"digest": digest_of(b"x")})
    resp = session.request(
        method,
        url,
        data=b"x" if method in ("PATCH", "PUT") else None,
        headers={"Content-Type": OCTET_STREAM},
    )
    assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")


def test_session_is_bound_to_its_repository(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str
):
    """An upload id opened in one repository is unknown under another repository's name."""
    url = start_upload(session, registry.url, repo)
    upload_id = urlsplit(url).path.rsplit("/", 1)[1]
    push_blob(session, registry.url, other_repo, b"make other repo exist")
    resp = session.get(f"{registry.url}/v2/{other_repo}/blobs/uploads/{upload_id}")
    assert_error(resp, 404, "BLOB_UPLOAD_UNKNOWN")


# --- end-11: cross-repository mount -----------------------------------------------------------


def test_mount_from_other_repository(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str
):
    data = random_bytes(4000)
    digest = push_blob(session, registry.url, other_repo, data)
    assert session.head(f"{registry.url}/v2/{repo}/blobs/{digest}").status_code == 404
    resp = session.post(
        f"{registry.url}/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": other_repo}
    )
    assert resp.status_code == 201, resp.text
    _assert_blob_location(resp, repo, digest)
    _assert_blob(session, registry, repo, data, digest)


def test_mount_without_from_finds_blob_in_any_repository(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str
):
    """Automatic content discovery (the conformance suite's anonymous mount): 201."""
    data = random_bytes(100)
    digest = digest_of(data)
    push_blob(session, registry.url, other_repo, data)
    resp = session.post(f"{registry.url}/v2/{repo}/blobs/uploads/", params={"mount": digest})
    assert resp.status_code == 201, resp.text
    assert resp.headers["Docker-Content-Digest"] == digest
    _assert_blob(session, registry, repo, data, digest)


@pytest.mark.parametrize(
    "case", ["blob-not-in-from", "unknown-from-repo", "no-from", "deleted-in-from"]
)
def test_mount_falls_back_to_upload_session(
    registry: HaregServer, session: requests.Session, repo: str, other_repo: str, case: str
):
    data = random_bytes(100)
    digest = digest_of(data)
    push_blob(session, registry.url, other_repo, b"other content")
    params = {"mount": digest, "from": other_repo}
    if case == "unknown-from-repo":
        params["from"] = f"nonexistent-{uuid.uuid4().hex[:8]}"
    elif case == "no-from":
        del params["from"]  # blob nowhere: automatic content discovery finds nothing
    elif case == "deleted-in-from":
        push_blob(session, registry.url, other_repo, data)
        resp = session.delete(f"{registry.url}/v2/{other_repo}/blobs/{digest}")
        assert resp.status_code == 202
    resp = session.post(f"{registry.url}/v2/{repo}/blobs/uploads/", params=params)
    assert resp.status_code == 202, resp.text
    assert urlsplit(resp.headers["Location"]).path.startswith(f"/v2/{repo}/blobs/uploads/")
    # the fallback is a normal session: it completes
    url = resolve(registry.url, resp.headers["Location"])
    resp = _put(session, url, digest, data)
    assert resp.status_code == 201, resp.text
    _assert_blob(session, registry, repo, data, digest)
