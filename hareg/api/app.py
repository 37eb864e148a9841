# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""create_app(config): wires database, storage and the blueprints into a Flask app."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.routing import PathConverter

from ..auth.web import install_auth
from ..config import Config
from ..registry.build import build_registry
from ..registry.context import Registry
from ..registry.errors import Unsupported
from ..registry.names import validate_name
from ..server.metrics import MetricsMiddleware
from ..server.proxy import TrustedProxies
from ..server.requestlog import RequestLog, note_repository
from . import admin, base, blobs, errors, listing, manifests, namespaces, uploads

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _NamePathConverter(PathConverter):
    """``<path:name>`` that also takes names with line breaks, so that the name check answers
    them with ``NAME_INVALID`` (werkzeug's ``.`` stops at a newline: 404 otherwise)."""

    regex = "[^/](?s:.)*?"


def create_app(config: Config, registry: Registry | None = None) -> Flask:
    app = Flask("hareg")
    app.config["HAREG_CONFIG"] = config
    app.extensions["hareg"] = registry or build_registry(config, serving=True)
    app.url_map.strict_slashes = False
    app.url_map.converters["path"] = _NamePathConverter
    # WSGI layers (outermost last): forwarding headers from trusted proxies only, then
    # metrics, which also answers /metrics before any blueprint or auth hook sees it, then
    # the request id and request log around everything.
    proxies = TrustedProxies(app.wsgi_app, config.server.trusted_proxies)
    app.wsgi_app = proxies  # type: ignore[method-assign]
    app.wsgi_app = MetricsMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, app.url_map, app.extensions["hareg"].db, config.metrics.bind)
    app.wsgi_app = RequestLog(  # type: ignore[method-assign]
        app.wsgi_app, proxies, enabled=config.log.requests)
    app.url_value_preprocessor(note_repository)
    for bp in (base.bp, blobs.bp, uploads.bp, manifests.bp, listing.tags_bp,
               listing.catalog_bp, listing.referrers_bp, admin.bp, namespaces.bp):
        app.register_blueprint(bp)
    errors.register_error_handlers(app)
    install_auth(app, config.auth)  # first hook: authorize from the route, before any DB

    @app.before_request
    def check_request() -> None:
        name = (request.view_args or {}).get("name")
        if name is not None:
            validate_name(name)
        if (config.registry.read_only and request.method in _WRITE_METHODS
                and request.path.startswith("/v2/")):
            raise Unsupported("this registry is read-only")

    @app.after_request
    def api_version(response: Response) -> Response:
        response.headers[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return response

    if config.ui.enabled:  # the web interface (hareg.ui): its own blueprint and session
        from ..ui import install_ui

        install_ui(app, config)
    from ..gc.schedule import start_scheduler

    start_scheduler(app.extensions["hareg"], config)  # only when [gc] schedule is set
    return app
