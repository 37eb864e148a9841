# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The realm endpoint of the Docker token flow: ``GET /token`` (HTTP Basic credentials,
``service``, repeated ``scope``) and the OAuth2 form ``POST /token``
(``grant_type=password``, ``username``, ``password``, ``service``, space-separated ``scope``).

Without credentials the token grants what anonymous callers may do (possibly nothing). Wrong
credentials get 401; too many of them 429 TOOMANYREQUESTS with Retry-After (and 503 when no
password check slot is free), OAuth2 error ``temporarily_unavailable``. Bad input gets 400.
Every error body holds both the registry's error envelope (``errors``) and OAuth2's
``error``/``error_description``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import MultiDict

from .current import auth_service
from .errors import PasswordChecksUnavailable, TooManyFailedLogins
from .scopes import ScopeError, parse_scopes

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

MAX_FORM_BYTES = 64 * 1024


def _error(status: int, code: str, oauth_error: str, message: str,
           headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"errors": [{"code": code, "message": message}],
                        "error": oauth_error, "error_description": message})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _bad_request(message: str, oauth_error: str = "invalid_request") -> Response:
    return _error(400, "UNSUPPORTED", oauth_error, message)


def _unauthorized(message: str) -> Response:
    return _error(401, "UNAUTHORIZED", "invalid_grant", message,
                  {"WWW-Authenticate": 'Basic realm="hareg"'})


def _params() -> tuple[MultiDict[str, str], tuple[str, str] | None, Response | None]:
    """(parameters, (user, password) or None, error response or None)."""
    params: MultiDict[str, str]
    if request.method == "POST":
        if (request.content_length or 0) > MAX_FORM_BYTES:
            return MultiDict(), None, _bad_request(
                f"request body larger than {MAX_FORM_BYTES} bytes")
        request.max_form_memory_size = MAX_FORM_BYTES
        form = request.form
        grant_type = form.get("grant_type", "")
        if grant_type == "password":
            return form, (form.get("username", ""), form.get("password", "")), None
        if grant_type == "refresh_token":
            return form, None, _bad_request(
                "refresh tokens are not issued; use grant_type=password",
                "unsupported_grant_type")
        if grant_type:
            return form, None, _bad_request(f"unsupported grant_type {grant_type[:40]!r}",
                                            "unsupported_grant_type")
        params = form
    else:
        params = request.args
    if "Authorization" not in request.headers:
        return params, None, None
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return params, None, _unauthorized("the token endpoint takes HTTP Basic credentials")
    return params, (auth.username or "", auth.password or ""), None


@bp.route("/token", methods=["GET", "POST"])
def token() -> Response:
    service = auth_service()
    issuer = service.issuer
    if issuer is None:
        return _error(404, "UNSUPPORTED", "invalid_request",
                      "this registry does not issue tokens ([auth] mode is not \"token\" or"
                      " no signing_key is configured)")
    params, credentials, error = _params()
    if error is not None:
        return error
    requested_service = params.get("service")
    if requested_service is not None and requested_service != service.config.service:
        return _bad_request(f"unknown service {requested_service[:100]!r}; this registry's"
                            f" service is {service.config.service!r}")
    try:
        scopes = parse_scopes(params.getlist("scope"))
    except ScopeError as exc:
        return _bad_request(str(exc), "invalid_scope")
    subject = None
    if credentials is not None:
        user, password = credentials
        try:
            ok = bool(user) and service.check_password(user, password, request.remote_addr)
        except (TooManyFailedLogins, PasswordChecksUnavailable) as exc:
            return _error(exc.status, exc.code, "temporarily_unavailable", exc.message,
                          exc.headers)
        if not ok:
            log.info("token request refused: invalid credentials for user %r", user[:64])
            return _unauthorized("invalid username or password")
        subject = user
    granted = service.grant(subject, scopes)
    issued = issuer.issue(subject, granted)
    log.info("issued a token to %s for %s", subject or "anonymous",
             " ".join(str(s) for s in granted) or "no access")
    body: dict[str, Any] = {
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in,
        "issued_at": _rfc3339(issued.issued_at),
    }
    if request.method == "POST":
        body["scope"] = " ".join(str(s) for s in granted)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
