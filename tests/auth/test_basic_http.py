# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""mode = "basic" over real HTTP: challenges, permissions, catalog, mounts, htpasswd reloads."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import requests

from tests.auth.helpers import HTTP_TIMEOUT, USERS, error_body, error_code
from tests.fixtures.server import HaregServer
from tests.oci import image_manifest, new_session, push_blob, push_image, random_blob


def as_user(user: str | None, password: str | None = None) -> requests.Session:
    session = new_session()
    if user is not None:
        session.auth = (user, USERS[user] if password is None else password)
    return session


def name(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def assert_challenge(resp: requests.Response) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="hareg"'
    if resp.request.method != "HEAD":
        assert error_code(resp) == "UNAUTHORIZED"


def assert_denied(resp: requests.Response) -> None:
    assert resp.status_code == 403, resp.text
    assert "WWW-Authenticate" not in resp.headers
    if resp.request.method != "HEAD":
        assert error_code(resp) == "DENIED"


def test_version_check_needs_credentials(basic_server: HaregServer) -> None:
    url = f"{basic_server.url}/v2/"
    assert_challenge(as_user(None).get(url, timeout=HTTP_TIMEOUT))
    assert_challenge(as_user("alice", "wrong").get(url, timeout=HTTP_TIMEOUT))
    assert_challenge(as_user("nobody", "whatever").get(url, timeout=HTTP_TIMEOUT))
    malformed = as_user(None).get(url, headers={"Authorization": "Basic !!notbase64"},
                                  timeout=HTTP_TIMEOUT)
    assert_challenge(malformed)
    bearer = as_user(None).get(url, headers={"Authorization": "Bearer abc"},
                               timeout=HTTP_TIMEOUT)
    assert_challenge(bearer)
    for user in USERS:
        resp = as_user(user).get(url, timeout=HTTP_TIMEOUT)
        assert resp.status_code == 200, (user, resp.text)


def test_health_endpoints_stay_public(basic_server: HaregServer) -> None:
    with as_user(None) as s:
        assert s.get(f"{basic_server.url}/healthz", timeout=HTTP_TIMEOUT).status_code == 200
        assert s.get(f"{basic_server.url}/readyz", timeout=HTTP_TIMEOUT).status_code == 200


def test_push_and_pull_follow_the_rules(basic_server: HaregServer) -> None:
    url, repo = basic_server.url, name("team")
    manifest = image_manifest()
    with as_user("alice") as alice:
        push_image(alice, url, repo, manifest, "v1")
    with as_user("bob") as bob:  # pull only on team/**
        resp = bob.get(f"{url}/v2/{repo}/manifests/v1", headers={"Accept": manifest.media_type},
                       timeout=HTTP_TIMEOUT)
        assert resp.status_code == 200 and resp.content == manifest.data
        layer = manifest.blobs[1]
        assert bob.get(f"{url}/v2/{repo}/blobs/{layer.digest}",
                       timeout=HTTP_TIMEOUT).content == layer.data
        assert bob.get(f"{url}/v2/{repo}/tags/list", timeout=HTTP_TIMEOUT).json()["tags"] == ["v1"]
        assert_denied(bob.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=HTTP_TIMEOUT))
        assert_denied(bob.put(f"{url}/v2/{repo}/manifests/v2", data=manifest.data,
                              headers={"Content-Type": manifest.media_type},
                              timeout=HTTP_TIMEOUT))
        assert_denied(bob.delete(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT))
        assert_denied(bob.delete(f"{url}/v2/{repo}/blobs/{layer.digest}", timeout=HTTP_TIMEOUT))
    for user in ("carol", "dave"):
        with as_user(user) as other:
            assert_denied(other.get(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT))
    with as_user(None) as anonymous:
        assert_challenge(anonymous.get(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT))
        assert_challenge(anonymous.head(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT))
        assert_challenge(anonymous.post(f"{url}/v2/{repo}/blobs/uploads/",
                                        timeout=HTTP_TIMEOUT))
    with as_user("alice", "wrong") as wrong:
        assert_challenge(wrong.get(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT))
    with as_user("alice") as alice:
        resp = alice.delete(f"{url}/v2/{repo}/manifests/{manifest.digest}", timeout=HTTP_TIMEOUT)
        assert resp.status_code == 202, resp.text


def test_group_members_get_the_group_rules(basic_server: HaregServer) -> None:
    url = basic_server.url
    with as_user("carol") as carol:
        repo = name("ci")
        push_image(carol, url, repo, image_manifest(), "latest")
        assert carol.delete(f"{url}/v2/{repo}/manifests/latest",
                            timeout=HTTP_TIMEOUT).status_code == 202
        # ci/* is one path component deep: ci/a/b is not covered
        assert_denied(carol.post(f"{url}/v2/{repo}/deeper/blobs/uploads/",
                                 timeout=HTTP_TIMEOUT))


