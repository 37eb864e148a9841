# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""GET /v2/_catalog: sorted repository names with the same pagination as tags.

The catalog is global and other tests add repositories to it, so each test makes
repositories under a unique prefix and starts listing with ``last=<prefix>``: the
names right after the prefix in byte order are exactly this test's.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from tests.fixtures.server import HaregServer
from tests.oci import assert_error, get_all_pages, image_manifest, next_link, push_image

SUFFIXES = ["b", "a/x", "a", "c-d", "c.d", "c_d", "a/x/y", "0"]


@pytest.fixture(scope="module")
def repos(registry: HaregServer, module_session: requests.Session) -> tuple[str, list[str]]:
    """Repositories under a unique prefix, shared by this module's (read-only) tests."""
    session = module_session
    prefix = f"cat-{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}/{s}" for s in SUFFIXES]
    m = image_manifest()
    for name in names:
        push_image(session, registry.url, name, m, "t")
    return prefix, sorted(names)


def _catalog(session: requests.Session, registry: HaregServer, **params: str):
    return session.get(f"{registry.url}/v2/_catalog", params=params)


def _parse_link(resp: requests.Response) -> tuple[str, dict[str, str]]:
    """Check the Link header's shape; return its path and (decoded) query parameters."""
    header = resp.headers["Link"]
    assert header.startswith("<") and header.endswith('>; rel="next"'), header
    target = header[1 : -len('>; rel="next"')]
    parts = urlsplit(target)
    assert parts.scheme == "" and parts.netloc == "", f"Link is not a relative path: {header}"
    assert parts.query.startswith("n="), f"expected ?n=<n>&last=<last>: {header}"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert set(query) == {"n", "last"}, header
    return parts.path, query


def test_sorted_and_complete(registry: HaregServer, session: requests.Session, repos):
    prefix, names = repos
    everything, _ = get_all_pages(session, registry.url, "/v2/_catalog", "repositories")
    assert everything == sorted(everything)
    assert len(everything) == len(set(everything))
    mine = [r for r in everything if r.startswith(prefix + "/")]
    assert mine == names


def test_page_after_prefix(registry: HaregServer, session: requests.Session, repos):
    prefix, names = repos
    resp = _catalog(session, registry, n=str(len(names)), last=prefix)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].split(";")[0] == "application/json"
    assert resp.json()["repositories"] == names


def test_n_zero(registry: HaregServer, session: requests.Session, repos):
    resp = _catalog(session, registry, n="0")
    assert resp.status_code == 200
    assert resp.json()["repositories"] == []
    assert "Link" not in resp.headers


def test_link_format(registry: HaregServer, session: requests.Session, repos):
    prefix, names = repos
    resp = _catalog(session, registry, n="3", last=prefix)
    assert resp.json()["repositories"] == names[:3]
    path, query = _parse_link(resp)
    assert path == "/v2/_catalog"
    assert query == {"n": "3", "last": names[2]}
    # the contract's exact form; a `/` in the name may be sent as-is or as %2F
    header = resp.headers["Link"]
    assert unquote(header) == f'</v2/_catalog?n=3&last={names[2]}>; rel="next"'


def test_follow_links(registry: HaregServer, session: requests.Session, repos):
    prefix, names = repos
    _, responses = get_all_pages(
        session, registry.url, f"/v2/_catalog?n=3&last={prefix}", "repositories"
    )
    pages = [r.json()["repositories"] for r in responses]
    collected = [name for page in pages for name in page]
    # our names come first, in order, split in pages of 3, then whatever sorts after
    assert collected[: len(names)] == names
    assert pages[0] == names[:3] and pages[1] == names[3:6]
    assert all(len(page) == 3 for page in pages[:-1])
    assert next_link(responses[-1]) is None
    assert collected == sorted(collected)


def test_last_beyond_end(registry: HaregServer, session: requests.Session, repos):
    for params in ({"last": "zzzzzzzz/zzzz"}, {"last": "zzzzzzzz/zzzz", "n": "5"}):
        resp = _catalog(session, registry, **params)
        assert resp.status_code == 200
        assert resp.json()["repositories"] == []
        assert "Link" not in resp.headers


def test_n_beyond(registry: HaregServer, session: requests.Session, repos):
    prefix, names = repos
    resp = _catalog(session, registry, n="100000", last=prefix)
    assert resp.status_code == 200
    assert resp.json()["repositories"][: len(names)] == names
    assert "Link" not in resp.headers


@pytest.mark.parametrize("n", ["-1", "abc", "2.0"])
def test_invalid_n(registry: HaregServer, session: requests.Session, n: str):
    assert_error(_catalog(session, registry, n=n), 400)
