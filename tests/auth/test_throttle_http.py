# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Failed logins are throttled (issue 14, finding 10), over real HTTP.

Each test speaks from its own addresses (127.0.0.1 is a trusted proxy, so ``X-Forwarded-For``
sets the client address) and with its own users, so the tests of this module do not share a
throttling key. The limits (``tests.auth.conftest``): 3 failures per (user, address), 5 per
address, 8 per user (addresses where the user logged in are exempt from that one).
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

import pytest
import requests

from tests.auth.conftest import start_with_auth
from tests.auth.helpers import HTTP_TIMEOUT, Keys, error_body, error_code, write_htpasswd
from tests.fixtures.server import HaregServer, ServerFactory
from tests.oci import new_session

PAIR_LIMIT, ADDRESS_LIMIT, USER_LIMIT = 3, 5, 8
THROTTLE_USERS = {f"t{i}": f"t{i}-" + secrets.token_hex(8) for i in range(1, 7)}


def _auth(htpasswd: Path, mode: str = "basic", window: str = "1h",
          **extra: object) -> dict[str, object]:
    return {"mode": mode, "htpasswd": str(htpasswd), "max_failed_logins": PAIR_LIMIT,
            "max_failed_logins_per_address": ADDRESS_LIMIT,
            "max_failed_logins_per_user": USER_LIMIT, "failed_login_window": window,
            **extra}


TRUST_LOCAL = {"trusted_proxies": ["127.0.0.1"]}


@pytest.fixture(scope="module")
def throttle_htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_htpasswd(tmp_path_factory.mktemp("throttle") / "htpasswd", THROTTLE_USERS)


@pytest.fixture(scope="module")
def throttled_basic(auth_factory: ServerFactory, throttle_htpasswd: Path) -> HaregServer:
    return start_with_auth(auth_factory, "throttle-basic", _auth(throttle_htpasswd),
                           server=TRUST_LOCAL)


@pytest.fixture(scope="module")
def throttled_token(auth_factory: ServerFactory, throttle_htpasswd: Path,
                    auth_keys: Keys) -> HaregServer:
    return start_with_auth(auth_factory, "throttle-token", _auth(
        throttle_htpasswd, mode="token", signing_key=str(auth_keys.signing_path)),
        server=TRUST_LOCAL)


@pytest.fixture(scope="module")
def short_window(auth_factory: ServerFactory, throttle_htpasswd: Path) -> HaregServer:
    return start_with_auth(auth_factory, "throttle-short", _auth(throttle_htpasswd,
                                                                  window="2s"),
                           server=TRUST_LOCAL)


_ADDRESS_COUNTER = iter(range(1, 60000))


def address() -> str:
    """A fresh client address for one test."""
    n = next(_ADDRESS_COUNTER)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def login(server: HaregServer, user: str, password: str, client: str) -> requests.Response:
    with new_session() as s:
        return s.get(f"{server.url}/v2/", auth=(user, password),
                     headers={"X-Forwarded-For": client}, timeout=HTTP_TIMEOUT)


