# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg migrate."""

from __future__ import annotations

import click

from hareg.config import Config

from .options import config_options, fail, prepared
from .output import one_line


@click.command()
@config_options
def migrate(config: Config) -> None:
    """Apply pending database migrations (serve also does this at start)."""
    from hareg.db.migrate import apply_migrations

    config = prepared(config, migrate=False)
    try:
        applied = apply_migrations(config.database.url)
    except Exception as exc:  # noqa: BLE001 - one line for the operator, not a traceback
        fail(f"migration failed: {one_line(exc)}")
    for mig in applied:
        click.echo(f"applied {mig.version:04d}_{mig.name}")
    if not applied:
        click.echo("database schema is up to date")
