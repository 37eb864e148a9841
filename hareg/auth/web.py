# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Flask glue: the before_request hook that authorizes every request from its route, and
:func:`require_access` for views whose repositories are not in the path (promotion)."""

from __future__ import annotations

import logging

from flask import Flask, g, request

from ..registry.visibility import EVERYTHING, RepositoryFilter
from .access import Caller, Decision, Need, Outcome, challenge_header, decide, pull_filter
from .current import EXTENSION, auth_service
from .errors import Denied, Unauthorized
from .routes import required_need
from .service import AuthService
from .settings import AuthConfig
from .token_view import bp

log = logging.getLogger(__name__)


def install_auth(app: Flask, config: AuthConfig) -> None:
    """Register the realm endpoint and the authorization hook (call before other hooks)."""
    app.extensions[EXTENSION] = AuthService(config)
    app.register_blueprint(bp)
    app.before_request(authorize_request)


def realm_url(service: AuthService) -> str:
    """The token endpoint clients are sent to: ``[auth] realm``, else this server's /token
    (request.url_root honours X-Forwarded-Proto/Host from trusted proxies)."""
    return service.config.realm or request.url_root.rstrip("/") + "/token"


def identify(service: AuthService) -> Caller:
    """Who sent the request, from its Authorization header (no header: anonymous).

    Raises TooManyFailedLogins (429) or PasswordChecksUnavailable (503) for Basic credentials
    that may not be checked now (hareg/auth/throttle.py)."""
    if "Authorization" not in request.headers:
        return Caller()
    auth = request.authorization
    if auth is None:
        return Caller(error="malformed Authorization header")
    if service.mode == "basic" and auth.type == "basic":
        return service.from_basic(auth.username or "", auth.password or "",
                                  request.remote_addr)
    if service.mode == "token" and auth.type == "bearer" and auth.token:
        return service.from_bearer(auth.token)
    scheme = "Basic" if service.mode == "basic" else "Bearer"
    return Caller(error=f"expected {scheme} credentials")


def _enforce(service: AuthService, caller: Caller, decision: Decision, need: Need,
             repository: str | None) -> None:
    if decision.outcome == Outcome.ALLOW:
        return
    detail = None
    if decision.scope is not None:
        detail = [{"Type": decision.scope.type, "Name": decision.scope.name,
                   "Action": ",".join(decision.scope.actions)}]
    if decision.outcome == Outcome.CHALLENGE:
        error = "invalid_token" if caller.error and service.mode == "token" else None
        header = challenge_header(service.mode, realm_url(service), service.config.service,
                                  decision.scope, error)
        message = "authentication required"
        if caller.error:
            message = f"authentication failed: {caller.error}"
        raise Unauthorized(message, detail=detail, headers={"WWW-Authenticate": header})
    headers = None
    if decision.insufficient_scope:
        headers = {"WWW-Authenticate": challenge_header(
            service.mode, realm_url(service), service.config.service, decision.scope,
            "insufficient_scope")}
    raise Denied(detail=detail, headers=headers)


def authorize_request() -> None:
    """before_request: decide from the route alone, before any view touches the database."""
    service = auth_service()
    rule = request.url_rule
    if not service.enabled:
        g.hareg_pullable = EVERYTHING
        return
    if rule is None:  # no route: Flask answers 404/405 itself
        return
    need = required_need(request.endpoint, request.method, rule.rule)
    if need is None:
        log.error("no authorization rule for %s %s (%s): refused", request.method, rule.rule,
                  request.endpoint)
        raise Denied("this route has no authorization rule")
    if need in (Need.PUBLIC, Need.TOKEN):
        return
    caller = identify(service)
    g.hareg_caller = caller
    if caller.subject is not None:
        request.environ["REMOTE_USER"] = caller.subject
    repository = (request.view_args or {}).get("name")
    decision = decide(service.policy, service.mode, caller, need, repository)
    _enforce(service, caller, decision, need, repository)
    g.hareg_pullable = pull_filter(service.policy, service.mode, caller)


def require_access(repository: str, action: str) -> None:
    """For views whose repositories come from the body: raise 401/403 unless the caller may
    take ``action`` (pull, push, delete, promote) on ``repository``. Call it before any
    database access."""
    service = auth_service()
    if not service.enabled:
        return
    caller: Caller = g.get("hareg_caller") or Caller()
    need = Need(action)
    _enforce(service, caller, decide(service.policy, service.mode, caller, need, repository),
             need, repository)


def pullable() -> RepositoryFilter:
    """The repositories this request's caller may pull (set by :func:`authorize_request`
    for every route that needs a caller; EVERYTHING when auth is off)."""
    visible: RepositoryFilter | None = g.get("hareg_pullable")
    if visible is None:  # a public route asked: a programming error, never "everything"
        raise RuntimeError("no pull filter for this request: its route is public")
    return visible


def current_subject() -> str | None:
    """The authenticated user of this request (None: anonymous or auth off)."""
    caller: Caller | None = g.get("hareg_caller")
    return caller.subject if caller else None
