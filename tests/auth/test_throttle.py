# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Failed-login throttling and the bcrypt bound, in process: bcrypt calls counted by patching
it, the password check slots held by the test, and the throttle's maps with a fake clock."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from hareg.api.app import create_app
from hareg.auth.settings import AuthConfig
from hareg.auth.throttle import ADDRESS, PAIR, USER, LoginThrottle, address_key
from hareg.auth.web import EXTENSION
from hareg.config import ConfigError, RegistryConfig, load_config
from tests.auth.helpers import USERS, write_htpasswd

URL = "/v2/"


class Untouchable:
    """No database or storage: authentication needs neither (the metrics read these)."""

    in_use = size = waits = 0

    def __getattr__(self, attr: str) -> Any:
        raise AssertionError(f"{attr} used")


def make_app(tmp: Path, **auth: Any) -> Flask:
    htpasswd = write_htpasswd(tmp / "htpasswd", {"bob": USERS["bob"]})
    config = load_config(env={}, overrides={
        "database": {"url": "postgresql://unused/unused"},
        "auth": {"mode": "basic", "htpasswd": str(htpasswd), **auth},
    })
    registry = types.SimpleNamespace(db=Untouchable(), storage=Untouchable(),
                                     settings=RegistryConfig(), retention=())
    return create_app(config, registry=registry)  # type: ignore[arg-type]


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real: Callable[[bytes, bytes], bool] = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


@pytest.fixture
def client(tmp_path: Path) -> Iterator[FlaskClient]:
    app = make_app(tmp_path, max_failed_logins=3, max_concurrent_password_checks=2,
                   password_check_wait="0")
    with app.test_client() as c:
        yield c


def get(client: FlaskClient, password: str, address: str = "192.0.2.1") -> Any:
    return client.get(URL, auth=("bob", password), environ_base={"REMOTE_ADDR": address})


def test_throttled_attempts_do_not_run_bcrypt(client: FlaskClient,
                                              bcrypt_calls: list[bytes]) -> None:
    assert [get(client, "wrong").status_code for _ in range(3)] == [401] * 3
    assert len(bcrypt_calls) == 3
    for password in ["wrong"] * 50 + [USERS["bob"]]:
        resp = get(client, password)
        assert resp.status_code == 429
        assert resp.json["errors"][0]["code"] == "TOOMANYREQUESTS"
        assert int(resp.headers["Retry-After"]) >= 1
    assert len(bcrypt_calls) == 3
    assert get(client, USERS["bob"], "192.0.2.2").status_code == 200
    assert len(bcrypt_calls) == 4


def test_password_checks_wait_for_a_free_slot_or_get_503(
        client: FlaskClient, bcrypt_calls: list[bytes]) -> None:
    gate = client.application.extensions[EXTENSION].gate
    assert gate.slots == 2
    gate.semaphore.acquire()
    try:
        assert get(client, "wrong").status_code == 401  # one slot left
        gate.semaphore.acquire()
        try:
            resp = get(client, "wrong")
            assert resp.status_code == 503
            assert resp.json["errors"][0]["code"] == "UNAVAILABLE"
            assert resp.headers["Retry-After"] == "1"
            assert len(bcrypt_calls) == 1
        finally:
            gate.semaphore.release()
    finally:
        gate.semaphore.release()
    # a busy refusal is no failure: 2 more failures from there reach the limit of 3
    assert [get(client, "wrong").status_code for _ in range(3)] == [401, 401, 429]
    assert get(client, USERS["bob"], "192.0.2.9").status_code == 200
    assert len(bcrypt_calls) == 4


def test_cached_successes_need_no_slot(client: FlaskClient) -> None:
    assert get(client, USERS["bob"]).status_code == 200
    gate = client.application.extensions[EXTENSION].gate
    for _ in range(gate.slots):
        gate.semaphore.acquire()
    try:
        assert get(client, USERS["bob"]).status_code == 200
    finally:
        for _ in range(gate.slots):
            gate.semaphore.release()


