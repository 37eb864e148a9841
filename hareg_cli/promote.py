# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg promote."""

from __future__ import annotations

import getpass
import socket
from typing import Any

import click

from hareg.config import Config
from hareg.plural import counted

from .options import config_options, fail, prepared
from .output import json_option, one_line, print_json


def _error_body(code: str, message: str, detail: Any) -> dict[str, Any]:
    """An error as the API's error body (``{"errors": [...]}``) for --json."""
    error: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        error["detail"] = detail
    return {"errors": [error]}


@click.command()
@click.argument("source", metavar="SRC_REPO:TAG")
@click.argument("target", metavar="DST_REPO[:TAG]")
@click.option("--by", "promoted_by", help="Who promotes, as recorded (default: cli:USER@HOST).")
@json_option
@config_options
def promote(config: Config, source: str, target: str, promoted_by: str | None,
            as_json: bool) -> None:
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
        if as_json:
            print_json(_error_body(exc.code, exc.message, exc.detail))
        fail(f"cannot promote: {exc.code}: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - database or storage down: one line, not a traceback
        message = one_line(exc)
        if as_json:
            print_json(_error_body("UNKNOWN", message, None))
        fail(f"promote failed: {message}")
    finally:
        reg.db.close()
    if as_json:
        print_json(result.to_dict())
        return
    click.echo(f"promoted {result.source} -> {result.target}: {result.digest}"
               f" ({counted(result.manifests, 'manifest')},"
               f" {counted(result.blobs_linked, 'blob')} newly linked)")
