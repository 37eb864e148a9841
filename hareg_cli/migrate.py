# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg migrate."""

from __future__ import annotations

import click

from hareg.config import Config

from .options import config_options, fail
from .output import one_line


@click.command()
@config_options
def migrate(config: Config) -> None:
    """Apply pending database migrations (serve also does this at start)."""
    from hareg.db.bootstrap import resolve_database
    from hareg.db.embedded import EmbeddedUnavailable
    from hareg.db.migrate import apply_migrations

    try:
        config = resolve_database(config)
    except EmbeddedUnavailable as exc:
        fail(str(exc))
    try:
        applied = apply_migrations(config.database.url)
    except Exception as exc:  # one line for the operator, not a traceback
        fail(f"migrate failed: {one_line(exc)}")
    for mig in applied:
        click.echo(f"applied {mig.version:04d}_{mig.name}")
    if not applied:
        click.echo("database schema is up to date")
