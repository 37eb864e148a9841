# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg behind Debian's PgBouncer in transaction-pooling mode (docs/operations.rst, PgBouncer).

Transaction pooling hands each transaction whichever server connection is free, so session
state (session-level advisory locks, ``set_config(..., false)``) stays on a pooled backend
that goes on serving other clients. What needs a session goes through ``[database]
session_url``; a sweep whose session connection turns out to be pooled refuses to start.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest

from hareg.config import RegistryConfig
from hareg.db import locks
from hareg.db.migrate import apply_migrations, available_migrations
from hareg.db.pool import Database
from hareg.db.session import NotASession, Session
from hareg.rebuild import RebuildFailed, RebuildOptions, rebuild
from hareg.registry.context import Registry
from hareg.storage import FilesystemDriver, layout
from tests import oci
from tests.fixtures.postgres import PostgresAdmin
from tests.gc.conftest import Env

pytestmark = pytest.mark.pgbouncer

REPO = "team/app"


def _advisory_locks(direct_url: str) -> list[tuple[int, int, str]]:
    """(kind, pid, application name) of every two-key advisory lock held in the database of
    ``direct_url``, asked on a direct connection."""
    conn = psycopg2.connect(direct_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT l.classid::int, l.pid, coalesce(a.application_name, '')"
                " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted"
                " AND l.database = (SELECT oid FROM pg_database"
                "                   WHERE datname = current_database())")
            return cur.fetchall()
    finally:
        conn.close()


def _env(url: str, storage_dir: Path, **db: str) -> Env:
    apply_migrations(url)
    reg = Registry(db=Database(url, size=4, **db), storage=FilesystemDriver(str(storage_dir)),
                   settings=RegistryConfig(), part_size=5 * 1024 * 1024)
    return Env(reg, url)


def _garbage(env: Env) -> oci.Manifest:
    """Push an image, then untag it by pushing another onto its tag; age everything."""
    old = oci.image_manifest(oci.config_blob(), [oci.random_blob(300)])
    env.push_image(REPO, old, "v1")
    env.push_image(REPO, oci.image_manifest(oci.config_blob(), [oci.random_blob(300)]), "v1")
    env.age()
    return old


def test_a_sweep_whose_session_is_pooled_refuses_and_leaves_no_lock(
        pg: PostgresAdmin, pgbouncer, tmp_path: Path) -> None:
    direct = pg.fresh_database("hareg_pgb")
    env = _env(pgbouncer.route(direct), tmp_path / "storage")  # no session_url: the mistake
    try:
        old = _garbage(env)
        refused: Exception | None = None
        try:
            env.gc()
        except Exception as exc:  # noqa: BLE001 - asserted below
            refused = exc
        held = [lock for lock in _advisory_locks(direct) if lock[0] == locks.GC]
        assert held == [], f"the GC lock is still held by a pooled backend: {held}"
        assert refused is not None, "the sweep ran on a pooled connection"
        assert "session_url" in str(refused)
        assert env.has_manifest(REPO, old.digest)  # nothing was swept
        # Nor did the refused sweep leave its lock_timeout on a pooled backend.
        with env.reg.db.read() as cur:
            cur.execute("SELECT current_setting('lock_timeout')")
            assert cur.fetchone() == ("0",)
    finally:
        env.reg.db.close()


def test_a_sweep_with_a_direct_session_url_works_and_releases_its_locks(
        pg: PostgresAdmin, pgbouncer, tmp_path: Path) -> None:
    direct = pg.fresh_database("hareg_pgb")
    env = _env(pgbouncer.route(direct), tmp_path / "storage", session_url=direct)
    try:
        old = _garbage(env)
        summary = env.gc().summary
        assert summary is not None and summary.status == "ok"
        assert summary.counts.manifests == 1
        assert not env.has_manifest(REPO, old.digest)
        assert not env.exists(layout.revision_link(REPO, old.digest))
        assert _advisory_locks(direct) == []
        # A second sweep is not kept out by a lock left behind.
        assert env.gc().summary.status == "ok"
        assert _advisory_locks(direct) == []
    finally:
        env.reg.db.close()


def test_a_session_checks_that_its_connection_is_its_own(
        pg: PostgresAdmin, pgbouncer) -> None:
    direct = pg.fresh_database("hareg_pgb")
    with Session(direct, "hareg-test") as session, session.cursor() as cur:  # direct: accepted
        cur.execute("SELECT 1")
    for _ in range(3):  # refused every time, not by luck
        with pytest.raises(NotASession, match=r"\[database\] session_url"):
            Session(pgbouncer.route(direct), "hareg-test", lock_timeout="200ms")
    assert _advisory_locks(direct) == []


def test_rebuild_db_behind_the_pooler_needs_the_session_url(
        pg: PostgresAdmin, pgbouncer, tmp_path: Path) -> None:
    direct = pg.fresh_database("hareg_pgb")
    env = _env(pgbouncer.route(direct), tmp_path / "storage")
    env.push_image(REPO, oci.image_manifest(oci.config_blob(), [oci.random_blob(300)]), "v1")
    env.reg.db.close()
    pooled = Database(pgbouncer.route(direct), size=4)
    with pytest.raises(RebuildFailed, match=r"NotASession: .*\[database\] session_url"):
        rebuild(pooled, env.storage, RebuildOptions(jobs=2))
    pooled.close()
    assert _advisory_locks(direct) == []
    db = Database(pgbouncer.route(direct), size=4, session_url=direct)
    try:
        summary = rebuild(db, env.storage, RebuildOptions(jobs=2))
        assert summary["status"] == "ok", summary
    finally:
        db.close()
    assert _advisory_locks(direct) == []
    assert env.tags(REPO) == ["v1"]


def test_migrations_through_the_pooler_apply_once_and_leave_no_lock(
        pg: PostgresAdmin, pgbouncer) -> None:
    """Four instances starting at once, all through PgBouncer: migrations need no session."""
    direct = pg.fresh_database("hareg_pgb")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(apply_migrations, [pgbouncer.route(direct)] * 4,
                                timeout=120))
    applied = [mig.version for result in results for mig in result]
    assert sorted(applied) == [mig.version for mig in available_migrations()]
    assert apply_migrations(pgbouncer.route(direct)) == []
    assert _advisory_locks(direct) == []
