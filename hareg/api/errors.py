# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The one place where failures become the spec's JSON error bodies."""

from __future__ import annotations

import logging
from typing import Any

import psycopg2
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from ..db.pool import PoolTimeout
from ..registry.errors import RegistryError
from ..storage.base import StorageError

log = logging.getLogger(__name__)

# Codes for HTTP-level failures that never reach the domain (unknown route, wrong method).
_HTTP_CODES = {404: "NAME_UNKNOWN", 405: "UNSUPPORTED", 413: "SIZE_INVALID"}


def error_response(status: int, code: str, message: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    response = jsonify({"errors": [body]})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RegistryError)
    def registry_error(exc: RegistryError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.detail, exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = error_response(status, _HTTP_CODES.get(status, "UNSUPPORTED"),
                                  exc.description or exc.name)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(StorageError)
    def unavailable(exc: Exception) -> Response:
        log.error("dependency failure: %s: %s", type(exc).__name__, exc)
        return error_response(503, "UNAVAILABLE", "service temporarily unavailable, retry",
                              headers={"Retry-After": "1"})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc)
        return error_response(500, "UNKNOWN", "internal error")
