# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg check."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from hareg.config import Config

from .options import config_options, fail, prepared
from .output import json_option, one_line, print_json
from .progress import terminal_progress


@click.command()
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: when stderr is a terminal).")
@click.option("--jobs", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Links read from the storage at once.")
@json_option
@config_options
def check(config: Config, progress: bool | None, jobs: int, as_json: bool) -> None:
    """Compare the database with the storage.

    Reports rows whose object is missing and tag, revision and layer links that disagree
    with the rows (what rebuild-db would get wrong), exit status 1; as information, objects
    that no row knows (garbage collection removes those) and links skipped because a write
    was in flight. The last line is the verdict: "ok: ..." or "problems: ...". Safe while
    the registry serves; reads one small object per tag and per manifest.
    """
    from hareg.check.objects import check_storage, summarize, to_json
    from hareg.registry.build import build_registry

    config = prepared(config, require_schema=True, migrate=False)
    reg = build_registry(config)
    try:
        report = check_storage(reg, terminal_progress(progress), jobs=jobs,
                               pending_age=timedelta(seconds=config.gc.grace_seconds))
    except Exception as exc:  # noqa: BLE001 - any failure becomes one line for the operator
        message = one_line(exc)
        if as_json:
            print_json(to_json(None, message))
        fail(f"check failed: {message}")
    finally:
        reg.db.close()
    if as_json:
        print_json(to_json(report))
    else:
        for line in summarize(report):
            click.echo(line)
    sys.exit(0 if report.ok else 1)
