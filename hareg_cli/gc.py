# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg gc."""

from __future__ import annotations

import os
import socket
import sys
from datetime import UTC, datetime
from typing import Any

import click

from hareg.config import Config
from hareg.plural import counted

from .options import config_options, fail, prepared
from .output import json_option, one_line, print_json
from .progress import terminal_progress

#: Exit status when another sweep holds the lock (EX_TEMPFAIL); systemd units may treat it as
#: success with SuccessExitStatus=75.
EXIT_BUSY = 75


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _print_plan(result: Any) -> None:
    plan = result.plan
    echo = click.echo
    echo(f"retention would delete {counted(len(plan.tags), 'tag')}:")
    for t in plan.tags:
        echo(f"  {t.repository}:{t.tag} -> {t.digest} ({t.reason})")
    echo(f"the sweep would delete {counted(len(plan.manifests), 'manifest')}:")
    for m in plan.manifests:
        echo(f"  {m.repository}@{m.digest}  {human_bytes(m.size)}")
    echo(f"the sweep would delete {counted(len(plan.links), 'repository link')}:")
    for x in plan.links:
        echo(f"  {x.repository}  {x.digest}  {human_bytes(x.size)}")
    echo(f"the sweep would delete {counted(len(plan.blobs), 'blob')},"
         f" {human_bytes(plan.bytes)}:")
    for b in plan.blobs:
        echo(f"  {b.digest}  {human_bytes(b.size)}")
    echo(f"the sweep would abort {counted(len(plan.uploads), 'abandoned upload')}:")
    for u in plan.uploads:
        echo(f"  {u.repository}  {u.id}  {human_bytes(u.size)}")
    echo(f"the sweep would delete {counted(len(plan.repositories), 'empty repository')}:")
    for r in plan.repositories:
        echo(f"  {r.name}")
    if result.summary.orphans_pass:
        orphans = result.orphans
        echo(f"--orphans would delete {counted(len(orphans), 'object')} no row knows,"
             f" {human_bytes(sum(o.size for o in orphans))}:")
        for o in orphans:
            echo(f"  {o.key}  {human_bytes(o.size)}")


def _print_summary(summary: Any) -> None:
    c = summary.counts
    verb = "would delete" if summary.dry_run else "deleted"
    what = ", ".join(counted(n, noun) for n, noun in (
        (c.tags, "tag"), (c.manifests, "manifest"), (c.links, "link"), (c.blobs, "blob"),
        (c.uploads, "upload"), (c.repositories, "repository"), (c.orphans, "orphan")))
    click.echo(
        f"gc run {summary.run_id} {summary.status}: {verb} {what}; {human_bytes(c.bytes_freed)}"
        f" {'to free' if summary.dry_run else 'freed'} in {summary.duration_s:.1f} s")
    if not summary.dry_run:
        click.echo(f"  {c.skipped} skipped (in use or changed meanwhile: next sweep);"
                   f" lock held over {counted(summary.lock_batches, 'batch')}: median"
                   f" {summary.p50_lock_hold_ms:.1f} ms, p99 {summary.p99_lock_hold_ms:.1f} ms,"
                   f" longest {summary.max_lock_hold_ms:.1f} ms")
        if c.storage_errors:
            click.echo(f"  {counted(c.storage_errors, 'storage delete')} failed: objects left"
                       " as orphans (run with --orphans later)")


