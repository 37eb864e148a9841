# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Options every command shares: --config and --data-dir, turned into a validated Config."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from hareg.config import Config, ConfigError, load_config, unknown_environment

from .output import one_line

# Command options that override a [server] key when given.
_SERVER_OVERRIDES = ("bind", "workers")


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: what an operator needs, not a traceback."""
    click.echo(f"hareg: {message}", err=True)
    sys.exit(2)


def say(message: str) -> None:
    """One informational line on stderr (waiting for the database, ...)."""
    click.echo(f"hareg: {message}", err=True)


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --config/--data-dir; the command receives ``config`` instead."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False),
                  help="TOML config file (default: $HAREG_CONFIG, else built-in defaults).")
    @click.option("--data-dir", type=click.Path(file_okay=False),
                  help="Directory for the embedded PostgreSQL and filesystem storage.")
    @functools.wraps(func)
    def wrapper(config_path: str | None, data_dir: str | None, **kwargs: Any) -> Any:
        server: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
        for key in _SERVER_OVERRIDES:
            if kwargs.get(key) is not None:
                server[key] = kwargs[key]
            kwargs.pop(key, None)
        try:
            config = load_config(config_path, overrides={"server": server} if server else None)
        except ConfigError as exc:
            fail(f"config error: {exc}")
        for warning in unknown_environment():
            say(f"warning: {warning}")
        return func(config=config, **kwargs)

    return wrapper


def prepared(config: Config, *, require_schema: bool = False, migrate: bool = True) -> Config:
    """The config with its database resolved (embedded started if needed), reachable and
    migrated; every failure is one line and exit status 2.

    ``require_schema``: the command works on an existing registry (gc, check, promote); a
    data directory or database without a hareg schema is refused and nothing is created.
    """
    from hareg.db.bootstrap import NoHaregDatabase, prepare
    from hareg.db.embedded import EmbeddedUnavailable
    from hareg.db.unreachable import DatabaseUnreachable

    try:
        return prepare(config, require_schema=require_schema, migrate=migrate, on_wait=say)
    except (EmbeddedUnavailable, DatabaseUnreachable, NoHaregDatabase) as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a clear line for the operator, not a traceback
        fail(f"cannot prepare the database: {one_line(exc)}")
