# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-1 (the API version check) and the health endpoints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from .http import registry
from .readiness import DEADLINE, run_probes

bp = Blueprint("base", __name__)


@bp.get("/v2/")
def version_check() -> Response:
    return jsonify({})


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when the database and the storage answer within :data:`DEADLINE` seconds.

    Storage that refuses writes (full, read-only) is reported in the body and keeps 200:
    pulls still work, and a shared storage refuses writes on every instance alike, so taking
    them all out of the load balancer would only add failed pulls to failed pushes.
    """
    if current_app.config.get("HAREG_SHUTTING_DOWN"):
        return _no_cache(jsonify({"status": "shutting down"})), 503
    reg = registry()
    problems = run_probes({"database": reg.db.ping, "storage": reg.storage.check}, DEADLINE)
    body: dict[str, Any] = {"status": "unavailable" if problems else "ok"}
    if problems:
        body["problems"] = problems
    writability = getattr(reg.storage, "writability", None)
    if writability is not None:
        body["storage"] = writability.report()
    response = jsonify(body)
    if problems:
        response.headers["Retry-After"] = "1"
    return _no_cache(response), 503 if problems else 200


def _no_cache(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
