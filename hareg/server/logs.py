# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Logging as text for a terminal or one JSON object per line for a log pipeline.

Every line a request causes carries its request id: :class:`RequestIdFilter`, on each of
hareg's handlers, copies :data:`REQUEST_ID` (set by hareg.server.requestlog for the request
being served; gevent gives every greenlet its own context) into the record. gunicorn's own
loggers are configured by :func:`gunicorn_logconfig` (gunicorn's ``logconfig_dict``) to use
the same handler, so with ``[log] format = "json"`` every line on stderr is JSON.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from ..config import LogConfig

#: The id of the request the current greenlet (or thread) is serving, None outside requests.
REQUEST_ID: ContextVar[str | None] = ContextVar("hareg_request_id", default=None)

#: The record attribute whose dict a JSON line shows as separate keys (the request log's).
FIELDS = "hareg_fields"

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_TEXT_FORMAT_WITH_ID = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class RequestIdFilter(logging.Filter):
    """Handler filter: ``record.request_id`` = the request being served (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class TlsProbeFilter(logging.Filter):
    """gunicorn.error: a TLS handshake sent to the plain-HTTP port is logged at DEBUG.

    Clients that try HTTPS first (skopeo, podman with ``--tls-verify=false``) send a TLS
    ClientHello, which gunicorn rejects with the warning "Invalid request from ip=...:
    Invalid HTTP request line: ...". Exactly that message class is demoted; every other
    malformed request keeps its level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        if not (message.startswith("Invalid request from ip=")
                and ": Invalid HTTP request line:" in message):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id]: message``; the id only while a request is served."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)
        self._with_id = logging.Formatter(_TEXT_FORMAT_WITH_ID)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is not None:
            return self._with_id.format(record)
        return super().format(record)


def formatter(cfg: LogConfig) -> logging.Formatter:
    return JsonFormatter() if cfg.format == "json" else TextFormatter()


def stderr_handler(cfg: LogConfig) -> logging.Handler:
    """hareg's one handler: stderr, the configured format, the request id on every record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(cfg))
    handler.addFilter(RequestIdFilter())
    return handler


def setup_logging(cfg: LogConfig) -> None:
    root = logging.getLogger()
    root.handlers[:] = [stderr_handler(cfg)]
    root.setLevel(cfg.level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def gunicorn_logconfig(cfg: LogConfig) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its loggers write through hareg's handler and format.

    gunicorn's access log stays silent (hareg.server.requestlog writes the request log);
    TLS probes on the plain port are demoted to DEBUG (:class:`TlsProbeFilter`).
    """
    level = cfg.level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "tls_probe": {"()": TlsProbeFilter},
        },
        "formatters": {"hareg": {"()": JsonFormatter if cfg.format == "json" else TextFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                       "formatter": "hareg", "filters": ["request_id"]},
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False,
                               "filters": ["tls_probe"]},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def announce(message: str, level: int = logging.INFO) -> None:
    """A start-up line for the operator: ``hareg: message`` on stderr as text, or a JSON
    line (logger ``hareg``) when logging is set up with ``[log] format = "json"``."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        logging.getLogger("hareg").log(level, message)
    else:
        sys.stderr.write(f"hareg: {message}\n")
        sys.stderr.flush()
