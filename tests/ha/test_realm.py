# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Behind nginx the token realm names nginx's address; spoofed headers are ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.auth.helpers import USERS, Keys, auth_toml, write_htpasswd
from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.ha.conftest import wait_ready
from tests.oci import new_session

pytestmark = pytest.mark.ha


def _token_server(factory: ServerFactory, tmp_path: Path, trusted: list[str]) -> HaregServer:
    keys = Keys.create(tmp_path / f"keys-{len(trusted)}")
    htpasswd = write_htpasswd(tmp_path / f"htpasswd-{len(trusted)}", USERS)
    server = factory.create("filesystem", start=False, workers=1)
    server.config["server"]["trusted_proxies"] = trusted
    server.config_path.write_text(to_toml(server.config) + "\n" + auth_toml({
        "mode": "token", "htpasswd": str(htpasswd), "signing_key": str(keys.signing_path)}))
    server.start()
    wait_ready(server)
    return server


def _realm(response_headers: dict[str, str]) -> str:
    challenge = response_headers["WWW-Authenticate"]
    return challenge.split('realm="', 1)[1].split('"', 1)[0]


def test_realm_through_nginx_names_the_proxy(server_factory: ServerFactory, nginx_front,
                                             tmp_path: Path) -> None:
    server = _token_server(server_factory, tmp_path, ["127.0.0.1"])
    front = nginx_front([server])
    # nginx overwrites X-Forwarded-Proto/Host with what it saw itself
    resp = new_session().get(f"{front.url}/v2/", headers={"X-Forwarded-Proto": "https",
                                                          "X-Forwarded-Host": "evil.example"})
    assert resp.status_code == 401
    assert _realm(resp.headers) == f"{front.url}/token"


def test_spoofed_headers_from_an_untrusted_peer_are_ignored(server_factory: ServerFactory,
                                                            tmp_path: Path) -> None:
    server = _token_server(server_factory, tmp_path, [])
    resp = new_session().get(f"{server.url}/v2/", headers={"X-Forwarded-Proto": "https",
                                                           "X-Forwarded-Host": "evil.example"})
    assert resp.status_code == 401
    assert _realm(resp.headers) == f"{server.url}/token"
