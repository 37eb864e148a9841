# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``hareg gc`` and ``hareg promote`` with --json: one document on stdout, the fields of
docs/cli-json.rst; and the counts of the human output in proper plurals."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg2
from click.testing import CliRunner

from hareg.db import locks
from hareg_cli.main import cli
from tests import oci
from tests.gc.conftest import Env

RUN_FIELDS = {"run_id", "trigger", "host", "dry_run", "orphans_pass", "started_at",
              "finished_at", "status", "tags", "manifests", "links", "blobs", "uploads",
              "repositories", "orphans", "bytes_freed", "skipped", "storage_errors",
              "duration_s", "max_lock_hold_ms", "p50_lock_hold_ms", "p99_lock_hold_ms",
              "lock_batches", "contended_locks", "error", "plan"}
HISTORY_FIELDS = {"run_id", "started_at", "finished_at", "duration_s", "status", "trigger",
                  "host", "dry_run", "orphans_pass", "tags", "manifests", "links", "blobs",
                  "uploads", "repositories", "orphans", "bytes_freed", "error"}
PROMOTE_FIELDS = {"id", "source", "target", "digest", "mediaType", "manifests", "blobsLinked",
                  "promotedBy", "promotedAt"}


def _image() -> oci.Manifest:
    return oci.image_manifest(oci.config_blob(), [oci.random_blob(600), oci.random_blob(300)])


def _invoke(env: Env, tmp_path: Path, *args: str) -> Any:
    config = tmp_path / "hareg.toml"
    config.write_text(f'[database]\nurl = "{env.url}"\n'
                      f'[storage]\ndriver = "filesystem"\nroot = "{env.storage.root}"\n'
                      '[gc]\ngrace_period = "1h"\n')
    return CliRunner().invoke(cli, [*args, "--config", str(config)])


def _untagged(env: Env) -> oci.Manifest:
    """An image whose tag moved on: one manifest and its two layers for the sweep."""
    old = _image()
    env.push_image("dev/app", old, "1.0")
    env.push_image("dev/app", _image(), "1.0")
    env.age()
    return old


def test_gc_dry_run_json_lists_the_plan(env: Env, tmp_path: Path) -> None:
    old = _untagged(env)
    out = _invoke(env, tmp_path, "gc", "--dry-run", "--json", "--no-progress")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert set(doc) == RUN_FIELDS
    assert doc["status"] == "ok" and doc["dry_run"] is True and doc["orphans_pass"] is False
    assert isinstance(doc["run_id"], int) and doc["trigger"] == "cli"
    # the manifest's payload is a blob too
    assert (doc["tags"], doc["manifests"], doc["links"], doc["blobs"]) == (0, 1, 3, 4)
    plan = doc["plan"]
    assert set(plan) == {"tags", "manifests", "links", "blobs", "uploads", "repositories",
                         "orphans"}
    assert plan["manifests"] == [{"repository": "dev/app", "digest": old.digest,
                                  "size": len(old.data)}]
    assert {b["digest"] for b in plan["blobs"]} == {b.digest for b in old.blobs} | {old.digest}
    assert sum(b["size"] for b in plan["blobs"]) == doc["bytes_freed"]
    assert all(x["repository"] == "dev/app" for x in plan["links"])
    assert plan["tags"] == plan["uploads"] == plan["repositories"] == []
    assert plan["orphans"] is None
    assert env.has_manifest("dev/app", old.digest)

    out = _invoke(env, tmp_path, "gc", "--dry-run", "--orphans", "--json", "--no-progress")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["orphans_pass"] is True and doc["plan"]["orphans"] == []


def test_gc_json_and_history_json(env: Env, tmp_path: Path) -> None:
    old = _untagged(env)
    out = _invoke(env, tmp_path, "gc", "--json", "--no-progress")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert set(doc) == RUN_FIELDS and doc["plan"] is None
    assert doc["status"] == "ok" and doc["dry_run"] is False and doc["error"] is None
    assert (doc["manifests"], doc["blobs"], doc["skipped"]) == (1, 4, 0)
    assert doc["bytes_freed"] == len(old.data) + sum(b.size for b in old.blobs)
    assert doc["finished_at"] >= doc["started_at"]
    assert not env.has_manifest("dev/app", old.digest)

    out = _invoke(env, tmp_path, "gc", "--history", "--json", "--limit", "5")
    assert out.exit_code == 0, out.output
    history = json.loads(out.stdout)
    assert list(history) == ["runs"]
    (run,) = history["runs"]
    assert set(run) == HISTORY_FIELDS
    assert {k: run[k] for k in HISTORY_FIELDS - {"duration_s"}} == {
        k: doc[k] for k in HISTORY_FIELDS - {"duration_s"}}
    assert isinstance(run["duration_s"], float)


