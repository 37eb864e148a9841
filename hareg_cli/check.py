# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg check."""

from __future__ import annotations

import sys

import click

from hareg.config import Config

from .options import config_options, fail, prepared
from .progress import terminal_progress


@click.command()
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: when stderr is a terminal).")
@config_options
def check(config: Config, progress: bool | None) -> None:
    """Compare the database with the storage.

    Reports rows whose object is missing (exit status 1) and, as information, objects that
    no row knows (garbage collection removes those). Safe while the registry serves.
    """
    from hareg.check.objects import check_storage, summarize
    from hareg.registry.build import build_registry

    config = prepared(config, require_schema=True, migrate=False)
    reg = build_registry(config)
    try:
        report = check_storage(reg, terminal_progress(progress))
    except Exception as exc:  # one line for the operator, not a traceback
        fail(f"check failed: {type(exc).__name__}: {exc}")
    finally:
        reg.db.close()
    for line in summarize(report):
        click.echo(line)
    sys.exit(0 if report.ok else 1)