def test_anonymous_pull_rule(basic_server: HaregServer) -> None:
    url, repo = basic_server.url, name("public")
    manifest = image_manifest()
    with as_user("alice") as alice:
        push_image(alice, url, repo, manifest, "v1")
    with as_user(None) as anonymous:
        resp = anonymous.get(f"{url}/v2/{repo}/manifests/v1",
                             headers={"Accept": manifest.media_type}, timeout=HTTP_TIMEOUT)
        assert resp.status_code == 200 and resp.content == manifest.data
        assert_challenge(anonymous.post(f"{url}/v2/{repo}/blobs/uploads/",
                                        timeout=HTTP_TIMEOUT))
        assert_challenge(anonymous.delete(f"{url}/v2/{repo}/manifests/v1",
                                          timeout=HTTP_TIMEOUT))
        # anonymous pull says nothing about the rest of the registry
        assert_challenge(anonymous.get(f"{url}/v2/", timeout=HTTP_TIMEOUT))
    with as_user("dave") as dave:  # no rule, but what anonymous may do, everyone may
        assert dave.get(f"{url}/v2/{repo}/manifests/v1",
                        timeout=HTTP_TIMEOUT).status_code == 200
        assert_denied(dave.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=HTTP_TIMEOUT))


def _same_answer(make: Callable[[], requests.Session], existing: str, missing: str) -> None:
    for path in ("manifests/v1", "tags/list", f"blobs/sha256:{'0' * 64}"):
        with make() as s:
            a = s.get(f"{existing}/{path}", timeout=HTTP_TIMEOUT)
            b = s.get(f"{missing}/{path}", timeout=HTTP_TIMEOUT)
        assert a.status_code == b.status_code and a.status_code in (401, 403), (path, a.text)
        body_a = error_body(a)["errors"][0]
        body_b = error_body(b)["errors"][0]
        assert body_a["code"] == body_b["code"] and body_a["message"] == body_b["message"]
        assert a.headers.get("WWW-Authenticate") == b.headers.get("WWW-Authenticate")


def test_existence_is_not_revealed_to_callers_who_may_not_pull(
        basic_server: HaregServer) -> None:
    url = basic_server.url
    repo = name("secret")
    with as_user("alice") as alice:
        push_image(alice, url, repo, image_manifest(), "v1")
    existing = f"{url}/v2/{repo}"
    missing = f"{url}/v2/{name('secret')}"
    _same_answer(lambda: as_user(None), existing, missing)
    _same_answer(lambda: as_user("bob"), existing, missing)
    _same_answer(lambda: as_user("alice", "wrong"), existing, missing)


def catalog(session: requests.Session, url: str) -> list[str]:
    resp = session.get(f"{url}/v2/_catalog", params={"n": 10000}, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["repositories"])


def test_catalog_lists_only_what_the_caller_may_pull(basic_server: HaregServer) -> None:
    url = basic_server.url
    team, secret, public = name("team"), name("secret"), name("public")
    bobs, cis = name("bob"), name("ci")
    with as_user("alice") as alice:
        for repo in (team, secret, public):
            push_blob(alice, url, repo, random_blob(64))
    with as_user("bob") as bob:
        push_blob(bob, url, bobs, random_blob(64))
    with as_user("carol") as carol:
        push_blob(carol, url, cis, random_blob(64))
    mine = {team, secret, public, bobs, cis}
    with as_user("alice") as alice:
        assert mine & set(catalog(alice, url)) == {team, secret, public}
    with as_user("bob") as bob:
        assert mine & set(catalog(bob, url)) == {team, public, bobs}
        listed = catalog(bob, url)
        assert all(r.startswith(("team/", "public/", "bob/")) for r in listed), listed
    with as_user("carol") as carol:
        assert mine & set(catalog(carol, url)) == {public, cis}
    with as_user("dave") as dave:
        assert all(r.startswith("public/") for r in catalog(dave, url))
    with as_user(None) as anonymous:
        listed = catalog(anonymous, url)
        assert public in listed and all(r.startswith("public/") for r in listed), listed
        # pagination stays correct when filtered
        first = anonymous.get(f"{url}/v2/_catalog", params={"n": 1}, timeout=HTTP_TIMEOUT)
        assert first.status_code == 200 and len(first.json()["repositories"]) == 1
        assert first.json()["repositories"][0].startswith("public/")


def test_mount_needs_pull_on_the_source(basic_server: HaregServer) -> None:
    url = basic_server.url
    blob = random_blob(256)
    secret, team, target = name("secret"), name("team"), name("bob")
    with as_user("alice") as alice:
        push_blob(alice, url, secret, blob)
    with as_user("bob") as bob:
        for params in ({"mount": blob.digest, "from": secret}, {"mount": blob.digest}):
            resp = bob.post(f"{url}/v2/{target}/blobs/uploads/", params=params,
                            timeout=HTTP_TIMEOUT)
            assert resp.status_code == 202, resp.text  # a normal upload, no leak
            assert "Docker-Content-Digest" not in resp.headers
            assert bob.head(f"{url}/v2/{target}/blobs/{blob.digest}",
                            timeout=HTTP_TIMEOUT).status_code == 404
            bob.delete(f"{url}{resp.headers['Location']}" if resp.headers["Location"]
                       .startswith("/") else resp.headers["Location"], timeout=HTTP_TIMEOUT)
    with as_user("alice") as alice:
        push_blob(alice, url, team, blob)
    with as_user("bob") as bob:  # now the blob is also where bob may pull
        resp = bob.post(f"{url}/v2/{target}/blobs/uploads/",
                        params={"mount": blob.digest, "from": team}, timeout=HTTP_TIMEOUT)
        assert resp.status_code == 201, resp.text
        other = name("bob")
        resp = bob.post(f"{url}/v2/{other}/blobs/uploads/", params={"mount": blob.digest},
                        timeout=HTTP_TIMEOUT)
        assert resp.status_code == 201, resp.text
        assert bob.get(f"{url}/v2/{other}/blobs/{blob.digest}",
                       timeout=HTTP_TIMEOUT).content == blob.data


