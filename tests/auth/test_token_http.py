# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""mode = "token" over real HTTP: the challenge, the realm endpoint, and token verification."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import requests

from tests.auth.helpers import (
    HTTP_TIMEOUT,
    ISSUER,
    SERVICE,
    USERS,
    Keys,
    bearer,
    claims_of,
    error_body,
    error_code,
    fetch_token,
    mint,
    parse_challenge,
    repo_access,
    token_for,
)
from tests.fixtures.server import HaregServer
from tests.oci import (
    get_all_pages,
    image_manifest,
    new_session,
    push_blob,
    push_image,
    random_blob,
)


def name(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def with_token(token: str) -> requests.Session:
    session = new_session()
    session.headers.update(bearer(token))
    return session


def challenge_of(resp: requests.Response) -> dict[str, str]:
    scheme, params = parse_challenge(resp.headers["WWW-Authenticate"])
    assert scheme == "Bearer"
    return params


def assert_unauthorized(resp: requests.Response, scope: str | None = None,
                        error: str | None = None) -> dict[str, str]:
    assert resp.status_code == 401, resp.text
    if resp.request.method != "HEAD":
        assert error_code(resp) == "UNAUTHORIZED"
    params = challenge_of(resp)
    assert params.get("scope") == scope
    assert params.get("error") == error
    return params


def assert_denied(resp: requests.Response, retry_scope: str | None = None) -> None:
    assert resp.status_code == 403, resp.text
    assert error_code(resp) == "DENIED"
    if retry_scope is None:
        assert "WWW-Authenticate" not in resp.headers
    else:  # RFC 6750 insufficient_scope: a new token for retry_scope would do
        params = challenge_of(resp)
        assert params["error"] == "insufficient_scope" and params["scope"] == retry_scope


def test_challenge_names_the_realm_service_and_scope(token_server: HaregServer) -> None:
    url, repo = token_server.url, name("team")
    with new_session() as s:
        params = assert_unauthorized(s.get(f"{url}/v2/", timeout=HTTP_TIMEOUT))
        assert params == {"realm": f"{url}/token", "service": SERVICE}
        assert_unauthorized(s.get(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT),
                            f"repository:{repo}:pull")
        assert_unauthorized(s.head(f"{url}/v2/{repo}/blobs/sha256:{'a' * 64}",
                                   timeout=HTTP_TIMEOUT), f"repository:{repo}:pull")
        assert_unauthorized(s.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=HTTP_TIMEOUT),
                            f"repository:{repo}:pull,push")
        assert_unauthorized(s.delete(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT),
                            f"repository:{repo}:delete")
        # Basic credentials are for the realm endpoint, not the API
        s.auth = ("alice", USERS["alice"])
        assert_unauthorized(s.get(f"{url}/v2/", timeout=HTTP_TIMEOUT), None, "invalid_token")


