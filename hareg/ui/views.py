# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The read pages of the web interface: parse the request, ask hareg.ui.data, render.

URLs: a repository name holds slashes, so what follows it comes after ``/-/`` (no name
component can be ``-``: hareg.grammar). Every read page works without JavaScript.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from typing import Any

import psycopg2
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from .. import __version__
from ..api.readiness import DEADLINE, run_probes
from ..config import Config
from ..db.pool import PoolTimeout
from ..registry.context import Registry
from ..registry.errors import NameInvalid, PaginationInvalid, RegistryError
from ..registry.listing import MAX_MARKER_LENGTH
from ..registry.names import parse_digest, validate_name
from ..storage.base import StorageError
from . import data, present
from .access import CSRF_FIELD, csrf_token, current_viewer

log = logging.getLogger(__name__)

bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates",
               static_folder="static", static_url_path="/static")

#: ``Content-Security-Policy`` of every page: only this origin's files; no inline script or
#: style (every script and style is a file under hareg/ui/static), no framing, no plugins.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self';"
       " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Pages that need a user when auth is on (anonymous viewers are sent to log in). Every
#: other page shows what the viewer may pull, anonymous or not; see hareg.ui.access.
LOGIN_PAGES = frozenset({"ui.gc", "ui.promote", "ui.delete_tag"})


def registry() -> Registry:
    return current_app.extensions["hareg"]


def config() -> Config:
    return current_app.config["HAREG_CONFIG"]


def page_size() -> int:
    return config().ui.page_size


@bp.before_request
def _before() -> Any:
    viewer = current_viewer()
    if request.endpoint in LOGIN_PAGES and viewer.needs_login:
        if not viewer.can_log_in:
            abort(403)
        return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    if request.endpoint == "ui.static":
        headers["Cache-Control"] = "public, max-age=3600"
    else:
        headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("size")
def _size_filter(size: int | None) -> str:
    return present.human_size(size)


@bp.app_template_filter("utc")
def _utc_filter(when: Any) -> str:
    return present.utc_text(when)


@bp.app_template_filter("iso")
def _iso_filter(when: Any) -> str:
    return present.iso(when)


@bp.app_template_filter("ago")
def _ago_filter(when: Any) -> str:
    return present.ago(when)


@bp.app_template_filter("short")
def _short_filter(digest: str) -> str:
    return present.short_digest(digest)


@bp.app_template_global("kind_of")
def _kind_of(media_type: str, artifact_type: str | None = None) -> str:
    return present.kind_of(media_type, artifact_type)


@bp.app_template_filter("duration")
def _duration_filter(seconds: float | None) -> str:
    return present.duration_text(seconds)


@bp.context_processor
def _context() -> dict[str, Any]:
    return {"viewer": current_viewer(), "csrf_token": csrf_token, "csrf_field": CSRF_FIELD,
            "version": __version__, "registry_host": request.host}


def _text_arg(name: str, limit: int = MAX_MARKER_LENGTH) -> str:
    value = request.args.get(name, "")
    if len(value) > limit or _CONTROL.search(value):
        raise PaginationInvalid(f"invalid {name}: at most {limit} characters, no control"
                                " characters")
    return value


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise PaginationInvalid(f"invalid {name}: expected a number")
    return int(value)


def _visible_repository(name: str) -> str:
    """The repository of the URL, if the viewer may pull it; 404 otherwise, exactly as for
    a repository that does not exist (a page never confirms what it may not show)."""
    try:
        validate_name(name)
    except NameInvalid:
        abort(404)
    if not current_viewer().may_pull(name):
        abort(404)
    return name


# --- pages ---


@bp.get("/")
def repositories() -> str:
    viewer = current_viewer()
    q = _text_arg("q").strip()
    after = _text_arg("after")
    page = data.repository_list(registry(), viewer.visible, contains=q, after=after,
                                limit=page_size())
    return render_template("ui/repositories.html", page=page, q=q, after=after,
                           nav="repositories")


@bp.get("/r/<path:repository>")
def repository(repository: str) -> str:
    name = _visible_repository(repository)
    after = _text_arg("after")
    prefix = _text_arg("prefix", 128).strip()
    view = data.repository_view(registry(), name, after=after, prefix=prefix,
                                limit=page_size())
    if view is None:
        abort(404)
    return render_template("ui/repository.html", repo=view, after=after, prefix=prefix,
                           nav="repositories")


@bp.get("/r/<path:repository>/-/manifests/<digest>")
def manifest(repository: str, digest: str) -> str:
    name = _visible_repository(repository)
    try:
        digest = str(parse_digest(digest))
    except RegistryError:
        abort(404)
    page = data.manifest_page(registry(), name, digest)
    if page is None:
        abort(404)
    return render_template("ui/manifest.html", page=page, nav="repositories")


@bp.get("/gc")
def gc() -> str:
    viewer = current_viewer()
    runs, schedule = data.gc_history(registry(), config(), before=_int_arg("before"),
                                     limit=page_size())
    preview = None
    repository = _text_arg("repository").strip()
    if repository:
        try:
            validate_name(repository)
            visible = viewer.may_pull(repository)
        except NameInvalid:
            visible = False
        preview = data.gc_preview(registry(), repository) if visible else None
    return render_template("ui/gc.html", runs=runs, schedule=schedule, preview=preview,
                           repository=repository, gc=config().gc, nav="gc",
                           show_errors=viewer.sees_everything)


@bp.get("/promotions")
def promotions() -> str:
    viewer = current_viewer()
    page = data.promotion_list(registry(), viewer.visible, before=_int_arg("before"),
                               limit=page_size())
    return render_template("ui/promotions.html", page=page, nav="promotions")


_STARTED = time.time()


@bp.get("/status")
def status() -> str:
    reg = registry()
    problems = run_probes({"database": reg.db.ping, "storage": reg.storage.check}, DEADLINE)
    writability = getattr(reg.storage, "writability", None)
    return render_template(
        "ui/status.html", nav="status", problems=problems,
        storage_report=writability.report() if writability is not None else None,
        uptime=time.time() - _STARTED, host=socket.gethostname(), pid=os.getpid(),
        read_only=reg.settings.read_only, driver=config().storage.driver)


# --- errors: HTML pages for the interface's own routes ---

_TITLES = {400: "Bad request", 401: "Log in required", 403: "Not allowed", 404: "Not found",
           405: "Not allowed", 429: "Too many attempts", 503: "Unavailable"}


def error_page(status: int, message: str, headers: dict[str, str] | None = None
               ) -> tuple[str, int, dict[str, str]]:
    body = render_template("ui/error.html", status=status,
                           title=_TITLES.get(status, "Error"), message=message)
    return body, status, headers or {}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    if status == 404:
        message = ("There is nothing here, or nothing you may see. Repositories you may not"
                   " pull are not shown.")
    else:
        message = exc.description or exc.name
    return error_page(status, message)


@bp.errorhandler(RegistryError)
def _registry_error(exc: RegistryError) -> Any:
    return error_page(exc.status, exc.message, exc.headers)


@bp.errorhandler(PoolTimeout)
@bp.errorhandler(StorageError)
def _unavailable(exc: Exception) -> Any:
    log.error("dependency failure: %s: %s", type(exc).__name__, exc)
    return error_page(503, "The database or the storage did not answer in time; retry.",
                      {"Retry-After": "1"})


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Any:
    if isinstance(exc, psycopg2.OperationalError):
        return _unavailable(exc)
    log.error("unhandled error", exc_info=exc)
    return error_page(500, "Internal error.")
