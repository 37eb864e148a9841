# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``[storage] redirect``: blob GETs answered with a 307 to a presigned S3 URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from hareg.config import ConfigError, load_config
from tests.fixtures.server import HaregServer, ServerFactory
from tests.oci import assert_error, fake_digest, push_blob, random_bytes

SIZE = 70_000


@pytest.fixture(scope="module")
def redirecting(module_server_factory: ServerFactory) -> HaregServer:
    storage = {**module_server_factory.storage("s3"), "redirect": True,
               "redirect_expiry": "5m"}
    return module_server_factory.create("s3", name="s3-redirect", storage=storage, workers=1)


@pytest.fixture
def blob(redirecting: HaregServer, session: requests.Session, repo: str) -> tuple[bytes, str]:
    data = random_bytes(SIZE)
    return data, push_blob(session, redirecting.url, repo, data)


def _url(server: HaregServer, repo: str, digest: str) -> str:
    return f"{server.url}/v2/{repo}/blobs/{digest}"


def test_get_answers_307_to_a_url_that_serves_the_blob(
        redirecting: HaregServer, session: requests.Session, repo: str, blob):
    data, digest = blob
    resp = session.get(_url(redirecting, repo, digest), allow_redirects=False)
    assert resp.status_code == 307
    assert resp.headers["Docker-Content-Digest"] == digest
    location = resp.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["300"]  # redirect_expiry = "5m"
    # Fetched without the registry's session: the URL alone authorizes the download.
    fetched = requests.get(location, timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == data


def test_a_client_following_redirects_gets_the_blob_and_ranges(
        redirecting: HaregServer, session: requests.Session, repo: str, blob):
    data, digest = blob
    resp = session.get(_url(redirecting, repo, digest))
    assert resp.status_code == 200
    assert resp.content == data
    # The Range header goes to the bucket with the redirected request.
    part = session.get(_url(redirecting, repo, digest), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]


def test_head_is_not_redirected(redirecting: HaregServer, session: requests.Session, repo: str,
                                blob):
    _, digest = blob
    resp = session.head(_url(redirecting, repo, digest), allow_redirects=False)
    assert resp.status_code == 200
    assert resp.headers["Content-Length"] == str(SIZE)
    assert resp.headers["Docker-Content-Digest"] == digest


def test_the_repository_link_is_checked_before_the_redirect(
        redirecting: HaregServer, session: requests.Session, repo: str, other_repo: str, blob):
    """A digest the repository does not link is unknown there, even if another repository
    links it: no URL is handed out."""
    _, digest = blob
    for target in (_url(redirecting, other_repo, digest),
                   _url(redirecting, repo, fake_digest())):
        resp = session.get(target, allow_redirects=False)
        assert "Location" not in resp.headers
        assert_error(resp, 404, "BLOB_UNKNOWN")


def test_redirect_off_streams(server_factory: ServerFactory, session: requests.Session,
                              repo: str):
    """The default: the registry streams the bytes itself."""
    server = server_factory.create("s3", workers=1)
    data = random_bytes(SIZE)
    digest = push_blob(session, server.url, repo, data)
    resp = session.get(_url(server, repo, digest), allow_redirects=False)
    assert resp.status_code == 200
    assert resp.content == data


@pytest.mark.parametrize(("storage", "message"), [
    ({"driver": "filesystem", "redirect": True}, "storage.redirect: only the \"s3\" driver"),
    ({"driver": "s3", "bucket": "b", "redirect": True, "redirect_expiry": "8d"},
     "storage.redirect_expiry: must be a positive duration of at most 7d"),
    ({"driver": "s3", "bucket": "b", "redirect_expiry": "soon"},
     "storage.redirect_expiry: invalid duration"),
])
def test_config_refuses(storage: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        load_config(env={}, overrides={"storage": storage})


def test_config_default_is_off():
    storage = load_config(env={}, overrides={"storage": {"driver": "s3", "bucket": "b"}}).storage
    assert storage.redirect is False
    assert storage.redirect_seconds() == 0
    on = load_config(env={}, overrides={"storage": {"driver": "s3", "bucket": "b",
                                                    "redirect": True}}).storage
    assert on.redirect_seconds() == 20 * 60
