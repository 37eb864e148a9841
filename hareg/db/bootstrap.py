# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Process start-up shared by the CLI and the WSGI entry point: database URL and schema.

``serve`` and ``migrate`` create what is missing (the embedded cluster, the schema); admin
commands that read an existing registry (``gc``, ``check``, ``promote``) pass
``require_schema=True`` and are refused a data directory or database without a hareg schema,
so a mistyped ``--data-dir`` or URL is reported instead of creating an empty registry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..config import Config
from .embedded import start_embedded
from .migrate import apply_migrations, has_schema
from .pool import wait_until_reachable
from .unreachable import location

OnWait = Callable[[str], None]


class NoHaregDatabase(Exception):
    """The data directory or database holds no hareg schema; the message says what to do."""


_CREATE_HINT = "run 'hareg migrate' or 'hareg serve' to create one"


def embedded_cluster_exists(config: Config) -> bool:
    return (config.data_dir / "postgres" / "PG_VERSION").is_file()


def resolve_database(config: Config, *, create: bool = True) -> Config:
    """Start (or join) the embedded PostgreSQL when no URL is configured.

    With ``create=False`` a data directory without a cluster raises NoHaregDatabase and
    nothing is created on disk.
    """
    if config.database.url:
        return config
    if not create and not embedded_cluster_exists(config):
        raise NoHaregDatabase(_missing(config))
    url = start_embedded(config.data_dir)
    return dataclasses.replace(config, database=dataclasses.replace(config.database, url=url))


def _missing(config: Config) -> str:
    if config.uses_embedded_database:
        return f"no hareg database in {config.data_dir} (is --data-dir right? {_CREATE_HINT})"
    return (f"no hareg database at {location(config.database.url, database=True)}"
            f" (is [database] url right? {_CREATE_HINT})")


def connect(config: Config, *, require_schema: bool = False,
            on_wait: OnWait | None = None) -> Config:
    """Resolve the database and wait until it answers; with ``require_schema``, refuse one
    without a hareg schema (NoHaregDatabase). Raises DatabaseUnreachable on failure."""
    resolved = resolve_database(config, create=not require_schema)
    wait_until_reachable(resolved.database.url, on_wait=on_wait)
    if require_schema and not has_schema(resolved.database.url):
        raise NoHaregDatabase(_missing(config))
    return resolved


def prepare(config: Config, *, require_schema: bool = False, migrate: bool = True,
            on_wait: OnWait | None = None) -> Config:
    """Resolve the database, wait until it answers, apply pending migrations."""
    config = connect(config, require_schema=require_schema, on_wait=on_wait)
    if migrate:
        apply_migrations(config.database.url)
    return config
