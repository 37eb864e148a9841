# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg promote."""

from __future__ import annotations

import getpass
import socket

import click

from hareg.config import Config

from .options import config_options, fail, prepared


@click.command()
@click.argument("source", metavar="SRC_REPO:TAG")
@click.argument("target", metavar="DST_REPO[:TAG]")
@click.option("--by", "promoted_by", help="Who promotes, as recorded (default: cli:USER@HOST).")
@config_options
def promote(config: Config, source: str, target: str, promoted_by: str | None) -> None:
    """Copy a tag into another repository by reference (no blob is copied).

    The promoted tag stays protected from the source repository's retention while the target
    repository holds the manifest. TAG defaults to the source tag.
    """
    from hareg.registry.build import build_registry
    from hareg.registry.errors import RegistryError
    from hareg.registry.promotion import promote as do_promote

    config = prepared(config, require_schema=True)
    reg = build_registry(config)
    who = promoted_by or f"cli:{getpass.getuser()}@{socket.gethostname()}"
    try:
        result = do_promote(reg, source, target, who)
    except RegistryError as exc:
        fail(f"cannot promote: {exc.code}: {exc.message}")
    finally:
        reg.db.close()
    click.echo(f"promoted {result.source} -> {result.target}: {result.digest}"
               f" ({result.manifests} manifest(s), {result.blobs_linked} blob(s) newly linked)")
