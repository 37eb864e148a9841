# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What every route needs: the one table the authorization hook reads.

Keys are Flask endpoints (``blueprint.view``) and methods. A route that is not in the table is
refused (403, logged) when auth is on, and tests/auth/test_routes.py fails for it: a route added
later cannot ship unprotected. OPTIONS (Flask's automatic answer, which only lists methods) and
GET/HEAD of the paths in PUBLIC_PATHS need nothing.
"""

from __future__ import annotations

from flask import Flask

from .access import Need

_READ = ("GET", "HEAD")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

#: Endpoints of the web interface's blueprint (hareg.ui). A browser sends no Authorization
#: header: the interface authorizes each of its requests itself, from its signed session
#: cookie, with the same users and rules (hareg.ui.access); this hook lets them through.
UI_ENDPOINT_PREFIX = "ui."

ROUTE_NEEDS: dict[tuple[str, str], Need] = {
    **{("base.version_check", m): Need.LOGIN for m in _READ},
    **{("blobs.get_blob", m): Need.PULL for m in _READ},
    ("blobs.delete_blob", "DELETE"): Need.DELETE,
    ("uploads.start_upload", "POST"): Need.PUSH,
    ("uploads.patch_upload", "PATCH"): Need.PUSH,
    ("uploads.finish_upload", "PUT"): Need.PUSH,
    **{("uploads.upload_status", m): Need.PUSH for m in _READ},
    ("uploads.cancel_upload", "DELETE"): Need.PUSH,
    **{("manifests.get_manifest", m): Need.PULL for m in _READ},
    ("manifests.put_manifest", "PUT"): Need.PUSH,
    ("manifests.delete_manifest", "DELETE"): Need.DELETE,
    **{("tags.list_tags", m): Need.PULL for m in _READ},
    **{("catalog.catalog", m): Need.CATALOG for m in _READ},
    **{("referrers.referrers", m): Need.PULL for m in _READ},
    **{("auth.token", m): Need.TOKEN for m in (*_READ, "POST")},
    # Flask's static files route (hareg ships no static files: it answers 404).
    **{("static", m): Need.PUBLIC for m in _READ},
    # The promotion API names its repositories in the JSON body: the hook checks that the
    # caller may promote somewhere; the view calls hareg.auth.web.require_access for the
    # source (pull) and destination (promote) before it touches the database.
    ("admin.promote", "POST"): Need.PROMOTE,
    # Namespace definitions: the registry-wide admin action (docs/virtual-remote.rst).
    **{("namespaces.list_namespaces", m): Need.ADMIN for m in _READ},
    **{("namespaces.get_namespace", m): Need.ADMIN for m in _READ},
    ("namespaces.put_namespace", "PUT"): Need.ADMIN,
    ("namespaces.delete_namespace", "DELETE"): Need.ADMIN,
}


def required_need(endpoint: str | None, method: str, path: str) -> Need | None:
    """What the route needs, or None when the table has no entry (fail closed)."""
    if method == "OPTIONS":
        return Need.PUBLIC
    if path in PUBLIC_PATHS and method in _READ:
        return Need.PUBLIC
    if endpoint is None:
        return None
    if endpoint.startswith(UI_ENDPOINT_PREFIX):
        return Need.PUBLIC
    return ROUTE_NEEDS.get((endpoint, method))


def unprotected_routes(app: Flask) -> list[str]:
    """Every ``METHOD path (endpoint)`` of ``app`` without an entry: must be empty."""
    return [f"{method} {rule.rule} ({rule.endpoint})"
            for rule in app.url_map.iter_rules()
            for method in sorted(rule.methods or ())
            if required_need(rule.endpoint, method, rule.rule) is None]