def test_realm_follows_a_trusted_proxy(token_server: HaregServer) -> None:
    # 127.0.0.1 is in this server's trusted_proxies: the test plays nginx
    with new_session() as s:
        resp = s.get(f"{token_server.url}/v2/", timeout=HTTP_TIMEOUT, headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": "registry.example.com"})
    assert challenge_of(resp)["realm"] == "https://registry.example.com/token"


def test_token_endpoint_issues_only_granted_actions(token_server: HaregServer) -> None:
    url, team = token_server.url, name("team")
    with new_session() as s:
        resp = fetch_token(s, url, [f"repository:{team}:pull,push,delete",
                                    "repository:secret/x:pull", "registry:catalog:*"], "bob")
        assert resp.status_code == 200, resp.text
        assert resp.headers["Cache-Control"] == "no-store"
        body = resp.json()
        assert body["token"] == body["access_token"]
        assert body["expires_in"] == 120 and body["issued_at"].endswith("Z")
        claims = claims_of(body["token"])
        assert claims["iss"] == ISSUER and claims["sub"] == "bob" and claims["aud"] == SERVICE
        assert claims["exp"] - claims["iat"] == 120 and claims["nbf"] <= claims["iat"]
        assert claims["jti"]
        assert claims["access"] == [
            repo_access(team, "pull"),
            {"type": "registry", "name": "catalog", "actions": ["*"]},
        ]
        anonymous = fetch_token(s, url, [f"repository:{team}:pull", "repository:public/a:pull"])
        assert anonymous.status_code == 200
        assert claims_of(anonymous.json()["token"])["sub"] == ""
        assert claims_of(anonymous.json()["token"])["access"] == [
            repo_access("public/a", "pull")]
        wrong = fetch_token(s, url, [f"repository:{team}:pull"], "alice", "wrong")
        assert wrong.status_code == 401 and error_code(wrong) == "UNAUTHORIZED"
        assert wrong.headers["WWW-Authenticate"] == 'Basic realm="hareg"'
        unknown = fetch_token(s, url, [], "mallory", "x")
        assert unknown.status_code == 401


def test_oauth2_password_grant(token_server: HaregServer) -> None:
    url, repo = token_server.url, name("bob")
    with new_session() as s:
        resp = s.post(f"{url}/token", data={
            "grant_type": "password", "username": "bob", "password": USERS["bob"],
            "service": SERVICE, "client_id": "test", "access_type": "online",
            "scope": f"repository:{repo}:pull,push repository:team/x:push"},
            timeout=HTTP_TIMEOUT)
        assert resp.status_code == 200, resp.text
        assert resp.json()["scope"] == f"repository:{repo}:pull,push"
        token = resp.json()["access_token"]
        with with_token(token) as bob:
            push_blob(bob, url, repo, random_blob(32))
        bad = s.post(f"{url}/token", data={"grant_type": "password", "username": "bob",
                                           "password": "nope", "service": SERVICE},
                     timeout=HTTP_TIMEOUT)
        assert bad.status_code == 401
        refresh = s.post(f"{url}/token", data={"grant_type": "refresh_token",
                                               "refresh_token": "x", "service": SERVICE},
                         timeout=HTTP_TIMEOUT)
        assert refresh.status_code == 400
        assert refresh.json()["error"] == "unsupported_grant_type"


def test_pull_only_token_cannot_push_or_delete(token_server: HaregServer) -> None:
    url, repo = token_server.url, name("team")
    manifest = image_manifest()
    with with_token(token_for(new_session(), url, [f"repository:{repo}:pull,push"],
                              "alice")) as alice:
        push_image(alice, url, repo, manifest, "v1")
    pull = f"repository:{repo}:pull"
    with with_token(token_for(new_session(), url, [pull], "bob")) as bob:
        assert bob.get(f"{url}/v2/{repo}/manifests/v1",
                       timeout=HTTP_TIMEOUT).status_code == 200
        assert_denied(bob.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=HTTP_TIMEOUT))
        assert_denied(bob.delete(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT))
    with with_token(token_for(new_session(), url, [pull], "alice")) as alice:
        # alice may push and delete, her token does not say so: 403 with the scope to ask for
        assert_denied(alice.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=HTTP_TIMEOUT),
                      f"repository:{repo}:pull,push")
        assert_denied(alice.delete(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT),
                      f"repository:{repo}:delete")
    delete = token_for(new_session(), url, [f"repository:{repo}:delete"], "alice")
    with with_token(delete) as alice:
        resp = alice.delete(f"{url}/v2/{repo}/manifests/{manifest.digest}", timeout=HTTP_TIMEOUT)
        assert resp.status_code == 202, resp.text


def test_token_for_another_repository(token_server: HaregServer) -> None:
    url, repo, other = token_server.url, name("team"), name("team")
    with with_token(token_for(new_session(), url, [f"repository:{repo}:pull"], "bob")) as bob:
        assert_denied(bob.get(f"{url}/v2/{other}/tags/list", timeout=HTTP_TIMEOUT),
                      f"repository:{other}:pull")
        assert_denied(bob.get(f"{url}/v2/secret/x/tags/list", timeout=HTTP_TIMEOUT))


