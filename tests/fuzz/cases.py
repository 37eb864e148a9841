# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Hostile requests for every route of the app, drawn from fixed pools by a seeded RNG.

Each pool mixes valid values (so that requests get past the first check and reach deeper
code) with the classes of bad input issue 14 lists: oversized numbers, NUL and control
bytes, path traversal, over-long strings, non-ASCII, deep and huge JSON. The generator is
deterministic for a seed, so a failure names a case that can be replayed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from urllib.parse import quote

HUGE = "9" * 5000
VALID_DIGEST = "sha256:" + "0" * 64

#: What a route's path variables may be, by variable name.
NAMES = ["fuzz/base", "fuzz/other", "a", "A/B", "a/../b", "../../etc", "a\x00b", "a\nb",
         "a" * 300, "ü/ñ", "a//b", "a/", "-a", "a.", "fuzz/base\n", "%2e%2e/x", "a b"]
DIGESTS = [VALID_DIGEST, "sha256:" + "A" * 64, "sha256:x", "md5:" + "0" * 32, "sha256:",
           ":", "sha256:" + "0" * 5000, "sha256:\x00", "sha512:" + "0" * 128, "..", HUGE,
           "sha256:" + "0" * 63 + "\n"]
TAGS = ["latest", "v1", "x" * 129, "a\x00", "a\n", ".hidden", "-a", "ü", "", HUGE, "a:b",
        "..", "%00"]
UPLOAD_IDS = ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "..", "a\x00", HUGE,
              "%2e%2e"]
FILENAMES = ["../../../etc/passwd", "x", "..%2f..%2fsetup.cfg", "a\x00"]
NAMESPACES = ["hub", "docker", "Hub", "a/b", "a\x00", "-a", "..", "x" * 300, "ü", ""]
PATH_POOLS: dict[str, list[str]] = {"name": NAMES, "digest": DIGESTS,
                                    "reference": TAGS + DIGESTS, "upload_id": UPLOAD_IDS,
                                    "filename": FILENAMES,
                                    # the web interface (hareg.ui)
                                    "repository": NAMES, "tag": TAGS,
                                    # the admin API (hareg.api.namespaces)
                                    "namespace": NAMESPACES}

#: Query parameters the API reads, and hostile values for them.
NUMBERS = ["0", "1", "-1", HUGE, "1e3", "0x10", "\x00", "", " 5", "\u0663", "99999999999999999999"]
TEXT = ["", "a", "a\x00b", "\x01", "x" * 1000, "ü", "../x", "%00", "a\nb"]
QUERY_POOLS: dict[str, list[str]] = {
    "n": NUMBERS,
    "last": TEXT + NAMES[:4],
    "digest": DIGESTS,
    "mount": DIGESTS,
    "from": NAMES + TEXT,
    "artifactType": [*TEXT, "application/vnd.example+json", "a/" + "b" * 300],
    "tag": TAGS,
    "digest-algorithm": ["sha256", "sha512", "md5", "\x00", HUGE],
    "scope": ["repository:a:pull", "x", "\x00", "repository:" + "a" * 600 + ":pull"],
    "service": ["x", "\x00"],
    # the web interface's parameters (hareg.ui)
    "q": TEXT + NAMES[:4],
    "after": TEXT + NAMES[:4],
    "prefix": TEXT + TAGS[:4],
    "before": NUMBERS,
    "repository": NAMES + TEXT,
    "next": ["/ui/", "https://evil.example/", "//evil.example", "/\\evil", *TEXT],
}

#: Request headers the API reads, and hostile values for them.
HEADER_POOLS: dict[str, list[str]] = {
    "Range": [f"bytes=0-{HUGE}", f"bytes={HUGE}-", f"bytes=-{HUGE}", "bytes=5-1",
              "bytes=0-0,1-1", "bytes=-0", "items=0-1", "bytes=\u0663-", "garbage"],
    "Content-Range": [f"0-{HUGE}", f"{HUGE}-{HUGE}", "5-1", "0-0", f"bytes 0-0/{HUGE}",
                      "bytes */*", "x-y", "0-9"],
    "Content-Type": ["application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.oci.image.index.v1+json", "application/json",
                     "text/plain", "a" * 1000, "application/octet-stream; x=\u00ff", ""],
    "Accept": ["*/*", "application/vnd.oci.image.index.v1+json", "a" * 5000, ";;;"],
    "Authorization": ["Basic !!!", "Bearer x.y.z", "Basic " + "A" * 5000, "Negotiate x"],
}


