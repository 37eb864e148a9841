# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A PostgreSQL cluster of its own, to stop and freeze without disturbing anyone else.

``initdb`` in a temp dir, ``postgres`` started directly (not through pg_ctl) in its own
process group, so that :meth:`PgCluster.freeze` can SIGSTOP the postmaster and every backend
at once. PostgreSQL refuses to run as root: as root both run as the ``postgres`` user (or
``nobody``), and the temp dir is made outside pytest's 0700 basetemp (as
tests.fixtures.postgres does for the embedded server).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2

from tests.fixtures.server import free_port

PG_BIN = Path(os.environ.get("HAREG_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def _run_as() -> dict[str, Any]:
    """Popen keywords that drop root to an unprivileged user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root and neither 'postgres' nor 'nobody' exists")


class PgCluster:
    """One PostgreSQL server on a free loopback port, trust authentication."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"no initdb in {PG_BIN}: install postgresql-15 or set "
                               "HAREG_TEST_PG_BIN to PostgreSQL's bin directory")
        self.parent = Path(tempfile.mkdtemp(prefix="hareg-faults-pg-"))
        self.parent.chmod(0o755)
        self.data = self.parent / "data"
        self.sockets = self.parent / "run"
        self.log_path = self.parent / "postgres.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False
        self._frozen: list[int] = []
        self._as = _run_as()
        for path in (self.data, self.sockets):
            path.mkdir()
            if self._as:
                os.chown(path, self._as["user"], self._as["group"])
        self.data.chmod(0o700)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def initdb(self) -> None:
        with open(self.log_path, "ab") as log:
            subprocess.run(
                [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--no-sync"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                check=True, timeout=120, **self._as)

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the cluster is already running")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1",
                 "-c", f"unix_socket_directories={self.sockets}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=100",
                 "-c", "shared_buffers=32MB"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, **self._as)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                psycopg2.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"postgres did not accept connections:\n{self.log_tail()}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT, as ``pg_ctl stop -m fast``); SIGKILL after a bound."""
        proc = self.proc
        if proc is None:
            return
        self.thaw()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.proc = None

    def _children(self) -> list[int]:
        """The postmaster's children: backends and auxiliary processes."""
        assert self.proc is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2:].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def freeze(self) -> None:
        """SIGSTOP the postmaster, then every backend and auxiliary process.

        Each child of the postmaster calls setsid(), so a signal to the postmaster's process
        group would not reach them: they are stopped one by one (the postmaster first, so it
        forks no new one meanwhile)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self._frozen = [self.proc.pid]
        for pid in self._children():
            try:
                os.kill(pid, signal.SIGSTOP)
                self._frozen.append(pid)
            except ProcessLookupError:
                pass
        self.frozen = True

    def thaw(self) -> None:
        for pid in reversed(self._frozen):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen = []
        self.frozen = False

    def create_database(self, name: str) -> str:
        conn = psycopg2.connect(self.url(), connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def log_tail(self, limit: int = 6000) -> str:
        try:
            return self.log_path.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError as exc:
            return f"(no log: {exc})"

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.parent, ignore_errors=True)
