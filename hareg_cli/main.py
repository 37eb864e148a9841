# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``hareg`` command. Thin: every command parses options and calls into hareg."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from hareg.config import Config, ConfigError, load_config


def _fail(message: str) -> None:
    click.echo(f"hareg: {message}", err=True)
    sys.exit(2)


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--config and --data-dir, turned into a validated Config passed as ``config``."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False),
                  help="TOML config file (default: $HAREG_CONFIG, else built-in defaults).")
    @click.option("--data-dir", type=click.Path(file_okay=False),
                  help="Directory for the embedded PostgreSQL and filesystem storage.")
    @functools.wraps(func)
    def wrapper(config_path: str | None, data_dir: str | None, **kwargs: Any) -> Any:
        overrides: dict[str, dict[str, Any]] = {}
        if data_dir:
            overrides["server"] = {"data_dir": data_dir}
        for key in ("bind", "workers"):  # serve's options override [server] keys
            if kwargs.get(key) is not None:
                overrides.setdefault("server", {})[key] = kwargs[key]
            kwargs.pop(key, None)
        try:
            config = load_config(config_path, overrides=overrides)
        except ConfigError as exc:
            _fail(f"config error: {exc}")
        return func(config=config, **kwargs)

    return wrapper


def prepared(config: Config) -> Config:
    from hareg.bootstrap import prepare
    from hareg.db.embedded import EmbeddedUnavailable

    try:
        return prepare(config)
    except EmbeddedUnavailable as exc:
        _fail(str(exc))
    except Exception as exc:  # a clear line for the operator, not a traceback
        _fail(f"cannot prepare the database: {type(exc).__name__}: {exc}")
    raise AssertionError("unreachable")


@click.group()
@click.version_option(package_name="hareg")
def cli() -> None:
    """hareg: a highly available OCI container registry."""


@cli.command()
@click.option("--bind", help="HOST:PORT to listen on (default from config: 127.0.0.1:5000).")
@click.option("--workers", type=click.IntRange(min=0),
              help="gevent worker processes (0 = one per CPU core).")
@config_options
def serve(config: Config) -> None:
    """Serve the registry API with gunicorn and gevent workers."""
    from hareg.logs import setup_logging
    from hareg.server import HaregServer

    setup_logging(config.log)
    embedded = config.uses_embedded_database
    config = prepared(config)
    where = (f"embedded PostgreSQL in {config.data_dir / 'postgres'}" if embedded
             else "PostgreSQL at the configured URL")
    storage = (str(config.storage_root) if config.storage.driver == "filesystem"
               else f"s3://{config.storage.bucket}/{config.storage.prefix}")
    host = config.server.bind
    click.echo(f"hareg: serving the OCI registry API on http://{host}/v2/", err=True)
    click.echo(f"hareg: metadata in {where}; blobs in {storage}", err=True)
    click.echo(f"hareg: push with: skopeo copy --dest-tls-verify=false "
               f"oci:./image:latest docker://{host}/demo/app:latest", err=True)
    HaregServer(config, config.server.bind, config.server.workers).run()


@cli.command()
@config_options
def migrate(config: Config) -> None:
    """Apply pending database migrations (also done automatically by serve)."""
    from hareg.bootstrap import resolve_database
    from hareg.db.migrate import apply_migrations

    config = resolve_database(config)
    applied = apply_migrations(config.database.url)
    if applied:
        for mig in applied:
            click.echo(f"applied {mig.version:04d}_{mig.name}")
    else:
        click.echo("database schema is up to date")


def main() -> None:
    cli(prog_name="hareg")
