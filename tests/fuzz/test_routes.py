# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Table-driven fuzz of every route (issue 14): hostile names, references, digests, query
parameters, headers and bodies never get a 500, errors are always the spec's JSON, nothing is
written outside the storage root, and the server answers afterwards.

The routes come from the app's URL map, so a new route is fuzzed without a change here; a
route whose path variable has no pool of values fails :func:`test_every_route_has_values`.
Most requests go through Flask's test client (fast, the same app); a short run goes against
a real ``hareg serve`` (gunicorn, gevent), including raw chunked bodies. Loops are bounded in
count and in time.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from hareg.api.app import create_app
from hareg.config import load_config
from hareg.db.migrate import apply_migrations
from tests.api.test_errors import SPEC_CODES
from tests.fixtures.server import HaregServer, ServerFactory
from tests.fuzz.cases import PATH_POOLS, Case, make_case
from tests.oci import image_manifest, new_session, push_image

pytestmark = pytest.mark.fuzz

SEED = int(os.environ.get("HAREG_FUZZ_SEED", "14"))
ROUNDS = 40               # cases per route and method, test client
MIN_ROUNDS = 10           # always run at least these, whatever the clock says
TIME_BUDGET = 20.0        # seconds for the test client run
SERVER_ROUNDS = 3         # cases per route and method against hareg serve
RAW_CASES = 12            # raw chunked requests against hareg serve
HTTP_TIMEOUT = 30.0

