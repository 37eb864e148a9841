# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Test content (blobs, manifests) and the registry operations a scenario is made of.

Every operation checks what it gets back (status codes, digests, bodies) and raises
:class:`~benchmarks.httpclient.VerifyError` on any difference, so a scenario with errors reports
them instead of a speed. Both registries receive exactly the same requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from .httpclient import Connection, Reply, VerifyError

MIB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
ACCEPT = (("Accept", ", ".join((
    OCI_MANIFEST, OCI_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"))),)
OCTETS = (("Content-Type", "application/octet-stream"),)
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def sha256_digest(data: bytes | bytearray | memoryview) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------- content


class Content:
    """Random bytes to cut unique blobs from: one shared random block, a unique 32-byte head
    per blob (enough to make every digest distinct without generating gigabytes)."""

    def __init__(self, size: int) -> None:
        self.base = os.urandom(size)
        self.counter = 0

    def blob(self, size: int, label: str) -> Blob:
        self.counter += 1
        head = hashlib.sha256(f"{label}/{self.counter}/{os.getpid()}".encode()).digest()
        data = head[: min(32, size)] + self.base[32:size] if size > 32 else head[:size]
        return Blob(sha256_digest(data), size, data)

    def big(self, size: int, label: str) -> BigBlob:
        """A blob too large to hold: streamed as 1 MiB chunks, the first one unique."""
        self.counter += 1
        head = hashlib.sha256(f"{label}/{self.counter}/{os.getpid()}".encode()).digest()
        blob = BigBlob("", size, head + self.base[32:MIB], self.base[:MIB])
        hasher = hashlib.sha256()
        for chunk in blob.chunks():
            hasher.update(chunk)
        blob.digest = "sha256:" + hasher.hexdigest()
        return blob


@dataclass
class Blob:
    digest: str
    size: int
    data: bytes

    def descriptor(self, media_type: str) -> dict:
        return {"mediaType": media_type, "digest": self.digest, "size": self.size}


@dataclass
class BigBlob:
    digest: str
    size: int
    first: bytes
    rest: bytes

    def chunk(self, index: int) -> bytes:
        """The expected bytes of chunk ``index`` (1 MiB each; b"" past the end)."""
        start = index * MIB
        if start >= self.size:
            return b""
        n = min(MIB, self.size - start)
        source = self.first if index == 0 else self.rest
        return source if n == MIB else source[:n]

    def chunks(self) -> Iterator[memoryview]:
        sent = 0
        block = memoryview(self.rest)
        while sent < self.size:
            n = min(MIB, self.size - sent)
            yield memoryview(self.first)[:n] if sent == 0 else block[:n]
            sent += n


@dataclass
class Manifest:
    payload: bytes
    digest: str
    media_type: str = OCI_MANIFEST


def image_manifest(config: Blob, layers: list[Blob], note: str, *,
                   artifact_type: str | None = None, subject: Manifest | None = None,
                   config_type: str = OCI_CONFIG) -> Manifest:
    doc: dict = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = config.descriptor(config_type)
    doc["layers"] = [b.descriptor(OCI_LAYER) for b in layers]
    if subject is not None:
        doc["subject"] = {"mediaType": subject.media_type, "digest": subject.digest,
                          "size": len(subject.payload)}
    doc["annotations"] = {"org.example.bench.note": note}
    payload = json.dumps(doc, separators=(",", ":")).encode()
    return Manifest(payload, sha256_digest(payload))


# ---------------------------------------------------------------------- operations


def expect(reply: Reply, status: int, what: str) -> None:
    if reply.status != status:
        detail = reply.body[:200].decode("utf-8", "replace") if reply.body else ""
        raise VerifyError(f"{what}: HTTP {reply.status}, expected {status} {detail}")


def expect_header(reply: Reply, name: str, value: str, what: str) -> None:
    got = reply.header(name)
    if got != value:
        raise VerifyError(f"{what}: {name} is {got[:100]!r}, expected {value[:100]!r}")


def location(reply: Reply) -> str:
    loc = reply.header("location")
    if not loc:
        raise VerifyError("no Location header")
    if loc.startswith(("http://", "https://")):
        loc = "/" + loc.split("/", 3)[3]
    return loc


def with_query(path: str, **params: str) -> str:
    query = "&".join(f"{k}={quote(v, safe=':')}" for k, v in params.items())
    return f"{path}{'&' if '?' in path else '?'}{query}"


def start_upload(conn: Connection, repo: str) -> str:
    r = conn.request("POST", f"/v2/{repo}/blobs/uploads/")
    expect(r, 202, "POST upload")
    return location(r)


def push_monolithic(conn: Connection, repo: str, blob: Blob | BigBlob) -> int:
    """POST, then the whole blob in one PUT (end-4a + end-6): what every client supports."""
    loc = start_upload(conn, repo)
    if isinstance(blob, BigBlob):
        r = conn.request("PUT", with_query(loc, digest=blob.digest), OCTETS, blob.chunks(),
                         body_length=blob.size)
    else:
        r = conn.request("PUT", with_query(loc, digest=blob.digest), OCTETS, blob.data)
    expect(r, 201, "PUT blob")
    expect_header(r, "docker-content-digest", blob.digest, "PUT blob")
    return blob.size


def push_chunked(conn: Connection, repo: str, blob: Blob, chunk: int) -> int:
    """POST, PATCHes of ``chunk`` bytes with Content-Range, then an empty PUT."""
    loc = start_upload(conn, repo)
    view = memoryview(blob.data)
    offset = 0
    while offset < blob.size:
        part = view[offset : offset + chunk]
        end = offset + len(part) - 1
        r = conn.request("PATCH", loc, (*OCTETS, ("Content-Range", f"{offset}-{end}")), part)
        expect(r, 202, "PATCH")
        expect_header(r, "range", f"0-{end}", "PATCH")
        loc = location(r)
        offset = end + 1
    r = conn.request("PUT", with_query(loc, digest=blob.digest))
    expect(r, 201, "PUT (close upload)")
    expect_header(r, "docker-content-digest", blob.digest, "PUT (close upload)")
    return blob.size


def pull_blob(conn: Connection, repo: str, blob: Blob | BigBlob) -> int:
    """GET a blob: compared byte for byte with what was pushed (memcmp, cheaper than hashing
    the way the client would; big blobs chunk by chunk)."""
    path = f"/v2/{repo}/blobs/{blob.digest}"
    if isinstance(blob, BigBlob):
        r = conn.request("GET", path, expect_chunks=blob.chunk)
        expect(r, 200, "GET blob")
    else:
        r = conn.request("GET", path, expect_body=blob.data)
        expect(r, 200, "GET blob")
    expect_header(r, "docker-content-digest", blob.digest, "GET blob")
    return blob.size


_REDIRECT_TARGETS = threading.local()  # per client thread: (host, port) -> keep-alive Connection


def _redirect_connection(host: str, port: int) -> Connection:
    conns = getattr(_REDIRECT_TARGETS, "conns", None)
    if conns is None:
        conns = _REDIRECT_TARGETS.conns = {}
    if (host, port) not in conns:
        conns[(host, port)] = Connection(host, port)
    return conns[(host, port)]


def pull_blob_redirected(conn: Connection, repo: str, blob: Blob) -> int:
    """GET a blob from a registry that redirects blob GETs: expects a 307, then GETs the
    Location (a presigned URL on the S3 server, on a keep-alive connection of this thread)
    and compares the bytes, as :func:`pull_blob` does."""
    path = f"/v2/{repo}/blobs/{blob.digest}"
    r = conn.request("GET", path)
    expect(r, 307, "GET blob (redirect)")
    url = urlsplit(r.header("location"))
    if url.scheme != "http" or not url.hostname or not url.port:
        raise VerifyError(f"GET blob: unexpected Location {r.header('location')[:80]!r}")
    target = url.path + (f"?{url.query}" if url.query else "")
    r = _redirect_connection(url.hostname, url.port).request("GET", target,
                                                             expect_body=blob.data)
    expect(r, 200, "GET presigned URL")
    return blob.size


def list_page(conn: Connection, path: str, key: str, count: int) -> int:
    """One page of a listing (tags or catalog): exactly ``count`` items, in byte order."""
    r = conn.request("GET", path)
    expect(r, 200, f"GET {path}")
    items = json.loads(r.body)[key] or []
    if len(items) != count or items != sorted(items):
        raise VerifyError(f"GET {path}: {len(items)} items, expected {count} in order")
    return 0


def mount_blob(conn: Connection, repo: str, source: str, blob: Blob) -> int:
    path = with_query(f"/v2/{repo}/blobs/uploads/", mount=blob.digest, **{"from": source})
    r = conn.request("POST", path)
    expect(r, 201, "mount")
    return 0


def put_manifest(conn: Connection, repo: str, ref: str, m: Manifest) -> int:
    r = conn.request("PUT", f"/v2/{repo}/manifests/{ref}", (("Content-Type", m.media_type),),
                     m.payload)
    expect(r, 201, "PUT manifest")
    expect_header(r, "docker-content-digest", m.digest, "PUT manifest")
    return 0


def get_manifest(conn: Connection, repo: str, ref: str, m: Manifest) -> int:
    r = conn.request("GET", f"/v2/{repo}/manifests/{ref}", ACCEPT)
    expect(r, 200, "GET manifest")
    if r.body != m.payload:
        raise VerifyError("GET manifest: payload differs")
    expect_header(r, "docker-content-digest", m.digest, "GET manifest")
    if r.header("content-type").split(";")[0] != m.media_type:
        raise VerifyError(f"GET manifest: Content-Type {r.header('content-type')!r}")
    return 0


def head_manifest(conn: Connection, repo: str, ref: str, m: Manifest) -> int:
    r = conn.request("HEAD", f"/v2/{repo}/manifests/{ref}", ACCEPT)
    expect(r, 200, "HEAD manifest")
    expect_header(r, "docker-content-digest", m.digest, "HEAD manifest")
    expect_header(r, "content-length", str(len(m.payload)), "HEAD manifest")
    return 0


def _walk(conn: Connection, path: str, key: str, stats: dict[str, int] | None) -> list[str]:
    """GET a listing and follow its Link headers; returns every item in order."""
    items: list[str] = []
    pages = 0
    next_path: str | None = path
    while next_path:
        r = conn.request("GET", next_path)
        expect(r, 200, f"GET {path}")
        items += json.loads(r.body)[key] or []
        pages += 1
        m = _LINK.search(r.header("link"))
        next_path = m.group(1) if m else None
        if next_path and next_path.startswith("http"):
            next_path = "/" + next_path.split("/", 3)[3]
        if pages > 10_000:
            raise VerifyError("pagination does not end")
    if stats is not None:
        stats["pages"] = pages
    return items


def list_tags(conn: Connection, repo: str, n: int | None, expected: list[str],
              stats: dict[str, int] | None = None) -> int:
    path = f"/v2/{repo}/tags/list" + (f"?n={n}" if n else "")
    tags = _walk(conn, path, "tags", stats)
    if sorted(tags) != expected:
        raise VerifyError(f"tags/list: {len(tags)} tags, expected {len(expected)}")
    return 0


def walk_catalog(conn: Connection, n: int, expected: list[str],
                 stats: dict[str, int] | None = None) -> int:
    repos = _walk(conn, f"/v2/_catalog?n={n}", "repositories", stats)
    if len(set(repos)) != len(repos):
        raise VerifyError("catalog: a repository is listed twice")
    # Order is not checked: distribution lists in path-component order ("a/b" before "a-c"),
    # hareg in byte order; both are consistent with their own "last" parameter.
    missing = set(expected) - set(repos)
    if missing:
        raise VerifyError(f"catalog: {len(missing)} repositories missing")
    return 0


def get_referrers(conn: Connection, repo: str, subject: Manifest, artifact_type: str | None,
                  expected: set[str]) -> int:
    path = f"/v2/{repo}/referrers/{subject.digest}"
    if artifact_type:
        path = with_query(path, artifactType=artifact_type)
    r = conn.request("GET", path)
    expect(r, 200, "GET referrers")
    got = {d["digest"] for d in json.loads(r.body)["manifests"]}
    if got != expected:
        raise VerifyError(f"referrers: {len(got)} descriptors, expected {len(expected)}")
    return 0
