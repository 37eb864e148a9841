# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg rebuild-db."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from hareg.config import Config

from .options import config_options, fail, prepared
from .output import print_json

#: Exit statuses: 0 done, 1 done but some objects were skipped (see "errors"),
#: 2 could not run or stopped on a fatal error, 130 interrupted (run it again to resume).
EXIT_ERRORS, EXIT_FAILED, EXIT_INTERRUPTED = 1, 2, 130


@click.command("rebuild-db")
@click.option("--jobs", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Parallel listings, object reads and repositories.")
@click.option("--repository", "pattern", metavar="PATTERN",
              help="Only repositories whose name matches this glob (e.g. 'library/*').")
@click.option("--from-scratch", is_flag=True,
              help="Empty the tables rebuilt from storage first.")
@click.option("--prune", is_flag=True, help="Remove rows whose objects are gone from storage.")
@click.option("--dry-run", is_flag=True,
              help="Walk, read and parse everything, report what would change, write nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Accepted like on the other commands: the summary is always JSON.")
@config_options
def rebuild_db(config: Config, jobs: int, pattern: str | None, from_scratch: bool,
               prune: bool, dry_run: bool, as_json: bool) -> None:
    """Rebuild the database from the storage bucket (the durable truth).

    Prints a JSON summary on stdout, also when it could not run because a sweep or another
    rebuild holds the lock (status "busy", exit status 2). Interrupted, it can simply run
    again: it resumes where the database stands. While it runs, other instances should be
    read-only ([registry] read_only = true); see docs/rebuild.rst.
    """
    import dataclasses

    from hareg.db.pool import Database
    from hareg.rebuild import RebuildBusy, RebuildFailed, RebuildOptions, rebuild
    from hareg.rebuild.report import busy_summary
    from hareg.storage import create_driver

    config = prepared(config)
    options = RebuildOptions(jobs=jobs, repository=pattern, from_scratch=from_scratch,
                             prune=prune, dry_run=dry_run,
                             max_manifest_size=config.registry.max_manifest_size)
    try:
        storage = create_driver(dataclasses.replace(config.storage,
                                                    root=str(config.storage_root)))
    except ValueError as exc:
        fail(f"config error: {exc}")
    db = Database(config.database.url, size=jobs + 2, session_url=config.database.session_url)
    started = time.monotonic()
    try:
        with _progress_bar() as progress, _sigterm_interrupts():
            summary = rebuild(db, storage, options, progress=progress)
    except RebuildBusy as exc:
        _print(busy_summary(options, time.monotonic() - started, str(exc)))
        click.echo(f"hareg: rebuild-db did not run: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except RebuildFailed as exc:
        _print(exc.summary | {"fatal": str(exc)})
        click.echo(f"hareg: rebuild-db failed: {' '.join(str(exc).split())}", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        db.close()
    _print(summary)
    if summary["status"] == "interrupted":
        click.echo("hareg: interrupted; run the same command again to finish", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if summary["error_count"]:
        click.echo(f"hareg: {summary['error_count']} objects skipped; see \"errors\"", err=True)
        sys.exit(EXIT_ERRORS)


def _print(summary: dict[str, Any]) -> None:
    print_json(summary)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (systemd stop, kill) ends the run like Ctrl-C: in-flight transactions finish."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _progress_bar() -> Iterator[Any]:
    """A tqdm bar on stderr when it is a terminal (counts and rate); else nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    import threading

    from tqdm import tqdm

    bar = tqdm(desc="listing blobs", unit=" repos", file=sys.stderr, dynamic_ncols=True,
               bar_format="{desc}: {n_fmt}{unit} [{elapsed}, {rate_fmt}{postfix}]")
    lock = threading.Lock()

    def update(event: str, report: Any) -> None:  # called from worker threads
        counts = report.counts
        with lock:
            if event == "repository":
                if bar.desc != "repositories":
                    bar.set_description_str("repositories", refresh=False)  # no ": "
                bar.update(1)
            bar.set_postfix(listed=report.objects_listed,
                            manifests=counts["manifests"].get("added", 0),
                            tags=counts["tags"].get("added", 0),
                            errors=report.error_count, refresh=event == "blobs")

    try:
        yield update
    finally:
        bar.close()