def metric(server: HaregServer, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    with new_session() as s:
        text = s.get(f"{server.url}/metrics", timeout=HTTP_TIMEOUT).text
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if not m:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def assert_throttled(resp: requests.Response, max_retry_after: int = 3600) -> None:
    assert resp.status_code == 429, resp.text
    assert error_code(resp) == "TOOMANYREQUESTS"
    assert "WWW-Authenticate" not in resp.headers
    retry_after = resp.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= max_retry_after, retry_after


def test_wrong_passwords_are_throttled_without_running_bcrypt(
        throttled_basic: HaregServer) -> None:
    srv, client, user = throttled_basic, address(), "t1"
    failed_before = metric(srv, "hareg_auth_failed_logins_total")
    throttled_before = metric(srv, "hareg_auth_throttled_total", kind="user_address")
    for _ in range(PAIR_LIMIT):
        assert login(srv, user, "wrong", client).status_code == 401
    for _ in range(20):
        assert_throttled(login(srv, user, "wrong", client))
    # the right password gets the same answer: a throttled key is no password oracle
    assert_throttled(login(srv, user, THROTTLE_USERS[user], client))
    body = error_body(login(srv, user, "wrong", client))
    assert set(body) == {"errors"} and "retry" in body["errors"][0]["message"]
    # bcrypt ran for the PAIR_LIMIT failures only
    assert metric(srv, "hareg_auth_failed_logins_total") - failed_before == PAIR_LIMIT
    assert metric(srv, "hareg_auth_throttled_total",
                  kind="user_address") - throttled_before == 22


def test_the_user_still_logs_in_from_another_address(throttled_basic: HaregServer) -> None:
    srv, attacker, victim, user = throttled_basic, address(), address(), "t2"
    for _ in range(PAIR_LIMIT):
        assert login(srv, user, "wrong", attacker).status_code == 401
    assert_throttled(login(srv, user, "wrong", attacker))
    assert login(srv, user, THROTTLE_USERS[user], victim).status_code == 200
    assert login(srv, user, "typo", victim).status_code == 401  # the victim's own count


def test_an_address_spraying_user_names_is_throttled(throttled_basic: HaregServer) -> None:
    srv, sprayer = throttled_basic, address()
    before = metric(srv, "hareg_auth_throttled_total", kind="address")
    for i in range(ADDRESS_LIMIT):
        assert login(srv, f"nobody{i}-{secrets.token_hex(3)}", "x", sprayer).status_code == 401
    assert_throttled(login(srv, "another-" + secrets.token_hex(3), "x", sprayer))
    assert_throttled(login(srv, "t3", THROTTLE_USERS["t3"], sprayer))
    assert metric(srv, "hareg_auth_throttled_total", kind="address") - before == 2
    assert login(srv, "t3", THROTTLE_USERS["t3"], address()).status_code == 200


def test_the_user_limit_spares_addresses_the_user_logged_in_from(
        throttled_basic: HaregServer) -> None:
    srv, user, home = throttled_basic, "t4", address()
    assert login(srv, user, THROTTLE_USERS[user], home).status_code == 200
    failures = 0
    attackers = [address() for _ in range(USER_LIMIT // PAIR_LIMIT + 1)]
    for attacker in attackers:  # each stays under its own limits
        for _ in range(PAIR_LIMIT):
            if failures < USER_LIMIT:
                assert login(srv, user, "guess", attacker).status_code == 401
                failures += 1
    assert_throttled(login(srv, user, "guess", address()))
    assert_throttled(login(srv, user, THROTTLE_USERS[user], address()))
    assert login(srv, user, THROTTLE_USERS[user], home).status_code == 200


def test_the_limit_resets_after_the_window(short_window: HaregServer) -> None:
    srv, client, user = short_window, address(), "t5"
    statuses = [login(srv, user, "wrong", client).status_code for _ in range(PAIR_LIMIT + 1)]
    # a failure more than the limit within 2 s (the window starts at the first failure)
    assert statuses[-1] == 429 or statuses.count(401) == len(statuses), statuses
    deadline = time.monotonic() + 20
    status = -1
    while time.monotonic() < deadline:
        status = login(srv, user, THROTTLE_USERS[user], client).status_code
        if status == 200:
            break
        assert status == 429
        time.sleep(0.25)
    assert status == 200


def test_the_token_endpoint_is_throttled(throttled_token: HaregServer) -> None:
    srv, client, user = throttled_token, address(), "t6"
    url = f"{srv.url}/token"
    with new_session() as s:
        s.headers["X-Forwarded-For"] = client
        assert s.get(url, auth=(user, "wrong"), timeout=HTTP_TIMEOUT).status_code == 401
        form = {"grant_type": "password", "username": user, "password": "wrong"}
        assert s.post(url, data=form, timeout=HTTP_TIMEOUT).status_code == 401
        assert s.get(url, auth=(user, "wrong"), timeout=HTTP_TIMEOUT).status_code == 401
        for resp in (s.get(url, auth=(user, THROTTLE_USERS[user]), timeout=HTTP_TIMEOUT),
                     s.post(url, data={**form, "password": THROTTLE_USERS[user]},
                            timeout=HTTP_TIMEOUT)):
            assert_throttled(resp)
            body = resp.json()
            assert body["error"] == "temporarily_unavailable" and "token" not in body
            assert resp.headers["Cache-Control"] == "no-store"
        s.headers["X-Forwarded-For"] = address()
        resp = s.get(url, auth=(user, THROTTLE_USERS[user]), timeout=HTTP_TIMEOUT)
        assert resp.status_code == 200 and resp.json()["token"]
