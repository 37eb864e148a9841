# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Keys, users, config and token helpers for the auth tests."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.fixtures.server import to_toml

HTTP_TIMEOUT = 30.0
SERVICE = "hareg-test"
ISSUER = "hareg-test-issuer"

# name -> password; bcrypt hashes are written with cost 4 to keep the tests fast
USERS = {
    "alice": "alice-" + secrets.token_hex(8),   # everything on team/**, secret/**, public/**
    "bob": "bob-" + secrets.token_hex(8),       # pull on team/**; pull+push on bob/**
    "carol": "carol-" + secrets.token_hex(8),   # group ci: pull/push/delete on ci/*
    "dave": "dave-" + secrets.token_hex(8),     # no rule at all
}

GROUPS = {"ci": ["carol"]}
RULES = [
    {"subjects": ["alice"], "repositories": ["team/**", "secret/**", "public/**"],
     "actions": ["*"]},
    {"subjects": ["bob"], "repositories": ["team/**"], "actions": ["pull"]},
    {"subjects": ["bob"], "repositories": ["bob/**"], "actions": ["pull", "push"]},
    {"subjects": ["group:ci"], "repositories": ["ci/*"], "actions": ["pull", "push", "delete"]},
]
ANONYMOUS_PULL = ["public/**"]


def pem_private(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_public(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Keys:
    """hareg's signing key, an untrusted key and two external issuers' keys."""

    directory: Path
    signing: rsa.RSAPrivateKey
    other: rsa.RSAPrivateKey
    external_ec: ec.EllipticCurvePrivateKey
    external_jwks: rsa.RSAPrivateKey

    @property
    def signing_path(self) -> Path:
        return self.directory / "signing.pem"

    @property
    def public_key_paths(self) -> list[str]:
        return [str(self.directory / "external-ec.pub.pem"), str(self.directory / "jwks.json")]

    @classmethod
    def create(cls, directory: Path) -> Keys:
        directory.mkdir(parents=True, exist_ok=True)
        keys = cls(directory, rsa.generate_private_key(65537, 2048),
                   rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP256R1()),
                   rsa.generate_private_key(65537, 2048))
        keys.signing_path.write_bytes(pem_private(keys.signing))
        keys.signing_path.chmod(0o600)
        (directory / "other.pem").write_bytes(pem_private(keys.other))
        (directory / "external-ec.pub.pem").write_bytes(pem_public(keys.external_ec))
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys.external_jwks.public_key()))
        jwk.update(kid="ext-1", use="sig", alg="RS256")
        (directory / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
        return keys


def htpasswd_line(user: str, password: str) -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    return f"{user}:$2y${hashed[4:]}"  # the form `htpasswd -B` writes


def write_htpasswd(path: Path, users: Mapping[str, str]) -> Path:
    path.write_text("".join(htpasswd_line(u, p) + "\n" for u, p in users.items()))
    return path


def _toml_scalar(value: Any) -> str:
    return to_toml({"x": {"v": value}}).splitlines()[1].partition(" = ")[2]


def auth_toml(auth: Mapping[str, Any]) -> str:
    """``[auth]`` with its ``[auth.groups]`` table and ``[[auth.rules]]`` array of tables."""
    scalars = {k: v for k, v in auth.items() if k not in ("groups", "rules")}
    lines = ["[auth]"] + [f"{k} = {_toml_scalar(v)}" for k, v in scalars.items()] + [""]
    if auth.get("groups"):
        lines.append("[auth.groups]")
        lines += [f"{k} = {_toml_scalar(v)}" for k, v in auth["groups"].items()] + [""]
    for rule in auth.get("rules", []):
        lines.append("[[auth.rules]]")
        lines += [f"{k} = {_toml_scalar(v)}" for k, v in rule.items()] + [""]
    return "\n".join(lines)


def mint(key: Any, *, subject: str = "alice", access: Sequence[Mapping[str, Any]] = (),
         audience: str = SERVICE, issuer: str = ISSUER, lifetime: int = 300,
         not_before: int | None = None, kid: str | None = None, now: int | None = None) -> str:
    """A token with arbitrary claims, signed with ``key`` (RS256 or ES256 by key type)."""
    now = int(time.time()) if now is None else now
    claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now,
              "nbf": now if not_before is None else not_before, "exp": now + lifetime,
              "jti": secrets.token_hex(8), "access": [dict(a) for a in access]}
    alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def repo_access(name: str, *actions: str) -> dict[str, Any]:
    return {"type": "repository", "name": name, "actions": list(actions)}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fetch_token(session: requests.Session, base_url: str, scopes: Sequence[str] = (),
                user: str | None = None, password: str | None = None,
                service: str = SERVICE) -> requests.Response:
    """GET /token the way docker does (Basic credentials, service, repeated scope)."""
    auth = (user, USERS[user] if password is None else password) if user else None
    params: list[tuple[str, str]] = [("service", service)] + [("scope", s) for s in scopes]
    return session.get(f"{base_url}/token", params=params, auth=auth, timeout=HTTP_TIMEOUT)


def token_for(session: requests.Session, base_url: str, scopes: Sequence[str],
              user: str | None = None) -> str:
    resp = fetch_token(session, base_url, scopes, user)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"])


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def error_body(resp: requests.Response) -> dict[str, Any]:
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.text
    body: dict[str, Any] = resp.json()
    return body


def error_code(resp: requests.Response) -> str:
    return str(error_body(resp)["errors"][0]["code"])


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """(scheme, params) of a WWW-Authenticate value such as Bearer realm="...",scope="..."."""
    import re

    scheme, _, rest = header.partition(" ")
    params = {m.group(1): m.group(2).replace('\\"', '"')
              for m in re.finditer(r'(\w+)="((?:[^"\\]|\\.)*)"', rest)}
    return scheme, params
