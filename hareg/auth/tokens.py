# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""JWTs of the Docker token spec: issuing (hareg's realm endpoint) and verifying (every request).

Claims: ``iss``, ``sub`` (empty for an anonymous token), ``aud`` (the service), ``exp``, ``nbf``,
``iat``, ``jti`` and ``access`` (a list of ``{"type", "name", "actions"}``). A token is accepted
when its signature verifies with one of the configured keys (the signing key's public half,
``public_keys``), it is within its validity (with a small leeway for clock skew between VMs),
its audience is the service and its issuer the configured issuer.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from .keys import SigningKey, VerificationKey
from .scopes import Scope

LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 12 * 1024


class InvalidToken(Exception):
    """Why a token was refused; safe to log (never contains the token)."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    issued_at: int
    expires_in: int


@dataclass(frozen=True)
class TokenGrant:
    """What a verified token allows."""

    subject: str | None  # None: an anonymous token
    access: dict[tuple[str, str], frozenset[str]]
    jti: str

    def allows(self, rtype: str, name: str, action: str) -> bool:
        actions = self.access.get((rtype, name), frozenset())
        return action in actions or "*" in actions


class TokenIssuer:
    def __init__(self, key: SigningKey, issuer: str, service: str, lifetime: int) -> None:
        self.key = key
        self.issuer = issuer
        self.service = service
        self.lifetime = lifetime

    def issue(self, subject: str | None, access: Sequence[Scope],
              lifetime: int | None = None, now: int | None = None) -> IssuedToken:
        now = int(time.time()) if now is None else now
        lifetime = self.lifetime if lifetime is None else lifetime
        claims = {
            "iss": self.issuer,
            "sub": subject or "",
            "aud": self.service,
            "exp": now + lifetime,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_urlsafe(18),
            "access": [scope.claim() for scope in access],
        }
        token = jwt.encode(claims, self.key.key, algorithm=self.key.algorithm,
                           headers={"kid": self.key.kid, "typ": "JWT"})
        return IssuedToken(token, now, lifetime)


def _access(claim: Any) -> dict[tuple[str, str], frozenset[str]]:
    """The ``access`` claim as {(type, name): actions}; malformed entries grant nothing."""
    out: dict[tuple[str, str], frozenset[str]] = {}
    for entry in claim if isinstance(claim, list) else []:
        if not isinstance(entry, dict):
            continue
        rtype, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        if not (isinstance(rtype, str) and isinstance(name, str) and isinstance(actions, list)):
            continue
        key = (rtype, name)
        out[key] = out.get(key, frozenset()) | {a for a in actions if isinstance(a, str)}
    return out


class TokenVerifier:
    def __init__(self, keys: Callable[[], Iterable[VerificationKey]], issuer: str,
                 service: str) -> None:
        self._keys = keys
        self.issuer = issuer
        self.service = service

    def _candidates(self, header: dict[str, Any]) -> list[tuple[VerificationKey, str]]:
        alg = header.get("alg")
        kid = header.get("kid")
        keys = [k for k in self._keys() if alg in k.algorithms]
        if isinstance(kid, str) and any(k.kid == kid for k in keys):
            keys = [k for k in keys if k.kid == kid]
        return [(k, str(alg)) for k in keys]

    def verify(self, token: str) -> TokenGrant:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        candidates = self._candidates(header)
        if not candidates:
            raise InvalidToken("no configured key for the token's algorithm and key id")
        last: Exception | None = None
        for key, alg in candidates:
            try:
                claims = jwt.decode(
                    token, key.key, algorithms=[alg], audience=self.service,
                    issuer=self.issuer, leeway=LEEWAY_SECONDS,
                    options={"require": ["exp", "iss", "aud"]},
                )
            except jwt.InvalidSignatureError as exc:
                last = exc
                continue
            except jwt.ExpiredSignatureError:
                raise InvalidToken("token expired") from None
            except jwt.InvalidAudienceError:
                raise InvalidToken("token is for another service") from None
            except jwt.InvalidIssuerError:
                raise InvalidToken("token from an unknown issuer") from None
            except jwt.ImmatureSignatureError:
                raise InvalidToken("token not valid yet") from None
            except jwt.PyJWTError as exc:
                raise InvalidToken(f"invalid token: {type(exc).__name__}") from None
            subject = claims.get("sub")
            return TokenGrant(subject if isinstance(subject, str) and subject else None,
                              _access(claims.get("access")), str(claims.get("jti", "")))
        raise InvalidToken("token signature does not verify with any configured key"
                           if last else "invalid token")
