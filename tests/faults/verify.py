# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What must hold after every fault scenario, once the fault is gone.

1. every acknowledged push pulls back byte-identical (manifest by tag, every blob);
2. ``hareg check`` is clean (no row points at a missing object);
3. no upload session is stuck: each session a client opened either ended (404, and then its
   blob exists or the client gave the session up) or can be finished now: ``GET`` gives the
   offset, the rest is ``PATCH``ed, ``PUT ?digest=`` answers 201 and the blob pulls back
   identical. Each upload row left in the database answers ``GET`` with its own offset.

:func:`aftermath` runs all three and returns a report; the caller asserts on it, so a
failing scenario shows every broken promise at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psycopg2

from hareg.registry.uploads import CLAIM_LEASE
from tests.faults.clients import OpenedSession
from tests.fixtures.server import HaregServer, child_env
from tests.ha.workload import Client, Image, Stats, run_operation
from tests.oci import OCTET_STREAM, digest_of, new_session, with_query

REQUEST_TIMEOUT = 30
SESSION_ATTEMPTS = 12
#: A session whose request died stays claimed for hareg.registry.uploads.CLAIM_LEASE (then
#: 416 "another request is writing"): keep trying a little longer than that.
SESSION_DEADLINE = CLAIM_LEASE + 15


@dataclass
class Aftermath:
    images: int = 0
    pulls_failed: int = 0
    pull_errors: list[str] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)
    check_output: str = ""
    sessions: dict[str, int] = field(default_factory=dict)
    stuck: list[str] = field(default_factory=list)
    rows_left: int = 0
    rows_inconsistent: list[str] = field(default_factory=list)

    @property
    def check_clean(self) -> bool:
        return bool(self.check.get("ok")) and self.check.get("missing_count") == 0

    @property
    def ok(self) -> bool:
        return (self.pulls_failed == 0 and self.check_clean and not self.stuck
                and not self.rows_inconsistent)

    def summary(self) -> str:
        return (f"aftermath: {self.images} acknowledged images pulled back, "
                f"{self.pulls_failed} failed; hareg check "
                f"{'clean' if self.check_clean else 'NOT clean'} "
                f"(missing {self.check.get('missing_count')}, unknown "
                f"{self.check.get('unknown_count')}); sessions {self.sessions}, "
                f"stuck {len(self.stuck)}; upload rows left {self.rows_left}, "
                f"inconsistent {len(self.rows_inconsistent)}")

    def problems(self) -> str:
        lines = [self.summary()]
        lines += [f"  pull: {e}" for e in self.pull_errors[:20]]
        if not self.check_clean:
            lines.append(f"  hareg check: {self.check_output[-3000:]}")
        lines += [f"  stuck session: {s}" for s in self.stuck[:20]]
        lines += [f"  upload row: {s}" for s in self.rows_inconsistent[:20]]
        return "\n".join(lines)


def pull_back(base_url: str, images: list[Image], report: Aftermath) -> None:
    stats = Stats()
    client = Client(base_url, stats)
    for image in images:
        run_operation(stats, "final pull", partial(client.pull, image))
    report.images = len(images)
    report.pulls_failed = sum(stats.failed.values())
    report.pull_errors = [e for e in stats.errors if "FAILED" in e]


def hareg_check(server: HaregServer, report: Aftermath) -> None:
    """``hareg check --json`` with the server's config, as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "hareg_cli", "check", "--no-progress", "--json",
         "--config", str(server.config_path)],
        capture_output=True, text=True, env=child_env(), timeout=120, cwd=server.work_dir)
    report.check_output = f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    try:
        report.check = json.loads(done.stdout)
    except ValueError:
        report.check = {"ok": False, "error": "no JSON"}


def _offset(range_header: str) -> int:
    end = int(range_header.split("-")[1])
    return 0 if end == 0 else end + 1


def finish_session(base_url: str, s: OpenedSession) -> tuple[str, str]:
    """(outcome, detail): ``ended``, ``given up`` (404 and no blob), ``finished`` or ``stuck``."""
    http = new_session()
    digest = digest_of(s.data)
    answers: list[str] = []
    deadline = time.monotonic() + SESSION_DEADLINE
    for _ in range(SESSION_ATTEMPTS):
        if time.monotonic() > deadline:
            break
        try:
            status = http.get(s.url, timeout=REQUEST_TIMEOUT)
            if status.status_code == 404:
                head = http.head(f"{base_url}/v2/{s.repo}/blobs/{digest}", timeout=REQUEST_TIMEOUT)
                return ("ended", "") if head.status_code == 200 else ("given up", "")
            answers.append(f"GET {status.status_code}")
            if status.status_code != 204:
                time.sleep(0.5)
                continue
            offset = _offset(status.headers["Range"])
            if offset < len(s.data):
                patch = http.patch(s.url, data=s.data[offset:], timeout=REQUEST_TIMEOUT, headers={
                    "Content-Type": OCTET_STREAM,
                    "Content-Range": f"{offset}-{len(s.data) - 1}"})
                answers.append(f"PATCH from {offset}: {patch.status_code}")
                if patch.status_code != 202:
                    time.sleep(3.0)
                    continue
            put = http.put(with_query(s.url, {"digest": digest}), timeout=REQUEST_TIMEOUT,
                           headers={"Content-Type": OCTET_STREAM})
            answers.append(f"PUT {put.status_code} {put.text[:120]!r}")
            if put.status_code == 201:
                blob = http.get(f"{base_url}/v2/{s.repo}/blobs/{digest}", timeout=REQUEST_TIMEOUT)
                if blob.status_code == 200 and blob.content == s.data:
                    return "finished", ""
                return "stuck", f"{s.url}: finished but the blob pulls back {blob.status_code}"
            time.sleep(3.0)
        except OSError as exc:
            answers.append(f"{type(exc).__name__}: {exc}"[:160])
            time.sleep(0.5)
    return "stuck", f"{s.url} ({len(s.data)} bytes): " + "; ".join(answers)


def upload_rows(database_url: str) -> list[tuple[str, str, int]]:
    conn = psycopg2.connect(database_url, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id::text, repository, byte_offset FROM uploads ORDER BY id")
            return [(r[0], r[1], int(r[2])) for r in cur.fetchall()]
    finally:
        conn.close()


def check_upload_rows(base_url: str, database_url: str, report: Aftermath) -> None:
    """Each upload row still in the database answers GET 204 with the row's offset."""
    http = new_session()
    rows = upload_rows(database_url)
    report.rows_left = len(rows)
    for upload_id, repo, offset in rows[:200]:
        resp = http.get(f"{base_url}/v2/{repo}/blobs/uploads/{upload_id}",
                        timeout=REQUEST_TIMEOUT)
        expected = f"0-{max(offset - 1, 0)}"
        if resp.status_code != 204 or resp.headers.get("Range") != expected:
            report.rows_inconsistent.append(
                f"{repo} {upload_id} offset {offset}: GET {resp.status_code} "
                f"Range {resp.headers.get('Range')}")


def aftermath(server: HaregServer, images: list[Image], sessions: list[OpenedSession],
              base_url: str | None = None) -> Aftermath:
    """Run the three checks against ``server`` (faults already removed)."""
    base = base_url or server.url
    report = Aftermath()
    pull_back(base, images, report)
    outcomes: dict[str, int] = {}
    for s in sessions:
        outcome, detail = finish_session(base, s)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "stuck":
            report.stuck.append(detail)
    report.sessions = outcomes
    check_upload_rows(base, server.database_url, report)
    hareg_check(server, report)
    return report
