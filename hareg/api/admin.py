# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Admin API: ``POST /api/v1/promote``.

Request body (JSON): ``{"source": "repo:tag", "target": "repo[:tag]"}``; answer ``201`` with
the promotion as JSON. Errors use the distribution spec's error body.

Authorization: the auth layer's before_request hook lets the route through only for callers
who may promote somewhere (hareg/auth/routes.py); the view then calls
``hareg.auth.web.require_access`` for ``pull`` on the source repository and
:data:`PROMOTE_PERMISSION` on the target repository, before touching the database. With auth
off both are no-ops. ``promoted_by`` records the authenticated user, else
``anonymous@<client address>``.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..auth.web import current_subject, require_access
from ..registry import promotion
from ..registry.errors import RequestInvalid, Unsupported
from .http import read_body, registry

bp = Blueprint("admin", __name__, url_prefix="/api/v1")

PROMOTE_PERMISSION = "promote"
MAX_BODY = 64 * 1024


class PromoteSchema(Schema):
    class Meta:
        unknown = RAISE

    source = fields.String(required=True, validate=validate.Length(min=3, max=400))
    target = fields.String(required=True, validate=validate.Length(min=1, max=400))


def _caller() -> str:
    return current_subject() or f"anonymous@{request.remote_addr or 'unknown'}"


def _json_body() -> dict:
    raw = read_body(MAX_BODY)
    if len(raw) > MAX_BODY:
        raise RequestInvalid("request body too large", detail={"limit": MAX_BODY})
    try:
        body = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestInvalid(f"request body is not valid JSON: {exc}") from None
    except (ValueError, RecursionError):  # an integer of thousands of digits, deep nesting
        raise RequestInvalid("request body is not a promotion request: too deep or a number"
                             " too large") from None
    if not isinstance(body, dict):
        raise RequestInvalid("request body must be a JSON object")
    return body


@bp.post("/promote")
def promote() -> Response:
    reg = registry()
    if reg.settings.read_only:
        raise Unsupported("this registry is read-only")
    try:
        data = PromoteSchema().load(_json_body())
    except ValidationError as exc:
        raise RequestInvalid("invalid promotion request", detail=exc.messages) from None
    source = promotion.parse_reference(data["source"], tag_required=True)
    target = promotion.parse_reference(data["target"], tag_required=False)
    require_access(source.repository, "pull")
    require_access(target.repository, PROMOTE_PERMISSION)
    result = promotion.promote(reg, data["source"], data["target"], _caller())
    response = jsonify(result.to_dict())
    response.status_code = 201
    response.headers["Location"] = f"/v2/{result.target.repository}/manifests/{result.digest}"
    return response
