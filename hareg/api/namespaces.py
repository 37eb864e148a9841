# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Admin API for namespace definitions (docs/virtual-remote.rst, Managing them):

- ``GET /api/v1/namespaces``: ``{"namespaces": [definition, ...]}``;
- ``GET /api/v1/namespaces/<name>``: one definition (404 ``NAME_UNKNOWN`` if not defined);
- ``PUT /api/v1/namespaces/<name>``: add (201) or replace (200) it; the body is the
  definition as a JSON object (``kind`` and the kind's fields, hareg.registry.namespace_schema);
  a remote without ``password`` keeps the stored one;
- ``DELETE /api/v1/namespaces/<name>``: 204.

Definitions are shown without passwords (``password_set``). Every route needs the
registry-wide ``admin`` permission (hareg/auth/routes.py); errors use the spec's body.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify

from ..registry import namespace_store as store
from ..registry.errors import RequestInvalid, Unsupported
from .http import read_body, registry

bp = Blueprint("namespaces", __name__, url_prefix="/api/v1/namespaces")

MAX_BODY = 64 * 1024


def _json_object() -> dict[str, Any]:
    raw = read_body(MAX_BODY)
    if len(raw) > MAX_BODY:
        raise RequestInvalid("request body too large", detail={"limit": MAX_BODY})
    try:
        body = json.loads(raw or b"null")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RequestInvalid(f"request body is not a JSON object: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise RequestInvalid("request body must be a JSON object (the definition)")
    return body


def _writable() -> None:
    if registry().settings.read_only:
        raise Unsupported("this registry is read-only")


@bp.get("")
def list_namespaces() -> Response:
    found = store.list_definitions(registry())
    return jsonify({"namespaces": [store.public_dict(d) for d in found]})


@bp.get("/<namespace>")
def get_namespace(namespace: str) -> Response:
    return jsonify(store.public_dict(store.get(registry(), namespace)))


@bp.put("/<namespace>")
def put_namespace(namespace: str) -> Response:
    _writable()
    body = _json_object()
    if body.get("name", namespace) != namespace:
        raise RequestInvalid(f"the body names {str(body['name'])[:100]!r}, the path"
                             f" {namespace!r}")
    body.pop("name", None)
    body.pop("password_set", None)  # what GET shows: a body may be a GET's answer, edited
    reg = registry()
    outcome = store.replace(reg, store.load_definition(namespace, body))
    response = jsonify(store.public_dict(store.get(reg, namespace)))
    response.status_code = 201 if outcome.added else 200
    return response


@bp.delete("/<namespace>")
def delete_namespace(namespace: str) -> Response:
    _writable()
    store.remove(registry(), namespace)
    return Response(status=204)
