# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The request log, request ids and JSON output of a real ``hareg serve`` (hareg.server.requestlog).

One server for the module: ``[log] format = "json"``, basic auth with one user, and
127.0.0.2 as its only trusted proxy, so a client connecting from 127.0.0.2 plays nginx and
one connecting from 127.0.0.1 is an ordinary (untrusted) client.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import socket
import ssl
import struct
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from hareg.server.logs import REQUEST_ID, RequestIdFilter, TextFormatter
from hareg.server.requestlog import valid_request_id
from tests.auth.helpers import auth_toml, write_htpasswd
from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.oci import digest_of, image_manifest, random_bytes

PROXY = "127.0.0.2"
CLIENT = "127.0.0.1"
PASSWORD = "s3cret-for-logs"
LOG_WAIT = 10.0
BIG = 48 * 1024 * 1024  # far more than the socket buffers of both ends hold
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def server(module_server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory
           ) -> HaregServer:
    htpasswd = write_htpasswd(tmp_path_factory.mktemp("logs-users") / "htpasswd",
                              {"alice": PASSWORD})
    srv = module_server_factory.create("filesystem", name="request-log", start=False,
                                       workers=1)
    srv.config["server"]["trusted_proxies"] = [PROXY]
    srv.config["log"]["format"] = "json"
    auth = {"mode": "basic", "htpasswd": str(htpasswd), "anonymous_pull": ["open/**"],
            "rules": [{"subjects": ["alice"], "repositories": ["logs/**"], "actions": ["*"]}]}
    srv.config_path.write_text(to_toml(srv.config) + "\n" + auth_toml(auth))
    srv.start()
    return srv


class Answer:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def request_id(self) -> str:
        return self.headers["X-Request-Id"]