def test_rejected_tokens(token_server: HaregServer, auth_keys: Keys) -> None:
    url, repo = token_server.url, name("team")
    path = f"{url}/v2/{repo}/tags/list"
    scope = f"repository:{repo}:pull"
    access = [repo_access(repo, "pull")]
    now = int(time.time())
    cases = {
        "expired": mint(auth_keys.signing, access=access, now=now - 3600),
        "another key": mint(auth_keys.other, access=access),
        "another key, our kid": mint(auth_keys.other, access=access,
                                     kid=claims_kid(token_for(new_session(), url, [], "bob"))),
        "another service": mint(auth_keys.signing, access=access, audience="other-registry"),
        "another issuer": mint(auth_keys.signing, access=access, issuer="someone-else"),
        "not yet valid": mint(auth_keys.signing, access=access, not_before=now + 3600),
        "garbage": "not.a.token",
        "alg none": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
    }
    with new_session() as s:
        for label, token in cases.items():
            resp = s.get(path, headers=bearer(token), timeout=HTTP_TIMEOUT)
            assert resp.status_code == 401, (label, resp.text)
            assert_unauthorized(resp, scope, "invalid_token")
        good = mint(auth_keys.signing, access=access)
        assert s.get(path, headers=bearer(good), timeout=HTTP_TIMEOUT).status_code == 404


def claims_kid(token: str) -> str:
    import jwt

    return str(jwt.get_unverified_header(token)["kid"])


def test_tokens_of_external_issuers(token_server: HaregServer, auth_keys: Keys) -> None:
    url, repo = token_server.url, name("team")
    access = [repo_access(repo, "pull", "push")]
    for token in (mint(auth_keys.external_ec, subject="ext-user", access=access),
                  mint(auth_keys.external_jwks, subject="ext-user", access=access, kid="ext-1")):
        with with_token(token) as ext:
            push_blob(ext, url, repo, random_blob(40))
            # a subject the rules do not know: no new token would help
            assert_denied(ext.delete(f"{url}/v2/{repo}/manifests/v1", timeout=HTTP_TIMEOUT))


def test_anonymous_pull_rule_in_token_mode(token_server: HaregServer) -> None:
    url, repo = token_server.url, name("public")
    manifest = image_manifest()
    with with_token(token_for(new_session(), url, [f"repository:{repo}:push"],
                              "alice")) as alice:
        push_image(alice, url, repo, manifest, "v1")
    with new_session() as anonymous:  # no token needed at all
        resp = anonymous.get(f"{url}/v2/{repo}/manifests/v1",
                             headers={"Accept": manifest.media_type}, timeout=HTTP_TIMEOUT)
        assert resp.status_code == 200 and resp.content == manifest.data
        assert_unauthorized(anonymous.post(f"{url}/v2/{repo}/blobs/uploads/",
                                           timeout=HTTP_TIMEOUT), f"repository:{repo}:pull,push")
    token = token_for(new_session(), url, [f"repository:{repo}:pull,push"])
    assert claims_of(token)["access"] == [repo_access(repo, "pull")]
    with with_token(token) as anonymous:  # an anonymous token lacking push: log in
        assert_unauthorized(anonymous.post(f"{url}/v2/{repo}/blobs/uploads/",
                                           timeout=HTTP_TIMEOUT), f"repository:{repo}:pull,push")


