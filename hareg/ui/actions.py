# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What the web interface changes: log in, log out, delete a tag, promote a tag.

Every form is a POST carrying the session's CSRF token (hareg.ui.access); a change is asked
for on one page and confirmed on the next. Each action needs what its API route needs
(hareg.auth.routes): ``delete`` on the repository to delete a tag; ``pull`` on the source
and ``promote`` on the target to promote. The domain does the work (hareg.registry).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..auth.current import auth_service
from ..auth.errors import PasswordChecksUnavailable, TooManyFailedLogins
from ..registry import manifests, promotion
from ..registry.errors import RegistryError, Unsupported
from ..registry.names import validate_tag
from .access import check_csrf, current_viewer, log_in, log_out
from .views import _visible_repository, bp, error_page, registry

log = logging.getLogger(__name__)

MAX_USER = 255
MAX_PASSWORD = 1024
MAX_REFERENCE = 400


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this interface, never another site."""
    default = url_for("ui.repositories")
    if not target or len(target) > 2000 or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/"):
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    service = auth_service()
    viewer = current_viewer()
    next_url = _safe_next(request.values.get("next"))
    if not service.enabled:
        return redirect(next_url)
    if request.method == "GET":
        return render_template("ui/login.html", next=next_url, error=None, user="",
                               nav="login")
    check_csrf(request)
    user = request.form.get("username", "")[:MAX_USER]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    if not viewer.can_log_in:
        abort(403)
    try:
        ok = bool(user) and service.check_password(user, password, request.remote_addr)
    except TooManyFailedLogins as exc:
        body = render_template("ui/login.html", next=next_url, user=user, nav="login",
                               error=f"Too many failed logins; retry in {exc.retry_after} s.")
        return body, 429, {"Retry-After": str(exc.retry_after)}
    except PasswordChecksUnavailable:
        body = render_template("ui/login.html", next=next_url, user=user, nav="login",
                               error="Too many logins at once; retry in a moment.")
        return body, 503, {"Retry-After": "1"}
    if not ok:
        log.info("web interface: login failed for user %r", user[:64])
        body = render_template("ui/login.html", next=next_url, user=user, nav="login",
                               error="Invalid username or password.")
        return body, 401
    log_in(user)
    log.info("web interface: user %r logged in", user[:64])
    return redirect(next_url)


@bp.post("/logout")
def logout() -> Response:
    check_csrf(request)
    log_out()
    return redirect(url_for("ui.repositories"))


def _refuse_writes() -> None:
    if registry().settings.read_only:
        raise Unsupported("this registry is read-only")


@bp.route("/r/<path:repository>/-/tags/<tag>/delete", methods=["GET", "POST"])
def delete_tag(repository: str, tag: str) -> Any:
    name = _visible_repository(repository)
    try:
        tag = validate_tag(tag)
    except RegistryError:
        abort(404)
    viewer = current_viewer()
    if not viewer.may("delete", name):
        return error_page(403, f"You may not delete tags of {name}.")
    reg = registry()
    if request.method == "GET":
        try:
            found = manifests.get_manifest(reg, name, tag, with_payload=False)
        except RegistryError:
            abort(404)
        return render_template("ui/delete_tag.html", repository=name, tag=tag,
                               digest=found.digest, nav="repositories")
    check_csrf(request)
    _refuse_writes()
    manifests.delete_manifest(reg, name, tag)
    log.info("web interface: %s deleted tag %s:%s", viewer.subject or "anonymous", name, tag)
    flash(f"Deleted tag {tag} of {name}.")
    return redirect(url_for("ui.repository", repository=name))


def _promote_form(status: int, source: str, target: str, error: str | None) -> Any:
    return render_template("ui/promote.html", source=source, target=target, error=error,
                           nav="promotions"), status


@bp.route("/promote", methods=["GET", "POST"])
def promote() -> Any:
    viewer = current_viewer()
    if not viewer.may_promote_somewhere:
        return error_page(403, "You may not promote: no rule gives you that permission.")
    if request.method == "GET":
        return _promote_form(200, request.args.get("source", "")[:MAX_REFERENCE],
                             request.args.get("target", "")[:MAX_REFERENCE], None)
    check_csrf(request)
    source = request.form.get("source", "").strip()[:MAX_REFERENCE]
    target = request.form.get("target", "").strip()[:MAX_REFERENCE]
    try:
        src = promotion.parse_reference(source, tag_required=True)
        dst = promotion.parse_reference(target, tag_required=False)
    except RegistryError as exc:
        return _promote_form(400, source, target, exc.message)
    if not viewer.may_pull(src.repository):
        # exactly what a missing source gets: the form never confirms a hidden repository
        return _promote_form(404, source, target, f"{src} is not tagged.")
    if not viewer.may("promote", dst.repository):
        return _promote_form(403, source, target,
                             f"You may not promote into {dst.repository}.")
    if request.form.get("confirm") != "yes":
        return render_template("ui/promote_confirm.html", source=str(src),
                               target=str(promotion.Reference(dst.repository,
                                                              dst.tag or src.tag)),
                               nav="promotions")
    try:
        _refuse_writes()
        done = promotion.promote(registry(), source, target,
                                 viewer.subject or f"anonymous@{request.remote_addr or '?'}")
    except RegistryError as exc:
        return _promote_form(exc.status, source, target, exc.message)
    log.info("web interface: %s promoted %s to %s", viewer.subject or "anonymous",
             done.source, done.target)
    flash(f"Promoted {done.source} to {done.target} ({done.digest}).")
    return redirect(url_for("ui.promotions"))
