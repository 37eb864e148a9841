# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Everything auth needs at run time, built once per app from ``[auth]`` (no Flask here)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence

from .access import Caller
from .htpasswd import Htpasswd
from .keys import VerificationKey, load_signing_key, parse_public_keys
from .policy import Policy
from .scopes import CATALOG, REGISTRY, REPOSITORY, Scope
from .settings import ACTIONS, AuthConfig
from .tokens import InvalidToken, TokenIssuer, TokenVerifier
from .watch import WatchedFile

log = logging.getLogger(__name__)


class AuthSetupError(Exception):
    """A key or file named by ``[auth]`` is unusable; the message names it."""


class AuthService:
    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self.mode = config.mode
        self.policy = Policy(config)
        self.users = Htpasswd(config.htpasswd) if config.htpasswd else None
        self.issuer: TokenIssuer | None = None
        self.verifier: TokenVerifier | None = None
        if config.mode != "token":
            return
        own: list[VerificationKey] = []
        if config.signing_key:
            try:
                key = load_signing_key(config.signing_key)
            except ValueError as exc:
                raise AuthSetupError(f"auth.signing_key: {exc}") from None
            self.issuer = TokenIssuer(key, config.issuer, config.service, config.token_lifetime)
            own.append(key.verification_key(config.signing_key))
        files = [WatchedFile(path, functools.partial(parse_public_keys, source=path),
                             list[VerificationKey]())
                 for path in config.public_keys]
        for watched in files:
            if not watched.get():
                raise AuthSetupError(f"auth.public_keys: no usable key in {watched.path}"
                                     " (see the log)")

        def keys() -> Iterable[VerificationKey]:
            yield from own
            for watched in files:
                yield from watched.get()

        self.verifier = TokenVerifier(keys, config.issuer, config.service)

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def check_password(self, user: str, password: str) -> bool:
        return self.users is not None and self.users.verify(user, password)

    def from_basic(self, user: str, password: str) -> Caller:
        if self.check_password(user, password):
            return Caller(subject=user)
        log.info("authentication failed for user %r", user[:64])
        return Caller(error="invalid username or password")

    def from_bearer(self, token: str) -> Caller:
        if self.verifier is None:
            return Caller(error="bearer tokens are not accepted")
        try:
            grant = self.verifier.verify(token)
        except InvalidToken as exc:
            log.info("token refused: %s", exc)
            return Caller(error=str(exc))
        return Caller(subject=grant.subject, token=grant)

    def grant(self, subject: str | None, requested: Sequence[Scope]) -> list[Scope]:
        """The part of ``requested`` that the policy gives ``subject`` (None: anonymous)."""
        granted = []
        for scope in requested:
            if scope.type == REPOSITORY:
                wanted = ACTIONS if "*" in scope.actions else scope.actions
                allowed = self.policy.actions(subject, scope.name)
                actions = tuple(a for a in wanted if a in allowed)
            elif scope.type == REGISTRY and scope.name == CATALOG:
                actions = ("*",) if self.policy.may_list_catalog(subject) else ()
            else:
                actions = ()
            if actions:
                granted.append(Scope(scope.type, scope.name, actions))
        return granted
