# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``hareg rebuild-db``'s summary on stdout, also when it cannot take the lock."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from click.testing import CliRunner

from hareg.db import locks
from hareg.db.pool import Database
from hareg.rebuild.report import KINDS, Report
from hareg.storage import FilesystemDriver
from hareg_cli.main import cli
from hareg_cli.rebuild import _progress_bar
from tests.oci import image_manifest
from tests.rebuild.bucket import BucketWriter

SUMMARY_FIELDS = {"status", "dry_run", "from_scratch", "prune", "repository",
                  "duration_seconds", "objects_listed", "objects_ignored", "manifests_parsed",
                  "rates", "emptied", "counts", "error_count", "errors", "warning_count",
                  "warnings"}


def _rebuild(db: Database, storage: FilesystemDriver, tmp_path: Path, *args: str) -> Any:
    config = tmp_path / "hareg.toml"
    config.write_text(f'[database]\nurl = "{db.url}"\n'
                      f'[storage]\ndriver = "filesystem"\nroot = "{storage.root}"\n')
    return CliRunner().invoke(cli, ["rebuild-db", "--config", str(config), "--jobs", "2",
                                    *args])


def test_summary_when_the_lock_is_busy(db: Database, storage: FilesystemDriver,
                                       bucket: BucketWriter, tmp_path: Path) -> None:
    bucket.manifest("library/a", image_manifest(), "v1")
    other = psycopg2.connect(db.url)
    other.autocommit = True
    try:
        with other.cursor() as cur:
            assert locks.try_session_lock(cur, locks.GC, locks.GC_NAME)
        out = _rebuild(db, storage, tmp_path, "--json")
    finally:
        other.close()
    assert out.exit_code == 2
    summary = json.loads(out.stdout)
    assert set(summary) == SUMMARY_FIELDS | {"fatal"}
    assert summary["status"] == "busy" and "holds the GC lock" in summary["fatal"]
    assert summary["counts"] == {kind: {} for kind in KINDS}
    assert summary["objects_listed"] == 0 and summary["error_count"] == 0
    assert out.stderr.startswith("hareg: rebuild-db did not run: a garbage collection sweep")
    with db.read() as cur:
        cur.execute("SELECT count(*) FROM tags")
        assert cur.fetchone()[0] == 0

    out = _rebuild(db, storage, tmp_path)  # the lock is free again
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert set(summary) == SUMMARY_FIELDS and summary["status"] == "ok"
    assert summary["counts"]["tags"] == {"found": 1, "added": 1}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_labels_are_separated_from_their_counts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 saw ``listing blobs0 repos``: the label, a colon, then the count."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    report = Report()
    with _progress_bar() as update:
        update("blobs", report)
        update("repository", report)
    shown = [part.strip() for part in terminal.getvalue().replace("\r", "\n").splitlines()]
    assert any(part.startswith("listing blobs: 0 repos [") for part in shown), shown
    assert any(part.startswith("repositories: 1 repos [") for part in shown), shown
