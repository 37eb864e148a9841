# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg serve."""

from __future__ import annotations

import logging

import click

from hareg.config import Config

from .options import config_options, fail, prepared


@click.command()
@click.option("--bind", help="HOST:PORT to listen on (default from config: 127.0.0.1:5000).")
@click.option("--workers", type=click.IntRange(min=0),
              help="gevent worker processes (0 = one per CPU core).")
@config_options
def serve(config: Config) -> None:
    """Serve the registry API with gunicorn and gevent workers."""
    from hareg.server.listeners import CannotListen, probe_listeners
    from hareg.server.logs import announce, setup_logging
    from hareg.server.runner import HaregServer, gunicorn_binds

    setup_logging(config.log)
    embedded = config.uses_embedded_database
    try:  # a port in use is one line, before the embedded PostgreSQL starts
        probe_listeners(gunicorn_binds(config, config.server.bind), config.metrics.bind)
    except CannotListen as exc:
        fail(str(exc))
    config = prepared(config)
    server = HaregServer(config, config.server.bind, config.server.workers)
    try:
        server.listen()  # before the banner: an address in use is one line, no banner
    except CannotListen as exc:
        fail(str(exc))
    where = (f"embedded PostgreSQL in {config.data_dir / 'postgres'}" if embedded
             else "PostgreSQL at the configured URL")
    storage = (str(config.storage_root) if config.storage.driver == "filesystem"
               else f"s3://{config.storage.bucket}/{config.storage.prefix}")
    host = config.server.bind
    if embedded and not host.startswith(("127.", "localhost", "[::1]", "unix:")):
        announce("warning: serving a non-loopback address with the embedded database;"
                 " several instances need a shared [database] url and S3 storage",
                 logging.WARNING)
    announce(f"serving the OCI registry API on http://{host}/v2/")
    announce(f"metadata in {where}; blobs in {storage}")
    announce("push with: skopeo copy --dest-tls-verify=false "
             f"oci:./image:latest docker://{host}/demo/app:latest")
    server.run()