def hareg_cli(server: HaregServer, *args: str, stdin: str | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hareg_cli", *args, "--config",
                           str(server.config_path)], input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)


def wait_status(session: requests.Session, url: str, status: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    got = -1
    while time.monotonic() < deadline:
        got = session.get(url, timeout=HTTP_TIMEOUT).status_code
        if got == status:
            break
        time.sleep(0.1)
    return got


def test_user_add_and_remove_take_effect_without_restart(basic_server: HaregServer) -> None:
    url = f"{basic_server.url}/v2/"
    user, password = f"erin{uuid.uuid4().hex[:6]}", "pw-" + uuid.uuid4().hex
    proc = hareg_cli(basic_server, "user", "add", user, "--password-stdin", stdin=password + "\n")
    assert proc.returncode == 0, proc.stderr
    assert password not in proc.stdout + proc.stderr
    with new_session() as s:
        s.auth = (user, password)
        assert wait_status(s, url, 200) == 200
        s.auth = (user, password + "x")
        assert s.get(url, timeout=HTTP_TIMEOUT).status_code == 401
        proc = hareg_cli(basic_server, "user", "add", user, "--password-stdin",
                         stdin="second-" + password + "\n")
        assert proc.returncode == 0 and "changed the password" in proc.stderr
        s.auth = (user, "second-" + password)
        assert wait_status(s, url, 200) == 200
        proc = hareg_cli(basic_server, "user", "remove", user)
        assert proc.returncode == 0, proc.stderr
        assert wait_status(s, url, 401) == 401
    proc = hareg_cli(basic_server, "user", "remove", user)
    assert proc.returncode == 2 and "no user" in proc.stderr
    proc = hareg_cli(basic_server, "user", "add", "bad:name", "--password-stdin", stdin="x\n")
    assert proc.returncode == 2 and "invalid user name" in proc.stderr


def test_no_rules_means_every_user_everything_and_anonymous_nothing(
        open_server: HaregServer) -> None:
    url, repo = open_server.url, name("anything")
    with as_user("dave") as dave:
        push_image(dave, url, repo, image_manifest(), "v1")
    with as_user("bob") as bob:
        assert bob.get(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT).status_code == 200
        assert repo in catalog(bob, url)
        assert bob.delete(f"{url}/v2/{repo}/manifests/v1",
                          timeout=HTTP_TIMEOUT).status_code == 202
    with as_user(None) as anonymous:
        assert_challenge(anonymous.get(f"{url}/v2/{repo}/tags/list", timeout=HTTP_TIMEOUT))
        assert_challenge(anonymous.get(f"{url}/v2/_catalog", timeout=HTTP_TIMEOUT))


def test_passwords_never_reach_the_log(basic_server: HaregServer) -> None:
    with as_user("alice", "a-wrong-" + USERS["alice"]) as wrong:
        wrong.get(f"{basic_server.url}/v2/", timeout=HTTP_TIMEOUT)
    log = basic_server.log_tail(10_000_000)
    assert "authentication failed for user 'alice'" in log
    for password in USERS.values():
        assert password not in log


def test_promotion_needs_the_promote_permission(basic_server: HaregServer) -> None:
    url, source, target = basic_server.url, name("team"), name("team")
    with as_user("alice") as alice:
        push_image(alice, url, source, image_manifest(), "v1")
    body = {"source": f"{source}:v1", "target": f"{target}:v1"}
    with as_user(None) as anonymous:
        assert_challenge(anonymous.post(f"{url}/api/v1/promote", json=body,
                                        timeout=HTTP_TIMEOUT))
    with as_user("bob") as bob:  # may pull the source, may not promote anywhere
        assert_denied(bob.post(f"{url}/api/v1/promote", json=body, timeout=HTTP_TIMEOUT))
    with as_user("alice") as alice:  # promote on team/**, not on bob/**
        denied = alice.post(f"{url}/api/v1/promote", timeout=HTTP_TIMEOUT,
                            json={"source": f"{source}:v1", "target": "bob/x:v1"})
        assert_denied(denied)
        resp = alice.post(f"{url}/api/v1/promote", json=body, timeout=HTTP_TIMEOUT)
        assert resp.status_code == 201, resp.text
        assert alice.get(f"{url}/v2/{target}/tags/list",
                         timeout=HTTP_TIMEOUT).json()["tags"] == ["v1"]