def test_settings_defaults_and_validation() -> None:
    config = AuthConfig()
    assert (config.max_failed_logins, config.max_failed_logins_per_address,
            config.max_failed_logins_per_user) == (10, 50, 100)
    assert config.failed_login_window_seconds == 60
    assert (config.max_concurrent_password_checks, config.password_check_wait_seconds) == (2, 2)
    loaded = load_config(env={"HAREG_AUTH_MAX_FAILED_LOGINS": "4",
                              "HAREG_AUTH_FAILED_LOGIN_WINDOW": "5m"},
                         overrides={"database": {"url": "postgresql://unused/unused"}})
    assert loaded.auth.max_failed_logins == 4
    assert loaded.auth.failed_login_window_seconds == 300
    for key, value in (("failed_login_window", "0"), ("failed_login_window", "soon"),
                       ("max_concurrent_password_checks", 0), ("max_failed_logins", -1),
                       ("password_check_wait", "2m")):
        with pytest.raises(ConfigError, match=key):
            load_config(env={}, overrides={"database": {"url": "postgresql://unused/unused"},
                                           "auth": {key: value}})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, capacity: int = 1000, **limits: Any) -> LoginThrottle:
    config = AuthConfig(**{"max_failed_logins": 2, "max_failed_logins_per_address": 4,
                           "max_failed_logins_per_user": 6, "failed_login_window": "1m",
                           **limits})
    return LoginThrottle(config, clock=clock, capacity=capacity)


def fail(t: LoginThrottle, user: str, address: str, times: int) -> None:
    for _ in range(times):
        assert t.check(user, address) is None
        t.failed(user, address)


def test_limits_windows_and_retry_after() -> None:
    clock = Clock()
    t = throttle(clock)
    assert t.failed("u", "10.0.0.1") == []
    clock.now += 20
    assert t.failed("u", "10.0.0.1") == [PAIR]
    refused = t.check("u", "10.0.0.1")
    assert refused is not None and (refused.kind, refused.retry_after) == (PAIR, 40)
    clock.now += 39.5
    assert t.check("u", "10.0.0.1") == type(refused)(PAIR, 1)
    clock.now += 0.5
    assert t.check("u", "10.0.0.1") is None  # the window started at the first failure
    fail(t, "v", "10.0.0.2", 1)
    fail(t, "w", "10.0.0.2", 2)
    fail(t, "x", "10.0.0.2", 1)
    refused = t.check("y", "10.0.0.2")
    assert refused is not None and refused.kind == ADDRESS


def test_success_forgets_the_pair_but_not_the_address() -> None:
    clock = Clock()
    t = throttle(clock)
    fail(t, "u", "10.0.0.1", 1)
    fail(t, "other", "10.0.0.1", 2)
    t.succeeded("u", "10.0.0.1")
    fail(t, "u", "10.0.0.1", 1)  # the pair starts over; the address is at 4 now
    refused = t.check("u", "10.0.0.1")
    assert refused is not None and refused.kind == ADDRESS


def test_the_user_limit_exempts_known_addresses_for_a_day() -> None:
    clock = Clock()
    t = throttle(clock)
    t.succeeded("u", "10.0.0.9")
    for i in range(3):
        fail(t, "u", f"10.1.0.{i}", 2)
    refused = t.check("u", "10.2.0.1")
    assert refused is not None and refused.kind == USER
    assert t.check("u", "10.0.0.9") is None
    clock.now += 86_400
    fail(t, "u", "10.1.1.1", 2)
    fail(t, "u", "10.1.1.2", 2)
    fail(t, "u", "10.1.1.3", 2)
    refused = t.check("u", "10.0.0.9")  # no longer known
    assert refused is not None and refused.kind == USER


def test_ipv6_counts_per_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") \
        == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key(None) == ""
    t = throttle(Clock())
    fail(t, "u", "2001:db8::1", 1)
    t.failed("u", "2001:db8::2")
    assert t.check("u", "2001:db8::3") is not None


def test_memory_stays_bounded_under_spraying() -> None:
    clock = Clock()
    t = throttle(clock, capacity=100, max_failed_logins_per_address=0)
    for i in range(5000):
        t.failed(f"user{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        t.succeeded(f"ok{i}", f"10.9.{i // 256 % 256}.{i % 256}")
    assert all(size <= 100 for size in t.sizes())
    # the most recent keys are the ones kept
    fail(t, "user4999", "10.0.19.135", 1)
    assert t.check("user4999", "10.0.19.135") is not None
