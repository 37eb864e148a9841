# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Everything auth needs at run time, built once per app from ``[auth]`` (no Flask here)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence

from ..server.metrics import get_metrics, recording
from .access import Caller
from .errors import PasswordChecksUnavailable, TooManyFailedLogins
from .htpasswd import Htpasswd
from .keys import VerificationKey, load_signing_key, parse_public_keys
from .policy import Policy
from .scopes import CATALOG, NAMESPACES, REGISTRY, REPOSITORY, Scope
from .settings import ACTIONS, ADMIN, AuthConfig
from .throttle import LoginThrottle, PasswordChecksBusy, PasswordGate
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
        self.throttle = LoginThrottle(config)
        self.gate = PasswordGate(config.max_concurrent_password_checks,
                                 config.password_check_wait_seconds)
        self.users = Htpasswd(config.htpasswd, self.gate) if config.htpasswd else None
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

    def check_password(self, user: str, password: str, address: str | None) -> bool:
        """Whether ``password`` is ``user``'s; ``address`` is the client's (after trusted
        proxies). Raises TooManyFailedLogins (429) when a failed-login limit holds, and
        PasswordChecksUnavailable (503) when no bcrypt slot freed up in time: neither runs
        bcrypt. See hareg/auth/throttle.py."""
        if self.users is None:
            return False
        refused = self.throttle.check(user, address)
        if refused is not None:
            self._count_throttled(refused.kind)
            log.debug("login of user %r from %s refused: %s limit, %d s left", user[:64],
                      address, refused.kind, refused.retry_after)
            raise TooManyFailedLogins(refused.retry_after)
        try:
            ok = self.users.verify(user, password)
        except PasswordChecksBusy:
            self._count_throttled("busy")
            log.warning("login of user %r refused: all %d password check slots busy for"
                        " %s s", user[:64], self.gate.slots, self.gate.wait)
            raise PasswordChecksUnavailable() from None
        if ok:
            self.throttle.succeeded(user, address)
            return True
        reason = "password" if self.users.has_user(user) else "unknown_user"
        with recording():
            get_metrics().auth_failed_logins.labels(reason).inc()
        for kind in self.throttle.failed(user, address):
            log.warning("failed logins: %s limit reached by user %r from %s; further"
                        " attempts get 429 for up to %s", kind, user[:64], address,
                        self.config.failed_login_window)
        return False

    @staticmethod
    def _count_throttled(kind: str) -> None:
        with recording():
            get_metrics().auth_throttled.labels(kind).inc()

    def from_basic(self, user: str, password: str, address: str | None) -> Caller:
        if self.check_password(user, password, address):
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
                actions = tuple(a for a in wanted if a in allowed and a in ACTIONS)
            elif scope.type == REGISTRY and scope.name == CATALOG:
                actions = ("*",) if self.policy.may_list_catalog(subject) else ()
            elif (scope.type == REGISTRY and scope.name == NAMESPACES
                  and {ADMIN, "*"} & set(scope.actions)):
                actions = (ADMIN,) if self.policy.may_administer(subject) else ()
            else:
                actions = ()
            if actions:
                granted.append(Scope(scope.type, scope.name, actions))
        return granted
