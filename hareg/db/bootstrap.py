# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Process start-up shared by the CLI and the WSGI entry point: database URL and schema."""

from __future__ import annotations

import dataclasses

from ..config import Config
from .embedded import start_embedded
from .migrate import apply_migrations
from .pool import wait_until_reachable


def resolve_database(config: Config) -> Config:
    """Start (or join) the embedded PostgreSQL when no URL is configured."""
    if config.database.url:
        return config
    url = start_embedded(config.data_dir)
    return dataclasses.replace(config, database=dataclasses.replace(config.database, url=url))


def prepare(config: Config) -> Config:
    """Resolve the database, wait until it answers, apply pending migrations."""
    config = resolve_database(config)
    wait_until_reachable(config.database.url)
    apply_migrations(config.database.url)
    return config