def test_catalog_in_token_mode(token_server: HaregServer) -> None:
    url = token_server.url
    team, secret, public = name("team"), name("secret"), name("public")
    scopes = [f"repository:{r}:push" for r in (team, secret, public)]
    with with_token(token_for(new_session(), url, scopes, "alice")) as alice:
        for repo in (team, secret, public):
            push_blob(alice, url, repo, random_blob(16))
    mine = {team, secret, public}
    # (anonymous callers may list the catalog here, so a token without registry:catalog:*
    # may too; either way the list is bounded by the token's pull scopes, plus what anonymous
    # callers may pull)
    for scopes in (["registry:catalog:*"], []):
        with with_token(token_for(new_session(), url, scopes, "bob")) as bob:
            resp = bob.get(f"{url}/v2/_catalog", timeout=HTTP_TIMEOUT)
            assert resp.status_code == 200
            assert mine & set(resp.json()["repositories"]) == {public}
        with with_token(token_for(new_session(), url, [*scopes, f"repository:{team}:pull"],
                                  "bob")) as bob:
            listed = set(bob.get(f"{url}/v2/_catalog", timeout=HTTP_TIMEOUT).json()[
                "repositories"])
            assert mine & listed == {team, public}
    pulls = [f"repository:{r}:pull" for r in (team, secret)]
    with with_token(token_for(new_session(), url, ["registry:catalog:*", *pulls],
                              "alice")) as alice:
        assert mine <= set(alice.get(f"{url}/v2/_catalog",
                                     timeout=HTTP_TIMEOUT).json()["repositories"])
    with new_session() as anonymous:
        listed = anonymous.get(f"{url}/v2/_catalog", timeout=HTTP_TIMEOUT).json()
        assert all(r.startswith("public/") for r in listed["repositories"])


def test_token_scope_bounds_catalog_and_mounts(token_server: HaregServer) -> None:
    """Issue 14, finding 9: a token for ``repository:dev/app:pull`` sees ``dev/app``, not every
    repository its subject's rules would let it pull."""
    url = token_server.url
    app, other, target = name("team"), name("team"), name("bob")
    blob = random_blob(64)
    with with_token(token_for(new_session(), url, [f"repository:{other}:push",
                                                   f"repository:{app}:push"], "alice")) as alice:
        push_blob(alice, url, other, blob)
        push_blob(alice, url, app, random_blob(16))
    # bob's rules let him pull team/**; this token names one repository of it
    with with_token(token_for(new_session(), url, [f"repository:{app}:pull"], "bob")) as bob:
        listed = set(get_all_pages(bob, url, "/v2/_catalog?n=1000", "repositories")[0])
        assert app in listed and other not in listed
    scopes = [f"repository:{target}:pull,push", f"repository:{app}:pull"]
    with with_token(token_for(new_session(), url, scopes, "bob")) as bob:
        for params in ({"mount": blob.digest, "from": other}, {"mount": blob.digest}):
            resp = bob.post(f"{url}/v2/{target}/blobs/uploads/", params=params,
                            timeout=HTTP_TIMEOUT)
            assert resp.status_code == 202, resp.text  # not mounted: an upload session
        assert bob.head(f"{url}/v2/{target}/blobs/{blob.digest}",
                        timeout=HTTP_TIMEOUT).status_code == 404
    scopes = [f"repository:{target}:pull,push", f"repository:{other}:pull"]
    with with_token(token_for(new_session(), url, scopes, "bob")) as bob:
        resp = bob.post(f"{url}/v2/{target}/blobs/uploads/",
                        params={"mount": blob.digest, "from": other}, timeout=HTTP_TIMEOUT)
        assert resp.status_code == 201, resp.text


def test_mount_without_pull_on_the_source(token_server: HaregServer) -> None:
    url, secret, target = token_server.url, name("secret"), name("bob")
    blob = random_blob(128)
    with with_token(token_for(new_session(), url, [f"repository:{secret}:push"],
                              "alice")) as alice:
        push_blob(alice, url, secret, blob)
    scopes = [f"repository:{target}:pull,push", f"repository:{secret}:pull"]
    token = token_for(new_session(), url, scopes, "bob")
    assert claims_of(token)["access"] == [repo_access(target, "pull", "push")]
    with with_token(token) as bob:
        for params in ({"mount": blob.digest, "from": secret}, {"mount": blob.digest}):
            resp = bob.post(f"{url}/v2/{target}/blobs/uploads/", params=params,
                            timeout=HTTP_TIMEOUT)
            assert resp.status_code == 202, resp.text
        assert bob.head(f"{url}/v2/{target}/blobs/{blob.digest}",
                        timeout=HTTP_TIMEOUT).status_code == 404


