# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``hareg migrate`` as an operator runs it: a subprocess with a config file, on a real
PostgreSQL database. On an empty database it applies every migration and says which; run
again it changes nothing and says so; both runs exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg2

from hareg.db.migrate import available_migrations
from tests.fixtures.postgres import PostgresAdmin
from tests.fixtures.server import child_env, free_port, to_toml

#: ``hareg migrate`` run by ``python -c``, with the start-up wait for a refused connection
#: (30 s in hareg.db.pool.wait_until_reachable) cut to 2 s: what the test checks is the
#: failure after the wait, not its length.
_SHORT_WAIT = ("import hareg.db.pool as pool; pool.wait_until_reachable.__defaults__ ="
               " (2.0, None); from hareg_cli.main import cli; cli(prog_name='hareg')")


def _migrate(config: Path, *, short_wait: bool = False) -> subprocess.CompletedProcess[str]:
    program = ["-c", _SHORT_WAIT] if short_wait else ["-m", "hareg_cli"]
    return subprocess.run([sys.executable, *program, "migrate", "--config", str(config)],
                          capture_output=True, text=True, env=child_env(), timeout=120,
                          cwd=config.parent, check=False)


def _state(url: str) -> tuple[list[tuple[int, str]], list[str]]:
    """(schema_migrations rows, the public tables), read back from the database."""
    conn = psycopg2.connect(url, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version, name FROM schema_migrations ORDER BY version")
            rows = [(int(v), str(n)) for v, n in cur.fetchall()]
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " ORDER BY tablename")
            tables = [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()
    return rows, tables


def test_migrate_applies_everything_once_then_nothing(pg: PostgresAdmin, tmp_path: Path) -> None:
    url = pg.fresh_database("hareg_migrate")
    config = tmp_path / "hareg.toml"
    config.write_text(to_toml({
        "server": {"data_dir": str(tmp_path / "data")},
        "database": {"url": url},
        "storage": {"driver": "filesystem", "root": str(tmp_path / "storage")},
    }))
    expected = [(m.version, m.name) for m in available_migrations()]
    assert len(expected) >= 3

    first = _migrate(config)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.splitlines() == [f"applied {v:04d}_{n}" for v, n in expected], first.stdout
    rows, tables = _state(url)
    assert rows == expected
    assert {"blobs", "manifests", "repositories", "tags", "uploads"} <= set(tables), tables

    second = _migrate(config)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.splitlines() == ["database schema is up to date"], second.stdout
    assert _state(url) == (rows, tables)


def test_migrate_fails_on_an_unreachable_database(tmp_path: Path) -> None:
    config = tmp_path / "hareg.toml"
    config.write_text(to_toml({
        "server": {"data_dir": str(tmp_path / "data")},
        "database": {"url": f"postgresql://postgres@127.0.0.1:{free_port()}/none"},
    }))
    result = _migrate(config, short_wait=True)
    assert result.returncode != 0
    assert "waited 2 s" in result.stderr, result.stderr  # the bound above took effect
    assert "applied" not in result.stdout
    assert "OperationalError" in result.stderr or "connection" in result.stderr.lower()
