# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Machine-readable output: ``--json`` prints one JSON document on stdout (docs/cli-json.rst).

Human messages go to stderr when ``--json`` is given, so stdout holds the document alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``: the command receives ``as_json``."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON document on stdout (fields: docs/cli-json.rst);"
                             " messages go to stderr.")(func)


def print_json(document: Any) -> None:
    """The one JSON document of a command, on stdout (datetimes as ISO 8601 strings)."""
    click.echo(json.dumps(document, indent=2, default=_default))


def _default(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (psycopg2's messages span several)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())