def test_bad_input_on_the_token_endpoint(token_server: HaregServer) -> None:
    url = token_server.url
    auth = ("alice", USERS["alice"])
    bad_scopes = ["repository:foo", "garbage", "repository::pull", "repository:UPPER/case:pull",
                  ":x:pull", "repository:a/b:pu$h", "repository:" + "a" * 600 + ":pull"]
    with new_session() as s:
        for scope in bad_scopes:
            resp = s.get(f"{url}/token", params={"service": SERVICE, "scope": scope}, auth=auth,
                         timeout=HTTP_TIMEOUT)
            assert resp.status_code == 400, (scope, resp.text)
            body = error_body(resp)
            assert body["error"] == "invalid_scope" and "scope" in body["error_description"]
            assert body["errors"][0]["code"] == "UNSUPPORTED"
        huge = [("scope", f"repository:r{i}:pull") for i in range(200)]
        resp = s.get(f"{url}/token", params=[("service", SERVICE), *huge], auth=auth,
                     timeout=HTTP_TIMEOUT)
        assert resp.status_code == 400 and "too many scopes" in resp.json()["error_description"]
        spaced = " ".join(f"repository:r{i}:pull" for i in range(200))
        resp = s.post(f"{url}/token", data={"grant_type": "password", "username": "alice",
                                            "password": USERS["alice"], "scope": spaced},
                      timeout=HTTP_TIMEOUT)
        assert resp.status_code == 400 and "too many scopes" in resp.json()["error_description"]
        resp = s.post(f"{url}/token", data={"grant_type": "password", "scope": "x" * 200_000},
                      timeout=HTTP_TIMEOUT)
        assert resp.status_code in (400, 413) and error_body(resp)["errors"]
        resp = s.get(f"{url}/token", params={"service": "elsewhere"}, auth=auth,
                     timeout=HTTP_TIMEOUT)
        assert resp.status_code == 400
        assert "unknown service 'elsewhere'" in resp.json()["errors"][0]["message"]
        resp = s.post(f"{url}/token", data={"grant_type": "client_credentials"},
                      timeout=HTTP_TIMEOUT)
        assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"
        resp = s.get(f"{url}/token", headers={"Authorization": "Bearer x"}, timeout=HTTP_TIMEOUT)
        assert resp.status_code == 401
        resp = s.get(f"{url}/token", params={"scope": "\u00e9:\u00e9:\u00e9"},
                     timeout=HTTP_TIMEOUT)
        assert resp.status_code == 400


def test_hareg_token_command(token_server: HaregServer) -> None:
    url, repo = token_server.url, name("team")
    proc = subprocess.run(
        [sys.executable, "-m", "hareg_cli", "token", "--config", str(token_server.config_path),
         "--user", "bob", "--scope", f"repository:{repo}:pull,push", "--lifetime", "60"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert "not granted push" in proc.stderr
    claims = claims_of(token)
    assert claims["access"] == [repo_access(repo, "pull")] and claims["exp"] - claims["iat"] == 60
    with with_token(token) as bob:
        assert bob.get(f"{url}/v2/{repo}/tags/list", timeout=HTTP_TIMEOUT).status_code == 404


def test_secrets_never_reach_the_log(token_server: HaregServer) -> None:
    url = token_server.url
    with new_session() as s:
        token = token_for(s, url, ["repository:team/x:pull"], "alice")
        s.get(f"{url}/v2/team/x/tags/list", headers=bearer(token), timeout=HTTP_TIMEOUT)
        s.get(f"{url}/v2/team/x/tags/list", headers=bearer(token + "x"), timeout=HTTP_TIMEOUT)
        fetch_token(s, url, [], "alice", "wrong-" + USERS["alice"])
    log = token_server.log_tail(10_000_000)
    assert "issued a token to alice" in log and "token refused" in log
    assert token not in log and token.split(".")[2] not in log
    for password in USERS.values():
        assert password not in log