def test_gc_history_json_without_runs(env: Env, tmp_path: Path) -> None:
    out = _invoke(env, tmp_path, "gc", "--history", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"runs": []}


def test_gc_json_when_another_sweep_holds_the_lock(env: Env, tmp_path: Path) -> None:
    other = psycopg2.connect(env.url)
    other.autocommit = True
    try:
        with other.cursor() as cur:
            assert locks.try_session_lock(cur, locks.GC, locks.GC_NAME)
        out = _invoke(env, tmp_path, "gc", "--json", "--no-progress")
    finally:
        other.close()
    assert out.exit_code == 75
    doc = json.loads(out.stdout)
    assert set(doc) == RUN_FIELDS
    assert doc["status"] == "busy" and doc["run_id"] is None
    assert "another garbage collection is running" in doc["error"]
    assert out.stderr.startswith("hareg: another garbage collection is running")


def test_gc_text_counts_are_proper_plurals(env: Env, tmp_path: Path) -> None:
    _untagged(env)
    out = _invoke(env, tmp_path, "gc", "--dry-run", "--no-progress")
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert "retention would delete 0 tags:" in lines
    assert "the sweep would delete 1 manifest:" in lines
    assert "the sweep would delete 3 repository links:" in lines
    assert "the sweep would abort 0 abandoned uploads:" in lines
    assert "the sweep would delete 0 empty repositories:" in lines
    assert (": would delete 0 tags, 1 manifest, 3 links, 4 blobs, 0 uploads, 0 repositories,"
            " 0 orphans; ") in lines[-1]


def test_promote_json(env: Env, tmp_path: Path) -> None:
    image = _image()
    env.push_image("dev/app", image, "1.0")
    out = _invoke(env, tmp_path, "promote", "--json", "--by", "tester", "dev/app:1.0",
                  "release/app")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert set(doc) == PROMOTE_FIELDS
    assert (doc["source"], doc["target"], doc["digest"]) == ("dev/app:1.0", "release/app:1.0",
                                                             image.digest)
    assert (doc["manifests"], doc["blobsLinked"], doc["promotedBy"]) == (1, 3, "tester")
    assert doc["mediaType"] == image.media_type and isinstance(doc["id"], int)

    out = _invoke(env, tmp_path, "promote", "dev/app:1.0", "release/app:again")
    assert out.exit_code == 0, out.output
    assert out.stdout == ("promoted dev/app:1.0 -> release/app:again:"
                          f" {image.digest} (1 manifest, 0 blobs newly linked)\n")

    out = _invoke(env, tmp_path, "promote", "--json", "dev/app:nope", "release/app")
    assert out.exit_code == 2
    (error,) = json.loads(out.stdout)["errors"]
    assert error["code"] == "MANIFEST_UNKNOWN" and error["message"]
    assert out.stderr.startswith("hareg: cannot promote: MANIFEST_UNKNOWN: ")


def _documented(section: str) -> set[str]:
    """Every double-backquoted name in one command's section of docs/cli-json.rst."""
    text = (Path(__file__).parents[2] / "docs" / "cli-json.rst").read_text()
    body = text.split(f"``{section}``\n")[1]
    body = body.split("\n``hareg ")[0]  # up to the next command's title
    return set(re.findall(r"``(\w+)``", body))


def test_every_gc_history_and_promote_field_is_documented() -> None:
    """docs/cli-json.rst names every field the tests above parse back."""
    run = _documented("hareg gc --json")
    assert run >= RUN_FIELDS, RUN_FIELDS - run
    assert run >= {"tags", "manifests", "links", "blobs", "uploads", "repositories", "orphans"}
    history = _documented("hareg gc --history --json")
    assert history >= HISTORY_FIELDS, HISTORY_FIELDS - history
    promote = _documented("hareg promote --json")
    assert promote >= PROMOTE_FIELDS, PROMOTE_FIELDS - promote
