# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-8a and end-8b: listing tags, with pagination."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.fixtures.server import HaregServer
from tests.oci import (
    assert_error,
    get_all_pages,
    image_manifest,
    next_link,
    push_image,
    push_manifest,
)

# byte-wise (ASCII) order differs from case-insensitive and from version order here
TAGS = ["v10", "v9", "V2", "latest", "1.0", "1.0.1", "_internal", "a-b", "a.b", "a_b", "Z"]
SORTED = sorted(TAGS)


def _push_tags(session: requests.Session, registry: HaregServer, repo: str) -> list[str]:
    m = image_manifest()
    push_image(session, registry.url, repo, m)
    for tag in TAGS:
        push_manifest(session, registry.url, repo, tag, m)
    return SORTED


@pytest.fixture(scope="module")
def tagged_repo(registry: HaregServer, module_session: requests.Session) -> str:
    """A repository (shared by this module's read-only tests) carrying :data:`TAGS`."""
    repo = f"tags-{uuid.uuid4().hex[:12]}/img"
    _push_tags(module_session, registry, repo)
    return repo


@pytest.fixture
def tagged(tagged_repo: str) -> list[str]:
    return SORTED


@pytest.fixture
def repo(tagged_repo: str) -> str:
    """The read-only tests of this module all list the shared repository."""
    return tagged_repo


def _list(session: requests.Session, registry: HaregServer, repo: str, **params: str):
    return session.get(f"{registry.url}/v2/{repo}/tags/list", params=params)


def test_sorted_byte_wise(registry: HaregServer, session: requests.Session, repo: str, tagged):
    assert SORTED[:4] == ["1.0", "1.0.1", "V2", "Z"]  # the expectation itself: ASCII order
    resp = _list(session, registry, repo)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].split(";")[0] == "application/json"
    assert resp.json() == {"name": repo, "tags": tagged}
    assert "Link" not in resp.headers


def test_n_zero(registry: HaregServer, session: requests.Session, repo: str, tagged):
    resp = _list(session, registry, repo, n="0")
    assert resp.status_code == 200
    assert resp.json()["tags"] == []
    assert resp.json()["name"] == repo
    assert "Link" not in resp.headers


@pytest.mark.parametrize("n", [len(TAGS), len(TAGS) + 1, 10_000])
def test_n_at_or_beyond_count(
    registry: HaregServer, session: requests.Session, repo: str, tagged, n: int
):
    resp = _list(session, registry, repo, n=str(n))
    assert resp.status_code == 200
    assert resp.json()["tags"] == tagged
    assert "Link" not in resp.headers


def test_first_page_and_exact_link(
    registry: HaregServer, session: requests.Session, repo: str, tagged
):
    resp = _list(session, registry, repo, n="3")
    assert resp.status_code == 200
    assert resp.json()["tags"] == tagged[:3]
    assert resp.headers["Link"] == f'</v2/{repo}/tags/list?n=3&last={tagged[2]}>; rel="next"'


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, len(TAGS) - 1])
def test_follow_links_to_the_end(
    registry: HaregServer, session: requests.Session, repo: str, tagged, n: int
):
    tags, responses = get_all_pages(
        session, registry.url, f"/v2/{repo}/tags/list?n={n}", "tags", max_pages=len(TAGS) + 2
    )
    assert tags == tagged
    pages = [r.json()["tags"] for r in responses]
    assert all(len(page) == n for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= n
    assert len(pages) == -(-len(TAGS) // n)  # no trailing empty page
    assert next_link(responses[-1]) is None


def test_exact_multiple_has_no_link_on_last_page(
    registry: HaregServer, session: requests.Session, other_repo: str
):
    repo = other_repo
    m = image_manifest()
    push_image(session, registry.url, repo, m)
    for tag in ("a", "b", "c", "d"):
        push_manifest(session, registry.url, repo, tag, m)
    first = _list(session, registry, repo, n="2")
    assert first.json()["tags"] == ["a", "b"]
    assert first.headers["Link"] == f'</v2/{repo}/tags/list?n=2&last=b>; rel="next"'
    second = _list(session, registry, repo, n="2", last="b")
    assert second.json()["tags"] == ["c", "d"]
    assert "Link" not in second.headers


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        ("a-b", lambda s: s[s.index("a-b") + 1 :]),
        ("a-a", lambda s: s[s.index("a-b") :]),  # not a tag: strictly after it
        ("0", lambda s: s),  # before everything
        ("zzz", lambda s: []),  # beyond the end
        ("v9", lambda s: []),  # the last tag
    ],
)
def test_last_without_n(
    registry: HaregServer, session: requests.Session, repo: str, tagged, last, expected
):
    resp = _list(session, registry, repo, last=last)
    assert resp.status_code == 200
    assert resp.json()["tags"] == expected(tagged)
    assert "Link" not in resp.headers


def test_last_with_n(registry: HaregServer, session: requests.Session, repo: str, tagged):
    resp = _list(session, registry, repo, n="2", last="Z")
    i = tagged.index("Z")
    assert resp.json()["tags"] == tagged[i + 1 : i + 3]
    assert resp.headers["Link"] == f'</v2/{repo}/tags/list?n=2&last={tagged[i + 2]}>; rel="next"'


def test_last_beyond_end_with_n(
    registry: HaregServer, session: requests.Session, repo: str, tagged
):
    resp = _list(session, registry, repo, n="5", last="~~~")
    assert resp.status_code == 200
    assert resp.json()["tags"] == []
    assert "Link" not in resp.headers


@pytest.mark.parametrize("n", ["-1", "abc", "1.5", "0x10"])
def test_invalid_n(registry: HaregServer, session: requests.Session, repo: str, tagged, n: str):
    resp = _list(session, registry, repo, n=n)
    assert_error(resp, 400)


def test_unknown_repository(registry: HaregServer, session: requests.Session, other_repo: str):
    assert_error(_list(session, registry, other_repo), 404, "NAME_UNKNOWN")


def test_deleted_tag_disappears(
    registry: HaregServer, session: requests.Session, other_repo: str
):
    repo = other_repo
    tagged = _push_tags(session, registry, repo)
    resp = session.delete(f"{registry.url}/v2/{repo}/manifests/latest")
    assert resp.status_code == 202
    assert _list(session, registry, repo).json()["tags"] == [t for t in tagged if t != "latest"]
