# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Options every command shares: --config and --data-dir, turned into a validated Config."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from hareg.config import Config, ConfigError, load_config

# Command options that override a [server] key when given.
_SERVER_OVERRIDES = ("bind", "workers")


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: what an operator needs, not a traceback."""
    click.echo(f"hareg: {message}", err=True)
    sys.exit(2)


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
        return func(config=config, **kwargs)

    return wrapper


def prepared(config: Config) -> Config:
    """The config with its database resolved (embedded started if needed) and migrated."""
    from hareg.db.bootstrap import prepare
    from hareg.db.embedded import EmbeddedUnavailable

    try:
        return prepare(config)
    except EmbeddedUnavailable as exc:
        fail(str(exc))
    except Exception as exc:  # a clear line for the operator, not a traceback
        fail(f"cannot prepare the database: {type(exc).__name__}: {exc}")