def call(server: HaregServer, method: str, path: str, body: bytes | None = None,
         headers: Mapping[str, str] | None = None, source: str = CLIENT,
         user: str | None = None, password: str = PASSWORD) -> Answer:
    """One request on a new connection from ``source`` (a loopback address)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30,
                                      source_address=(source, 0))
    all_headers = dict(headers or {})
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        all_headers["Authorization"] = f"Basic {token}"
    try:
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        return Answer(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        conn.close()


def log_lines(server: HaregServer) -> Iterator[str]:
    """Every line hareg wrote (the harness's own ``===== start`` markers left out)."""
    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.strip() and not line.startswith("====="):
            yield line


def entries(server: HaregServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_lines(server)]


def wait_for(server: HaregServer, request_id: str, logger: str = "hareg.request"
             ) -> dict[str, Any]:
    """The ``logger`` entry of a request (written when the response is closed: poll)."""
    deadline = time.monotonic() + LOG_WAIT
    while True:
        found = [e for e in entries(server)
                 if e.get("request_id") == request_id and e["logger"] == logger]
        if found:
            assert len(found) == 1, found
            return found[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no {logger} line for request {request_id}:\n{server.log_tail()}")
        time.sleep(0.05)


def test_push_and_pull_are_logged_with_sizes_status_user_and_repository(server: HaregServer):
    manifest = image_manifest()
    for blob in manifest.blobs:
        pushed = call(server, "POST", f"/v2/logs/app/blobs/uploads/?digest={blob.digest}",
                      blob.data, {"Content-Type": "application/octet-stream"}, user="alice")
        assert pushed.status == 201, pushed.body
        entry = wait_for(server, pushed.request_id)
        assert entry["method"] == "POST" and entry["status"] == 201
        assert entry["bytes_in"] == blob.size and entry["bytes_out"] == len(pushed.body)
        assert entry["user"] == "alice" and entry["repository"] == "logs/app"
        assert entry["client"] == CLIENT
        assert entry["path"] == f"/v2/logs/app/blobs/uploads/?digest={blob.digest}"
        assert entry["level"] == "info" and entry["duration"] >= 0

    put = call(server, "PUT", "/v2/logs/app/manifests/v1", manifest.data,
               {"Content-Type": manifest.media_type}, user="alice")
    assert put.status == 201, put.body
    entry = wait_for(server, put.request_id)
    assert (entry["bytes_in"], entry["status"]) == (manifest.size, 201)

    # a manifest is an ordinary response body, a filesystem blob goes out by sendfile
    got = call(server, "GET", "/v2/logs/app/manifests/v1",
               headers={"Accept": manifest.media_type}, user="alice")
    assert got.status == 200 and got.body == manifest.data
    entry = wait_for(server, got.request_id)
    assert (entry["bytes_in"], entry["bytes_out"]) == (0, manifest.size)
    layer = manifest.blobs[-1]
    pulled = call(server, "GET", f"/v2/logs/app/blobs/{layer.digest}", user="alice")
    assert pulled.status == 200 and pulled.body == layer.data
    entry = wait_for(server, pulled.request_id)
    assert (entry["status"], entry["bytes_out"], entry["user"]) == (200, layer.size, "alice")
    head = call(server, "HEAD", f"/v2/logs/app/blobs/{layer.digest}", user="alice")
    assert head.status == 200
    assert wait_for(server, head.request_id)["bytes_out"] == 0

    anonymous = call(server, "GET", f"/v2/logs/app/blobs/{layer.digest}")
    assert anonymous.status == 401
    entry = wait_for(server, anonymous.request_id)
    assert entry["user"] is None and entry["repository"] == "logs/app"
    assert entry["bytes_out"] == len(anonymous.body) > 0


def test_a_cut_download_logs_what_was_sent(server: HaregServer):
    data = random_bytes(BIG)
    digest = digest_of(data)
    pushed = call(server, "POST", f"/v2/logs/big/blobs/uploads/?digest={digest}", data,
                  {"Content-Type": "application/octet-stream"}, user="alice")
    assert pushed.status == 201, pushed.body
    assert wait_for(server, pushed.request_id)["bytes_in"] == BIG

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    conn.request("GET", f"/v2/logs/big/blobs/{digest}", headers={"Authorization": f"Basic {token}"})
    resp = conn.getresponse()
    assert resp.status == 200
    request_id = resp.headers["X-Request-Id"]
    assert len(resp.read(64 * 1024)) == 64 * 1024
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # with unread data: a reset, the server's next write fails
    entry = wait_for(server, request_id)
    assert entry["status"] == 200
    assert 64 * 1024 <= entry["bytes_out"] < BIG


def test_request_id_is_taken_from_trusted_proxies_only(server: HaregServer):
    forwarded = {"X-Request-Id": "nginx-7f3a.1:b_c", "X-Forwarded-For": "203.0.113.9"}
    via_proxy = call(server, "GET", "/v2/", headers=forwarded, source=PROXY)
    assert via_proxy.request_id == "nginx-7f3a.1:b_c"
    entry = wait_for(server, "nginx-7f3a.1:b_c")
    assert entry["client"] == "203.0.113.9"

    direct = call(server, "GET", "/v2/", headers=forwarded, source=CLIENT)
    assert GENERATED_ID.fullmatch(direct.request_id), direct.request_id
    assert wait_for(server, direct.request_id)["client"] == CLIENT

    for unsafe in ("x" * 129, "two words", "a;b", ""):
        answer = call(server, "GET", "/v2/", headers={"X-Request-Id": unsafe}, source=PROXY)
        assert GENERATED_ID.fullmatch(answer.request_id), (unsafe, answer.request_id)
    for answer in (via_proxy, direct):
        assert [e for e in entries(server) if e.get("request_id") == answer.request_id]


def test_request_id_is_on_every_line_the_request_causes(server: HaregServer):
    """A wrong password is logged by hareg.auth; that line carries the request's id."""
    refused = call(server, "GET", "/v2/logs/app/tags/list", user="alice",
                   password="wrong", headers={"X-Request-Id": "req-wrong-password"},
                   source=PROXY)
    assert refused.status == 401
    assert refused.request_id == "req-wrong-password"  # error responses carry it too
    auth_line = wait_for(server, "req-wrong-password", logger="hareg.auth.service")
    assert "authentication failed for user 'alice'" in auth_line["message"]
    entry = wait_for(server, "req-wrong-password")
    assert entry["status"] == 401 and entry["user"] is None


def _tls_client_hello(port: int) -> None:
    """What skopeo or podman send first when they try HTTPS on a plain-HTTP port."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
          pytest.raises(ssl.SSLError)):
        context.wrap_socket(sock, server_hostname="localhost")


def test_every_line_is_json_and_tls_probes_are_not_warnings(server: HaregServer):
    _tls_client_hello(server.port)
    answer = call(server, "GET", "/v2/logs/nothing/manifests/none", user="alice")
    assert answer.status == 404
    wait_for(server, answer.request_id)
    server.stop()  # start-up and shutdown lines (gunicorn's, the pool's) included
    try:
        lines = list(log_lines(server))
        for line in lines:
            try:
                json.loads(line)
            except ValueError:
                pytest.fail(f"not a JSON line: {line!r}")
        loggers = {json.loads(line)["logger"] for line in lines}
        assert {"hareg", "gunicorn.error", "hareg.request"} <= loggers
        assert not [line for line in lines if "Invalid request" in line]
        assert not [line for line in lines if json.loads(line)["level"] == "warning"]
    finally:
        server.start()


def test_text_lines_carry_the_request_id_while_a_request_is_served() -> None:
    outside = REQUEST_ID.set(None)  # in-process requests of other tests leave theirs set
    try:
        record = logging.LogRecord("hareg.x", logging.INFO, __file__, 1, "hello %s", ("you",),
                                   None)
        RequestIdFilter().filter(record)
        assert TextFormatter().format(record).endswith(" INFO hareg.x: hello you")
    finally:
        REQUEST_ID.reset(outside)
    token = REQUEST_ID.set("abc")
    try:
        record = logging.LogRecord("hareg.x", logging.INFO, __file__, 1, "hi", (), None)
        RequestIdFilter().filter(record)
    finally:
        REQUEST_ID.reset(token)
    assert TextFormatter().format(record).endswith(" INFO hareg.x [abc]: hi")
    assert valid_request_id("a" * 128) and not valid_request_id("a" * 129)