def _deep(depth: int) -> bytes:
    return b'{"schemaVersion": 2, "x": ' + b"[" * depth + b"]" * depth + b"}"


def _manifest(**extra: object) -> bytes:
    doc: dict[str, object] = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": VALID_DIGEST, "size": 2},
        "layers": []}
    doc.update(extra)
    return json.dumps(doc).encode()


BODIES: list[bytes] = [
    b"", b"x", b"\x00" * 100, bytes(range(256)), b"{}", b"[]", b"null", b"{" * 10,
    _deep(100_000), _deep(40), b'{"schemaVersion": ' + HUGE.encode() + b"}",
    b'{"schemaVersion": 2e999}', b'{"schemaVersion": NaN}', _manifest(),
    _manifest(annotations={f"k{i}": "v" for i in range(2000)}),
    _manifest(annotations={"a": "\u0000"}), _manifest(artifactType="a\u0000b"),
    _manifest(layers=[{"mediaType": "x", "digest": "sha256:" + "0" * 64, "size": -1}]),
    _manifest(subject={"mediaType": "x", "digest": "sha256:..", "size": 1}),
    _manifest(config={"mediaType": "x", "digest": VALID_DIGEST, "size": int(HUGE[:30])}),
    json.dumps({"source": "a/b:v1", "target": "c/d:v2"}).encode(),
    json.dumps({"source": "a\u0000:v1", "target": "../x"}).encode(),
    "\ufeff{}".encode(), b"\xff\xfe{\x00}\x00",
    # namespace definitions (the admin API)
    json.dumps({"kind": "remote", "url": "ftp://x"}).encode(),
    json.dumps({"kind": "remote", "url": "http://127.0.0.1:1", "tag_ttl": "1e309s"}).encode(),
    b'{"kind": "remote", "url": "http://127.0.0.1:1", "timeout": 1e999}',
    json.dumps({"kind": "virtual", "members": ["a", "a"], "deploy": "b"}).encode(),
    json.dumps({"kind": "virtual", "members": ["x" * 300] * 100}).encode(),
    json.dumps({"kind": "virtual", "members": "abc"}).encode(),
]


@dataclass
class Case:
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __str__(self) -> str:
        query = "&".join(f"{k}={v[:40]!r}" for k, v in self.query)
        headers = {k: v[:40] for k, v in self.headers.items()}
        return (f"{self.method} {self.path[:200]!r} ?{query} {headers} "
                f"body={self.body[:60]!r}({len(self.body)})")


def _fill(rule: str, rng: random.Random) -> str:
    """The rule with each ``<conv:var>`` replaced by a percent-encoded value from its pool."""
    out, rest = [], rule
    while "<" in rest:
        before, _, tail = rest.partition("<")
        spec, _, rest = tail.partition(">")
        var = spec.rpartition(":")[2]
        value = rng.choice(PATH_POOLS[var])
        slashes = var in ("name", "filename", "repository")
        out.append(before + quote(value, safe="/:" if slashes else ":"))
    return "".join(out) + rest


def make_case(rule: str, method: str, rng: random.Random) -> Case:
    case = Case(method, _fill(rule, rng))
    for key in rng.sample(sorted(QUERY_POOLS), rng.randint(0, 3)):
        case.query.append((key, rng.choice(QUERY_POOLS[key])))
        if key == "tag" and rng.random() < 0.3:
            case.query.append((key, rng.choice(QUERY_POOLS[key])))
    for key in rng.sample(sorted(HEADER_POOLS), rng.randint(0, 2)):
        case.headers[key] = rng.choice(HEADER_POOLS[key])
    if method in ("PUT", "PATCH", "POST"):
        case.body = rng.choice(BODIES)
    return case
