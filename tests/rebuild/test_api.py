# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Every API answer after rebuild-db equals the answer before, on both storage drivers.

Content goes in through a running hareg; the database is then dropped and created empty,
rebuilt from storage alone, and the restarted hareg must answer exactly as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest
import requests

from hareg.config import StorageConfig
from hareg.db.migrate import apply_migrations
from hareg.db.pool import Database
from hareg.rebuild import RebuildFailed, RebuildOptions, rebuild
from hareg.storage import create_driver
from tests.fixtures.server import HaregServer, ServerFactory, child_env
from tests.oci import new_session
from tests.rebuild.content import Pushed, nontrivial, push_varied, snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["filesystem", "s3"], ids=["fs", "s3"])
def pushed(request: pytest.FixtureRequest, module_server_factory: ServerFactory
           ) -> Iterator[tuple[HaregServer, Pushed, dict[str, Any]]]:
    """A server holding the varied content, and the snapshot of its answers."""
    server = module_server_factory.create(request.param, workers=1)
    session = new_session()
    content = push_varied(session, server.url)
    before = snapshot(session, server.url, content)
    counts = nontrivial(before)
    assert len(before["catalog"]) == 3
    assert counts["manifest"] >= 20 and counts["referrers"] == 1 and counts["blob"] >= 35
    yield server, content, before
    session.close()


def recreate_database(pg: Any, url: str) -> None:
    """Drop the server's database and create it again, empty."""
    name = urlsplit(url).path.lstrip("/")
    conn = psycopg2.connect(pg.url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def rebuild_cli(server: HaregServer, *args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "hareg_cli", "rebuild-db", "--config", str(server.config_path),
         *args],
        env=child_env(), capture_output=True, text=True, timeout=120, cwd=server.work_dir,
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def assert_same_answers(server: HaregServer, content: Pushed, before: dict[str, Any]) -> None:
    server.start()
    with requests.Session() as session:
        session.trust_env = False
        after = snapshot(session, server.url, content)
    assert after.keys() == before.keys()
    assert {k: v for k, v in after.items() if v != before[k]} == {}


def test_answers_equal_after_rebuild_from_empty_database(pushed: Any, pg: Any) -> None:
    server, content, before = pushed
    server.stop()
    recreate_database(pg, server.database_url)

    status, summary = rebuild_cli(server, "--jobs", "4")

    assert status == 0, summary
    assert summary["status"] == "ok" and summary["error_count"] == 0
    assert summary["counts"]["repositories"] == {"found": 3, "added": 3}
    assert summary["counts"]["tags"]["added"] == 8
    assert summary["warning_count"] == 0
    assert_same_answers(server, content, before)


class Crash(Exception):
    pass


def test_answers_equal_after_interrupted_rebuild_run_again(pushed: Any, pg: Any) -> None:
    server, content, before = pushed
    server.stop()
    recreate_database(pg, server.database_url)
    apply_migrations(server.database_url)
    storage = create_driver(StorageConfig(**server.storage))
    db = Database(server.database_url, size=4)

    def crash(name: str) -> None:
        raise Crash(name)

    try:
        with pytest.raises(RebuildFailed):
            rebuild(db, storage, RebuildOptions(jobs=1, from_scratch=True),
                    after_repository=crash)
        with db.read() as cur:
            cur.execute("SELECT count(*) FROM repositories")
            assert cur.fetchone()[0] == 1  # one repository done, two never started
    finally:
        db.close()

    status, summary = rebuild_cli(server)

    assert status == 0, summary
    assert summary["counts"]["repositories"] == {"found": 3, "added": 2}
    assert_same_answers(server, content, before)