def _print_history(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no garbage collection has run yet")
        return
    click.echo(f"{'id':>6}  {'started (UTC)':19}  {'took':>7}  {'status':8} {'trigger':9}"
               f" {'tags':>6} {'manif.':>7} {'links':>7} {'blobs':>7} {'uploads':>7}"
               f" {'orphans':>7} {'freed':>10}  host")
    for r in rows:
        took = ""
        if r["finished_at"] is not None:
            took = f"{(r['finished_at'] - r['started_at']).total_seconds():.1f}s"
        status = r["status"] + ("*" if r["dry_run"] else "")
        started = r["started_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{r['id']:>6}  {started:19}  {took:>7}  {status:8} {r['trigger']:9}"
                   f" {r['tags_deleted']:>6} {r['manifests_deleted']:>7}"
                   f" {r['links_deleted']:>7} {r['blobs_deleted']:>7}"
                   f" {r['uploads_deleted']:>7} {r['orphans_deleted']:>7}"
                   f" {human_bytes(r['bytes_freed']):>10}  {r['host']}")
        if r["error"]:
            click.echo(f"        error: {r['error']}")
    if any(r["dry_run"] for r in rows):
        click.echo("(* dry run: counts are what it would have deleted)")


def _plan_json(result: Any) -> dict[str, Any]:
    """What a dry run would delete, item by item (docs/cli-json.rst)."""
    plan = result.plan
    return {
        "tags": [{"repository": t.repository, "tag": t.tag, "digest": t.digest,
                  "reason": t.reason} for t in plan.tags],
        "manifests": [{"repository": m.repository, "digest": m.digest, "size": m.size}
                      for m in plan.manifests],
        "links": [{"repository": x.repository, "digest": x.digest, "size": x.size}
                  for x in plan.links],
        "blobs": [{"digest": b.digest, "size": b.size} for b in plan.blobs],
        "uploads": [{"repository": u.repository, "id": u.id, "size": u.size}
                    for u in plan.uploads],
        "repositories": [{"name": r.name} for r in plan.repositories],
        "orphans": ([{"key": o.key, "kind": o.kind, "size": o.size} for o in result.orphans]
                    if result.summary.orphans_pass else None),
    }


def _not_run(status: str, error: str, dry_run: bool, orphans: bool) -> dict[str, Any]:
    """The document of a run that could not start (``busy``) or stopped (``failed``)."""
    from hareg.gc.runs import Summary

    summary = Summary(None, "cli", f"{socket.gethostname()}:{os.getpid()}", dry_run, orphans,
                      datetime.now(UTC), status=status, error=error)
    return summary.to_dict() | {"plan": None}


@click.command("gc")
@click.option("--dry-run", is_flag=True,
              help="Print what retention and the sweep would delete, with sizes; delete nothing.")
@click.option("--orphans", is_flag=True,
              help="Also list the bucket and delete objects that no row knows, once older than"
                   " the grace period (left by crashes).")
@click.option("--history", "show_history", is_flag=True, help="List recent runs, newest first.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many runs --history lists.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: when stderr is a terminal).")
@json_option
@config_options
def gc(config: Config, dry_run: bool, orphans: bool, show_history: bool, limit: int,
       progress: bool | None, as_json: bool) -> None:
    """Collect garbage online: retention policies, then untagged manifests, unused links and
    blobs, abandoned uploads and empty repositories (docs/gc.rst).

    Safe while every instance serves pushes and pulls. One sweep runs at a time in the whole
    cluster; a second one exits at once with status 75.
    """
    from hareg.gc import runs
    from hareg.gc.collect import GcBusy, collect_garbage
    from hareg.registry.build import build_registry
    from hareg.server.logs import setup_logging

    setup_logging(config.log)
    config = prepared(config, require_schema=True)
    reg = build_registry(config)
    try:
        if show_history:
            with reg.db.read() as cur:
                rows = runs.history(cur, limit)
            if as_json:
                print_json(runs.history_json(rows))
            else:
                _print_history(rows)
            return
        try:
            result = collect_garbage(reg, config.gc, config.retention, dry_run=dry_run,
                                     orphans=orphans, progress=terminal_progress(progress, "gc "))
        except GcBusy as exc:
            if as_json:
                print_json(_not_run("busy", str(exc), dry_run, orphans))
            click.echo(f"hareg: {exc}", err=True)
            sys.exit(EXIT_BUSY)
        except Exception as exc:  # noqa: BLE001 - recorded in gc_runs; one line for the operator
            message = one_line(exc)
            if as_json:
                print_json(_not_run("failed", message, dry_run, orphans))
            fail(f"gc failed: {message}")
        assert result.summary is not None
        if as_json:
            print_json(result.summary.to_dict()
                       | {"plan": _plan_json(result) if dry_run else None})
            return
        if dry_run:
            _print_plan(result)
        _print_summary(result.summary)
    finally:
        reg.db.close()
