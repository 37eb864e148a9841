# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""X-Forwarded-* are believed from [server] trusted_proxies only (hareg.server.proxy)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, jsonify, request
from werkzeug.test import Client

from hareg.config import load_config
from hareg.server.proxy import TrustedProxies
from hareg.server.runner import gunicorn_settings


def _client(trusted: list[str]) -> Client:
    app = Flask("probe")

    @app.get("/probe")
    def probe() -> Any:
        return jsonify(url_root=request.url_root, host_url=request.host_url,
                       remote_addr=request.remote_addr, scheme=request.scheme,
                       forwarded=request.headers.get("X-Forwarded-For"))

    app.wsgi_app = TrustedProxies(app.wsgi_app, trusted)  # type: ignore[method-assign]
    return app.test_client()


FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "registry.example.com",
    "X-Forwarded-For": "203.0.113.7, 10.0.0.10",
}


def _get(client: Client, peer: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    resp = client.get("/probe", headers=headers or FORWARDED,
                      environ_base={"REMOTE_ADDR": peer}, base_url="http://10.0.0.5:5000")
    return resp.get_json()


def test_trusted_peer_sets_scheme_host_and_client() -> None:
    body = _get(_client(["10.0.0.0/24"]), "10.0.0.10")
    assert body["url_root"] == "https://registry.example.com/"
    assert body["host_url"] == "https://registry.example.com/"
    assert body["scheme"] == "https"
    # 10.0.0.10 is a trusted hop itself: the client is the first untrusted from the right
    assert body["remote_addr"] == "203.0.113.7"


def test_untrusted_peer_is_ignored_and_headers_are_dropped() -> None:
    body = _get(_client(["10.0.0.10"]), "198.51.100.9")
    assert body["url_root"] == "http://10.0.0.5:5000/"
    assert body["remote_addr"] == "198.51.100.9"
    assert body["forwarded"] is None  # nothing behind the middleware can be fooled


def test_empty_list_trusts_nobody_not_even_loopback() -> None:
    body = _get(_client([]), "127.0.0.1")
    assert body["url_root"] == "http://10.0.0.5:5000/"
    assert body["remote_addr"] == "127.0.0.1"


def test_spoofed_chain_stops_at_first_untrusted_hop() -> None:
    headers = dict(FORWARDED, **{"X-Forwarded-For": "1.2.3.4, 198.51.100.9"})
    body = _get(_client(["127.0.0.1"]), "127.0.0.1", headers)
    assert body["remote_addr"] == "198.51.100.9"  # what nginx saw; 1.2.3.4 is the client's claim


def test_host_with_port_and_ipv6_peer() -> None:
    headers = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "reg.example:8443"}
    body = _get(_client(["::1"]), "::1", headers)
    assert body["url_root"] == "http://reg.example:8443/"


def test_last_value_of_a_list_is_the_nearest_proxys() -> None:
    headers = {"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": "evil, good.example"}
    body = _get(_client(["127.0.0.1"]), "127.0.0.1", headers)
    assert body["url_root"] == "https://good.example/"


@pytest.mark.parametrize("trusted,expected", [([], ""), (["10.0.0.1", "10.1.0.0/16"],
                                                         "10.0.0.1,10.1.0.0/16")])
def test_gunicorn_trusts_exactly_the_configured_proxies(trusted: list[str], expected: str) -> None:
    config = load_config(env={"HAREG_SERVER_TRUSTED_PROXIES": ",".join(trusted)})
    settings = gunicorn_settings(config, "127.0.0.1:5000", 1)
    assert settings["forwarded_allow_ips"] == expected
    assert settings["secure_scheme_headers"] == {"X-FORWARDED-PROTO": "https"}