#: Routes answered by something other than the registry's JSON errors, and what they may answer.
NOT_JSON = {"static"}


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) of every route, HEAD and OPTIONS aside (HEAD is GET's)."""
    return sorted((rule.endpoint, rule.rule, method) for rule in app.url_map.iter_rules()
                  for method in rule.methods or () if method not in ("OPTIONS",))


def variables(rule: str) -> list[str]:
    return [m.rpartition(":")[2] for m in re.findall(r"<([^>]+)>", rule)]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only the storage root: whatever else appears was written outside."""
    parent = tmp_path_factory.mktemp("fuzz")
    (parent / "storage").mkdir()
    return parent


@pytest.fixture(scope="module")
def app(pg: Any, sandbox: Path) -> Flask:
    url = pg.fresh_database("hareg_fuzz")
    apply_migrations(url)
    config = load_config(env={}, overrides={
        "database": {"url": url},
        "storage": {"driver": "filesystem", "root": str(sandbox / "storage")},
    })
    return create_app(config)


def _seed(client: Any) -> None:
    """A repository with a blob, a tagged manifest and an open upload: valid values reach the
    code behind the first checks."""
    manifest = image_manifest()
    for blob in manifest.blobs:
        resp = client.post(f"/v2/fuzz/base/blobs/uploads/?digest={blob.digest}", data=blob.data)
        assert resp.status_code == 201, resp.data
    resp = client.put("/v2/fuzz/base/manifests/v1", data=manifest.data,
                      headers={"Content-Type": manifest.media_type})
    assert resp.status_code == 201, resp.data
    upload = client.post("/v2/fuzz/base/blobs/uploads/")
    PATH_POOLS["digest"].append(manifest.blobs[0].digest)
    PATH_POOLS["reference"].append(manifest.digest)
    PATH_POOLS["upload_id"].append(upload.headers["Location"].rpartition("/")[2])


#: What gunicorn itself answers, before the app sees a request, to a request it cannot parse
#: (a request line over 8190 bytes, a bad header): an HTML page, as nginx would answer.
PROTOCOL_ERRORS = frozenset({400, 414, 431})


def check(case: Case, endpoint: str, status: int, content_type: str, body: bytes,
          server: bool = False) -> None:
    """Never a 5xx; every error is the spec's JSON with a spec code."""
    assert status < 500, f"{status} for {case}: {body[:300]!r}"
    if status < 400 or case.method == "HEAD" or endpoint in NOT_JSON:
        return
    if endpoint.startswith("ui.") and content_type.startswith("text/html"):
        return  # the web interface answers its errors with pages
    if server and status in PROTOCOL_ERRORS and content_type.startswith("text/html"):
        return
    assert content_type.split(";")[0].strip() == "application/json", f"{case}: {content_type}"
    errors = json.loads(body)["errors"]
    assert errors and all(e["code"] in SPEC_CODES and isinstance(e["message"], str)
                          for e in errors), f"{case}: {body[:300]!r}"


def outside_files(sandbox: Path) -> list[str]:
    return sorted(str(p) for p in sandbox.iterdir() if p.name != "storage")


def test_every_route_has_values(app: Flask) -> None:
    """A new route is fuzzed automatically; a new path variable needs a pool of values."""
    found = routes(app)
    assert len(found) >= 18
    for _, rule, _ in found:
        for var in variables(rule):
            assert var in PATH_POOLS, f"no fuzz values for <{var}> of {rule}: add a pool"


@pytest.mark.slow
def test_fuzz_routes_with_test_client(app: Flask, sandbox: Path) -> None:
    client = app.test_client()
    _seed(client)
    rng = random.Random(SEED)
    table = routes(app)
    started, sent = time.monotonic(), 0
    statuses: dict[int, int] = {}
    for round_ in range(ROUNDS):
        if round_ >= MIN_ROUNDS and time.monotonic() - started > TIME_BUDGET:
            break
        for endpoint, rule, method in table:
            case = make_case(rule, method, rng)
            resp = client.open(case.path, method=method, query_string=case.query,
                               headers=case.headers, data=case.body)
            sent += 1
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            check(case, endpoint, resp.status_code, resp.headers.get("Content-Type", ""),
                  resp.get_data())
    print(f"\nfuzz (test client): {sent} requests over {len(table)} routes in"
          f" {time.monotonic() - started:.1f}s, statuses {sorted(statuses.items())}")
    assert outside_files(sandbox) == []
    assert client.get("/v2/").status_code == 200


# ------------------------------------------------------------------ against hareg serve

@pytest.fixture(scope="module")
def server(module_server_factory: ServerFactory) -> HaregServer:
    return module_server_factory.create("filesystem", name="fuzz", workers=1)


@pytest.fixture
def s() -> Iterator[requests.Session]:
    with new_session() as session:
        yield session


def _raw(server: HaregServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        deadline = time.monotonic() + HTTP_TIMEOUT
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_fuzz_routes_against_hareg_serve(app: Flask, server: HaregServer,
                                         s: requests.Session) -> None:
    manifest = image_manifest()
    push_image(s, server.url, "fuzz/base", manifest, "v1")
    rng = random.Random(SEED + 1)
    table = routes(app)
    sent = 0
    for _ in range(SERVER_ROUNDS):
        for endpoint, rule, method in table:
            case = make_case(rule, method, rng)
            try:
                resp = s.request(method, server.url + case.path, params=case.query,
                                 headers={k: v.encode("latin-1", "replace").decode("latin-1")
                                          for k, v in case.headers.items()},
                                 data=case.body, timeout=HTTP_TIMEOUT)
            except (requests.exceptions.InvalidHeader, ValueError):
                continue  # the client refuses to send it (a header with a NUL or newline)
            sent += 1
            check(case, endpoint, resp.status_code, resp.headers.get("Content-Type", ""),
                  resp.content, server=True)
    upload = s.post(f"{server.url}/v2/fuzz/base/blobs/uploads/", timeout=HTTP_TIMEOUT)
    path = upload.headers["Location"]
    framings = [b"zz\r\n", b"3\r\nabcdef\r\n", b"-1\r\n", b"ffffffffffffffffffff\r\nab",
                b"3;\x00\r\nabc\r\n0\r\n\r\n", b"0\r\nX-Trailer\x00: 1\r\n\r\n",
                b"3\r\nabc\r\n", b"1" * 100 + b"\r\n"]
    for i in range(RAW_CASES):
        method = ("PATCH", "PUT")[i % 2]
        target = path if method == "PATCH" else f"{path}?digest=sha256:{'0' * 64}"
        raw = _raw(server, (f"{method} {target} HTTP/1.1\r\nHost: x\r\n"
                            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
                   + rng.choice(framings))
        assert raw.startswith(b"HTTP/1.1 4") or raw == b"", raw[:300]
        assert b" 500 " not in raw.partition(b"\r\n")[0], raw[:300]
    print(f"\nfuzz (hareg serve): {sent} requests and {RAW_CASES} raw chunked bodies")
    assert s.get(f"{server.url}/v2/", timeout=HTTP_TIMEOUT).status_code == 200
    log = server.log_tail(2_000_000)
    assert "unhandled error" not in log, log[-3000:]
