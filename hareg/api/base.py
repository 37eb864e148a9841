# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-1 (the API version check) and the health endpoints."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from .http import registry

bp = Blueprint("base", __name__)


@bp.get("/v2/")
def version_check() -> Response:
    return jsonify({})


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    if current_app.config.get("HAREG_SHUTTING_DOWN"):
        return jsonify({"status": "shutting down"}), 503
    reg = registry()
    problems = {}
    for name, probe in (("database", reg.db.ping), ("storage", reg.storage.check)):
        try:
            probe()
        except Exception as exc:  # readiness reports every failure, whatever its type
            problems[name] = f"{type(exc).__name__}: {exc}"[:300]
    if problems:
        return jsonify({"status": "unavailable", "problems": problems}), 503
    return jsonify({"status": "ok"}), 200
