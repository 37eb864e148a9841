# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Bad input gets a 4xx in the spec's JSON format, never a 500 (issue 14, findings 6 and 7).

Against a real ``hareg serve`` (gunicorn, gevent): oversized numbers in Range, Content-Range
and manifests, deep and huge manifests, NUL bytes in query parameters, broken chunked
framing on a raw socket, and a client that goes away in the middle of a body.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from hareg.registry.formats import (
    MAX_ANNOTATIONS,
    MAX_DESCRIPTORS,
    MAX_JSON_DEPTH,
    MAX_JSON_TOKENS,
)
from tests.fixtures.server import HaregServer, ServerFactory
from tests.oci import (
    OCI_MANIFEST,
    assert_error,
    fake_digest,
    image_manifest,
    new_session,
    push_blob,
    push_image,
    random_blob,
    start_upload,
    with_query,
)

HUGE = "9" * 5000
SOCKET_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def server(module_server_factory: ServerFactory) -> HaregServer:
    return module_server_factory.create("filesystem", name="bad-input", workers=1)


@pytest.fixture
def s() -> Iterator[requests.Session]:
    with new_session() as session:
        yield session


def _put_manifest(s: requests.Session, server: HaregServer, repo: str, payload: bytes,
                  reference: str = "v1") -> requests.Response:
    return s.put(f"{server.url}/v2/{repo}/manifests/{reference}", data=payload,
                 headers={"Content-Type": OCI_MANIFEST}, timeout=60)


def _manifest_with(**extra: object) -> bytes:
    doc = json.loads(image_manifest().data)
    doc.update(extra)
    return json.dumps(doc).encode()


# ------------------------------------------------------------------- manifests (6 and 7)

@pytest.mark.parametrize("payload", [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="array-100000-deep"),
    pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="object-100000-deep"),
    pytest.param(b'{"schemaVersion": ' + HUGE.encode() + b"}", id="5000-digit-integer"),
    pytest.param(_manifest_with(x={"a": float("inf")}), id="infinity"),
    pytest.param(_manifest_with(annotations={"a": "b\u0000c"}), id="nul-in-annotation"),
    pytest.param(_manifest_with(artifactType="a\u0000b"), id="nul-in-artifact-type"),
    pytest.param(b'{"schemaVersion": NaN}', id="nan"),
    pytest.param(_manifest_with(x=json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)),
                 id="just-too-deep"),
])
def test_malformed_manifests_are_400(server: HaregServer, s: requests.Session, repo: str,
                                     payload: bytes) -> None:
    resp = _put_manifest(s, server, repo, payload)
    assert_error(resp, 400, "MANIFEST_INVALID")


