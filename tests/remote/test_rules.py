# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The pure rules of remote namespaces: path mapping, allow/deny, mirror hosts, the upstream
Accept, challenges and the TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hareg.registry.errors import NameUnknown
from hareg.registry.namespaces import Namespaces, Remote
from hareg.remote.paths import check_allowed, remote_for_host, upstream_path
from hareg.remote.pull import STORABLE, tag_is_fresh, upstream_accept
from hareg.remote.upstream import parse_challenge

HUB = Remote("hub", "https://registry-1.docker.io")
QUAY = Remote("quay", "https://quay.io")
LOCAL = Remote("loop", "http://127.0.0.1:5000", allow=("library/**", "team/*"),
               deny=("library/secret",))


@pytest.mark.parametrize(("remote", "path", "expected"), [
    (HUB, "alpine", "library/alpine"),
    (HUB, "library/alpine", "library/alpine"),
    (HUB, "bitnami/redis", "bitnami/redis"),
    (Remote("d", "https://docker.io"), "alpine", "library/alpine"),
    (QUAY, "alpine", "alpine"),
    (QUAY, "coreos/etcd", "coreos/etcd"),
])
def test_upstream_path(remote: Remote, path: str, expected: str) -> None:
    assert upstream_path(remote, path) == expected


@pytest.mark.parametrize(("path", "allowed"), [
    ("library/alpine", True), ("library/a/b", True), ("team/app", True),
    ("team/app/sub", False), ("library/secret", False), ("other/x", False),
])
def test_allow_and_deny(path: str, allowed: bool) -> None:
    if allowed:
        assert check_allowed(LOCAL, path) == path
    else:
        with pytest.raises(NameUnknown):
            check_allowed(LOCAL, path)


def test_no_patterns_allow_everything() -> None:
    assert check_allowed(QUAY, "any/thing") == "any/thing"


@pytest.mark.parametrize(("host", "found"), [
    ("docker.io", "hub"), ("registry-1.docker.io", "hub"), ("index.docker.io", "hub"),
    ("quay.io", "quay"), ("quay.io:443", "quay"), ("127.0.0.1:5000", "loop"),
    ("127.0.0.1:5001", None), ("ghcr.io", None),
])
def test_mirror_hosts(host: str, found: str | None) -> None:
    remote = remote_for_host(Namespaces([HUB, QUAY, LOCAL]), host)
    assert (remote.name if remote else None) == found


def test_upstream_accept_keeps_what_hareg_can_store() -> None:
    oci = "application/vnd.oci.image.manifest.v1+json"
    v1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    assert upstream_accept([f"{v1}, {oci};q=0.9"]) == oci
    assert upstream_accept([v1]) == ", ".join(STORABLE)
    assert upstream_accept([]) == ", ".join(STORABLE)
    assert upstream_accept(["*/*"]) == ", ".join(STORABLE)


def test_parse_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/alpine:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_tag_freshness() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    remote = Remote("hub", "https://quay.io", tag_ttl=60)
    assert tag_is_fresh(now - timedelta(seconds=59), remote, now)
    assert not tag_is_fresh(now - timedelta(seconds=61), remote, now)
    assert not tag_is_fresh(None, remote, now)  # local tag, or restored by rebuild-db
