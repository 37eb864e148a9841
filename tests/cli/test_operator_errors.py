# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Operator mistakes end in one line and exit status 2, run as real ``hareg`` processes.

A missing database or an unknown user fails at once (not after the 30 s start-up wait), a
misspelled variable or key names the one meant, an admin command pointed at the wrong data
directory creates nothing, and a port in use is reported before any banner.
"""

from __future__ import annotations

import shutil
import socket
import time
import uuid
from pathlib import Path

import pytest

from hareg.db.migrate import has_schema
from hareg.db.pool import wait_until_reachable
from hareg.db.unreachable import DatabaseUnreachable
from tests.cli.helpers import hareg
from tests.fixtures.postgres import PostgresAdmin, database_url, embedded_parent_dir
from tests.fixtures.server import free_port

NO_SCHEMA_HINT = "run 'hareg migrate' or 'hareg serve' to create one)"
#: Bound on an embedded PostgreSQL left by a failing run to stop (its last user exited).
PG_EXIT_TIMEOUT = 15.0


def _missing_database_url(pg: PostgresAdmin) -> tuple[str, str]:
    name = f"hareg_missing_{uuid.uuid4().hex[:12]}"
    return database_url(pg.url, name), name


@pytest.mark.parametrize("command", [["gc"], ["check"], ["promote", "a:b", "c"],
                                     ["rebuild-db"], ["migrate"], ["serve"]])
def test_a_missing_database_is_one_line_at_once(pg: PostgresAdmin, tmp_path: Path,
                                                command: list[str]) -> None:
    url, name = _missing_database_url(pg)
    if command == ["serve"]:  # serve binds before it connects: a port of its own
        command = [*command, "--bind", f"127.0.0.1:{free_port()}"]
    result = hareg(*command, "--data-dir", str(tmp_path / "data"),
                   env={"HAREG_DATABASE_URL": url})
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hareg: cannot connect to PostgreSQL at ")
    assert lines[0].endswith(f': database "{name}" does not exist')
    assert result.stdout == ""


def test_an_unknown_user_is_one_line_without_the_password(pg: PostgresAdmin) -> None:
    user, password = f"nobody_{uuid.uuid4().hex[:8]}", "s3cret-Pa55"
    netloc = pg.url.split("://", 1)[1].split("/", 1)[0].split("@")[-1]
    query = pg.url.split("?", 1)[1] if "?" in pg.url else ""
    url = f"postgresql://{user}:{password}@{netloc}/postgres" + (f"?{query}" if query else "")
    result = hareg("migrate", env={"HAREG_DATABASE_URL": url})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("hareg: cannot connect to PostgreSQL at ")
    assert result.stderr.endswith(f': role "{user}" does not exist\n')
    assert password not in result.stderr + result.stdout


def test_an_unknown_host_is_one_line_at_once() -> None:
    url = "postgresql://hareg:pw@no-such-host.invalid:5432/hareg"
    result = hareg("gc", env={"HAREG_DATABASE_URL": url})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        "hareg: cannot connect to PostgreSQL at no-such-host.invalid:5432: "
        'could not translate host name "no-such-host.invalid" to address')
    assert len(result.stderr.splitlines()) == 1 and "pw@" not in result.stderr


def test_a_refused_connection_is_waited_for_and_said_once() -> None:
    port = free_port()  # nobody listens there: refused, as while PostgreSQL starts
    said: list[str] = []
    with pytest.raises(DatabaseUnreachable) as info:
        wait_until_reachable(f"postgresql://hareg:pw@127.0.0.1:{port}/hareg", timeout=1.0,
                             on_wait=said.append)
    assert said == [f"waiting for PostgreSQL at 127.0.0.1:{port} (connection refused), up to 1 s"]
    assert str(info.value) == (f"cannot connect to PostgreSQL at 127.0.0.1:{port}:"
                               " connection refused (waited 1 s)")


def test_migrate_reports_a_migrated_database_and_warns_of_a_misspelled_variable(
        pg: PostgresAdmin) -> None:
    url = pg.fresh_database("cli_migrate")
    result = hareg("migrate", env={"HAREG_DATABASE_URL": url, "HAREG_DATABSE_URL": url,
                                   "HAREG_CONFIG": "", "HAREG_TEST_DATABASE_URL": pg.url})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ("hareg: warning: unknown environment variable HAREG_DATABSE_URL"
                             " (did you mean HAREG_DATABASE_URL?)\n")
    assert result.stdout.startswith("applied 0001_")


def test_an_unknown_key_in_the_file_names_the_key_meant(tmp_path: Path) -> None:
    config = tmp_path / "hareg.toml"
    config.write_text('[server]\nbind = "127.0.0.1:5000"\ndata_dri = "/srv/hareg"\n')
    result = hareg("check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr == ("hareg: config error: server.data_dri: unknown key"
                             " (did you mean data_dir?)\n")


@pytest.mark.parametrize("command", [["gc"], ["gc", "--history"], ["check"],
                                     ["promote", "a:b", "c"]])
def test_admin_commands_refuse_a_data_dir_without_a_registry(tmp_path: Path,
                                                             command: list[str]) -> None:
    mistyped = tmp_path / "hareg-dta"
    result = hareg(*command, "--data-dir", str(mistyped), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"hareg: no hareg database in {mistyped}"
                             f" (is --data-dir right? {NO_SCHEMA_HINT}\n")
    assert not mistyped.exists()  # no embedded cluster was created


@pytest.mark.parametrize("command", [["gc"], ["check"]])
def test_admin_commands_refuse_a_database_without_a_hareg_schema(
        pg: PostgresAdmin, command: list[str]) -> None:
    url = pg.fresh_database("cli_empty")
    result = hareg(*command, env={"HAREG_DATABASE_URL": url})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("hareg: no hareg database at ")
    assert result.stderr.endswith(f" (is [database] url right? {NO_SCHEMA_HINT}\n")
    assert not has_schema(url)  # nothing was created in it


def test_rebuild_db_still_fills_a_new_database(pg: PostgresAdmin, tmp_path: Path) -> None:
    url = pg.fresh_database("cli_rebuild")
    result = hareg("rebuild-db", "--data-dir", str(tmp_path / "data"),
                   env={"HAREG_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert '"status": "ok"' in result.stdout


@pytest.mark.parametrize("which", ["server", "metrics"])
def test_an_address_in_use_is_one_line_without_banner(pg: PostgresAdmin, tmp_path: Path,
                                                      which: str) -> None:
    url = pg.fresh_database("cli_port")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = f"127.0.0.1:{port}"
        env = {"HAREG_DATABASE_URL": url}
        if which == "metrics":
            env["HAREG_METRICS_BIND"] = busy
            bind = f"127.0.0.1:{free_port()}"
        else:
            bind = busy
        result = hareg("serve", "--bind", bind, "--workers", "1",
                       "--data-dir", str(tmp_path / "data"), env=env)
    suffix = " ([metrics] bind)" if which == "metrics" else ""
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"hareg: cannot listen on {busy}{suffix}: address already in use\n"


def test_an_address_in_use_is_found_before_the_embedded_database_starts() -> None:
    """The README's setup: no database URL. A port in use is the one line (the embedded
    PostgreSQL is not started, so it does not announce itself first) and exit status 2."""
    parent = embedded_parent_dir("hareg-test-port-")  # outside pytest's 0700 basetemp
    data = parent / "data"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            busy = f"127.0.0.1:{taken.getsockname()[1]}"
            result = hareg("serve", "--bind", busy, "--workers", "1", "--data-dir", str(data))
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"hareg: cannot listen on {busy}: address already in use\n"
        assert result.stdout == ""
        assert not data.exists()  # no embedded PostgreSQL was created
    finally:
        pid_file = data / "postgres" / "postmaster.pid"
        deadline = time.monotonic() + PG_EXIT_TIMEOUT
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(parent, ignore_errors=True)