def test_manifest_limits(server: HaregServer, s: requests.Session, repo: str) -> None:
    """Finding 6: a 4 MiB manifest of 260,000 annotations is refused before the schema runs,
    and so are too many annotations or descriptors; the limits themselves are accepted."""
    huge = _manifest_with(annotations={f"k{i}": "v" for i in range(260_000)})
    assert len(huge) > 4_000_000
    assert "more than" in assert_error(_put_manifest(s, server, repo, huge), 400,
                                       "MANIFEST_INVALID")["message"]
    tokens = _manifest_with(x=[1] * MAX_JSON_TOKENS)
    assert_error(_put_manifest(s, server, repo, tokens), 400, "MANIFEST_INVALID")
    too_many = _manifest_with(annotations={f"k{i}": "v" for i in range(MAX_ANNOTATIONS + 1)})
    assert_error(_put_manifest(s, server, repo, too_many), 400, "MANIFEST_INVALID")
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 1,
             "digest": fake_digest()}
    layers = _manifest_with(layers=[layer] * (MAX_DESCRIPTORS + 1))
    assert_error(_put_manifest(s, server, repo, layers), 400, "MANIFEST_INVALID")
    # at the limits: valid, so the next check (the blobs exist) answers
    config = random_blob(10)
    push_blob(s, server.url, repo, config)
    at_limit = _manifest_with(
        annotations={f"k{i}": "v" for i in range(MAX_ANNOTATIONS)},
        config={"mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config.digest, "size": config.size},
        layers=[])
    assert _put_manifest(s, server, repo, at_limit).status_code == 201
    many = _manifest_with(layers=[layer] * MAX_DESCRIPTORS)
    assert_error(_put_manifest(s, server, repo, many), 400, "MANIFEST_BLOB_UNKNOWN")


# ------------------------------------------------------------- numbers in range headers

def test_range_with_huge_numbers(server: HaregServer, s: requests.Session, repo: str) -> None:
    blob = random_blob(100)
    push_blob(s, server.url, repo, blob)
    url = f"{server.url}/v2/{repo}/blobs/{blob.digest}"
    past_end = s.get(url, headers={"Range": f"bytes={HUGE}-"}, timeout=30)
    assert_error(past_end, 416)
    assert past_end.headers["Content-Range"] == "bytes */100"
    whole = s.get(url, headers={"Range": f"bytes=0-{HUGE}"}, timeout=30)
    assert whole.status_code == 206 and whole.content == blob.data
    assert whole.headers["Content-Range"] == "bytes 0-99/100"
    suffix = s.get(url, headers={"Range": f"bytes=-{HUGE}"}, timeout=30)
    assert suffix.status_code == 206 and suffix.content == blob.data


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_content_range_with_huge_numbers(server: HaregServer, s: requests.Session, repo: str,
                                         method: str) -> None:
    url = start_upload(s, server.url, repo)
    if method == "PUT":
        url = with_query(url, {"digest": fake_digest()})
    for value in (f"0-{HUGE}", f"{HUGE}-{HUGE}", f"bytes 0-0/{HUGE}"):
        resp = s.request(method, url, data=b"x", headers={"Content-Range": value}, timeout=30)
        assert 400 <= resp.status_code < 500, (value, resp.text)
        assert_error(resp, resp.status_code, "BLOB_UPLOAD_INVALID")


# --------------------------------------------------------------- NUL in query parameters

def test_nul_in_query_parameters(server: HaregServer, s: requests.Session, repo: str) -> None:
    manifest = image_manifest()
    push_image(s, server.url, repo, manifest, "v1")
    base = f"{server.url}/v2/{repo}"
    for url in (f"{base}/tags/list?last=a%00b", f"{server.url}/v2/_catalog?last=a%00b",
                f"{base}/tags/list?n=1&last=%01", f"{base}/tags/list?last={'x' * 300}",
                f"{base}/referrers/{manifest.digest}?artifactType=a%00b"):
        assert_error(s.get(url, timeout=30), 400, "UNSUPPORTED")
    for query in ({"mount": manifest.blobs[0].digest, "from": "a\x00b"},
                  {"mount": manifest.blobs[0].digest, "from": "NOT A NAME"}):
        resp = s.post(f"{base}/blobs/uploads/", params=query, timeout=30)
        assert resp.status_code == 202, resp.text  # no such source: a new upload session
    for query in ({"mount": "sha256:\x00", "from": repo}, {"digest": "sha256:\x00"}):
        assert_error(s.post(f"{base}/blobs/uploads/", params=query, timeout=30), 400,
                     "DIGEST_INVALID")
    assert_error(s.put(f"{base}/manifests/v2", params={"tag": "a\x00"}, data=manifest.data,
                       headers={"Content-Type": OCI_MANIFEST}, timeout=30),
                 400, "MANIFEST_INVALID")


# ------------------------------------------------------ raw sockets: framing, disconnects

def _raw(server: HaregServer, request: bytes, close_after: bool = False) -> bytes:
    """Send ``request`` bytes; the whole answer (or what came before the server closed)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(request)
        if close_after:
            sock.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        deadline = time.monotonic() + SOCKET_TIMEOUT
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _status_and_json(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body)


def _chunked(method: str, path: str, host: str, body: bytes) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
            ).encode() + body


BROKEN_FRAMING = {
    "bad-size": b"zz\r\nabc\r\n0\r\n\r\n",
    "missing-terminator": b"3\r\nabcdef\r\n0\r\n\r\n",
    "size-line-without-crlf": b"3" * 10_000,
}


@pytest.mark.parametrize("framing", BROKEN_FRAMING.values(), ids=BROKEN_FRAMING.keys())
@pytest.mark.parametrize("method", ["PATCH", "PUT", "PUT-manifest"])
def test_broken_chunked_framing(server: HaregServer, s: requests.Session, repo: str,
                                method: str, framing: bytes) -> None:
    if method == "PUT-manifest":
        path, verb, code = f"/v2/{repo}/manifests/v1", "PUT", "MANIFEST_INVALID"
    else:
        url = start_upload(s, server.url, repo)
        path = url.removeprefix(server.url)
        if method == "PUT":
            path = with_query(path, {"digest": fake_digest()})
        verb, code = method, "BLOB_UPLOAD_INVALID"
    raw = _raw(server, _chunked(verb, path, server.host, framing),
               close_after=framing.startswith(b"3" * 100))
    status, body = _status_and_json(raw)
    assert 400 <= status < 500, raw[:500]
    assert body["errors"][0]["code"] == code, raw[:500]
    assert s.get(f"{server.url}/v2/", timeout=30).status_code == 200


def test_client_disconnect_mid_body_is_logged_as_such(server: HaregServer, s: requests.Session,
                                                      repo: str) -> None:
    """A body cut by the client, with a Content-Length and chunked, on PATCH, PUT and a
    manifest PUT: each request logs the disconnect (matched by its own request id, not by
    lines other tests of this module left) and ends as a 400, never as an unhandled error."""
    targets = []
    for method in ("PATCH", "PUT", "PUT-manifest"):
        if method == "PUT-manifest":
            targets.append(("PUT", f"/v2/{repo}/manifests/v1"))
            continue
        path = start_upload(s, server.url, repo).removeprefix(server.url)
        targets.append((method, path if method == "PATCH"
                        else with_query(path, {"digest": fake_digest()})))
    requests_sent = []
    for method, path in targets:
        requests_sent.append((f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                              "Content-Type: application/octet-stream\r\n\r\n").encode()
                             + b"a" * 1000)
        requests_sent.append(_chunked(method, path, "x", b"10000\r\n" + b"a" * 1000))
    ids = []
    for request in requests_sent:
        head = _raw(server, request, close_after=True).partition(b"\r\n\r\n")[0].decode()
        found = re.search(r"(?im)^x-request-id: (\S+)$", head)
        assert found, head
        ids.append(found.group(1))

    def logged(request_id: str) -> bool:
        return any(request_id in line and "client disconnected during the body" in line
                   for line in server.log_tail(2_000_000).splitlines())

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(logged(i) for i in ids):
        time.sleep(0.2)
    log = server.log_tail(2_000_000)
    missing = [request.partition(b"\r\n")[0].decode() + (" (chunked)" if b"chunked" in request
                                                          else " (Content-Length)")
               for request, i in zip(requests_sent, ids, strict=True) if not logged(i)]
    assert not missing, f"not logged as a disconnect: {missing}\n{log[-3000:]}"
    assert "unhandled error" not in log, log[-3000:]
    assert "dependency failure" not in log, log[-3000:]
    assert s.get(f"{server.url}/v2/", timeout=30).status_code == 200
