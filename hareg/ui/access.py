# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Who is looking at a page, and what they may see and do; the session cookie and CSRF.

The API's authorization hook lets every ``ui.*`` endpoint through (hareg.auth.routes): a
browser has no Authorization header to show it. The interface decides instead, from its
own signed session cookie, with the API's users and rules:

- the user comes from the session (set by the login form, whose password is checked by
  ``AuthService.check_password``: the htpasswd file, the failed-login throttle and the
  bcrypt slots of the API and the token endpoint), else anonymous;
- what they may pull is ``Policy.pull_filter(user)``, computed as hareg.auth.access's
  ``pull_filter`` does for HTTP Basic callers (in token mode too: the token endpoint grants
  the same policy); every page lists, links and shows only repositories in it;
- an action needs what its API route needs: ``delete`` on the repository to delete a tag,
  ``pull`` on the source and ``promote`` on the target to promote.

With ``[auth] mode = "none"`` everyone may do everything, as on the API.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, Request, g, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import BadRequest

from ..auth.access import Caller, pull_filter
from ..auth.current import auth_service
from ..auth.policy import Policy
from ..registry.visibility import EVERYTHING, RepositoryFilter

COOKIE_NAME = "hareg_ui"
CSRF_FIELD = "csrf_token"
USER_KEY = "user"
CSRF_KEY = "csrf"


class CsrfRefused(BadRequest):
    description = ("the form's security token is missing or does not match this session;"
                   " reload the page and try again")


class UiSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, under its own salt; ``Secure`` when the request came
    over HTTPS (as seen after hareg.server.proxy applied X-Forwarded-Proto from trusted
    proxies), so that a plain-HTTP test setup still works."""

    salt = "hareg-ui-session"

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request and request.is_secure)


def configure_sessions(app: Flask, secret: bytes, lifetime_seconds: int) -> None:
    app.secret_key = secret
    app.session_interface = UiSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_PATH="/ui",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=lifetime_seconds),
    )


@dataclass(frozen=True)
class Viewer:
    """The person looking at a page."""

    subject: str | None        # None: anonymous
    auth_on: bool
    can_log_in: bool           # the registry has users this form can check
    visible: RepositoryFilter  # what they may pull
    policy: Policy | None      # None when auth is off

    def may_pull(self, repository: str) -> bool:
        return self.visible.allows(repository)

    def may(self, action: str, repository: str) -> bool:
        if self.policy is None:
            return True
        return self.policy.allows(self.subject, repository, action)

    @property
    def may_promote_somewhere(self) -> bool:
        return self.policy is None or self.policy.may_promote_somewhere(self.subject)

    @property
    def sees_everything(self) -> bool:
        return self.visible.everything

    @property
    def needs_login(self) -> bool:
        """Anonymous on a registry with auth on: pages that need a user send them to log in."""
        return self.auth_on and self.subject is None


def current_viewer() -> Viewer:
    viewer: Viewer | None = g.get("hareg_ui_viewer")
    if viewer is None:
        viewer = _identify()
        g.hareg_ui_viewer = viewer
    return viewer


def _identify() -> Viewer:
    service = auth_service()
    if not service.enabled:
        return Viewer(None, False, False, EVERYTHING, None)
    subject = session.get(USER_KEY)
    if not isinstance(subject, str) or service.users is None or not service.users.has_user(
            subject):
        subject = None  # logged out, or the user was removed from htpasswd since
    visible = pull_filter(service.policy, "basic", Caller(subject=subject))
    return Viewer(subject, True, service.users is not None, visible, service.policy)


def log_in(user: str) -> None:
    """A fresh session for ``user`` (nothing of the anonymous one survives: no fixation)."""
    session.clear()
    session.permanent = True
    session[USER_KEY] = user
    session[CSRF_KEY] = secrets.token_urlsafe(32)
    g.pop("hareg_ui_viewer", None)


def log_out() -> None:
    session.clear()
    g.pop("hareg_ui_viewer", None)


def csrf_token() -> str:
    """This session's CSRF token (made on first use); every form carries it."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
        session.permanent = True
    return token


def check_csrf(req: Request) -> None:
    """Refuse (400) a form whose token is not this session's."""
    expected = session.get(CSRF_KEY)
    sent = req.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(
            sent.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise CsrfRefused()
