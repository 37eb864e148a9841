# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The embedded PostgreSQL used when no database URL is configured.

pgserver ships PostgreSQL binaries in a wheel. Its server lives in ``<data_dir>/postgres`` and
listens on a Unix socket only. Processes that use the same data directory share one server:
pgserver keeps a list of the processes holding it and the last one to exit stops it.

pgserver reports everything it does (initdb's and pg_ctl's output included) through the
``pgserver`` logger: about 50 lines on a first start, 20 on later ones, more when the last
process out stops the server. :func:`start_embedded` sends that logger to
``<data_dir>/postgres.log`` and announces the server in one line; the server's own log is
``<data_dir>/postgres/log``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from pathlib import Path

import psycopg2

log = logging.getLogger(__name__)

DATABASE = "hareg"
LOG_FILE = "postgres.log"


class EmbeddedUnavailable(Exception):
    """pgserver is not installed."""


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server and return a URL to hareg's database in it."""
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        raise EmbeddedUnavailable(
            "no [database] url is configured and the embedded PostgreSQL is not installed: "
            "pip install 'hareg[embedded]' or set HAREG_DATABASE_URL"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = _log_to_file(data_dir / LOG_FILE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    except Exception as exc:
        raise RuntimeError(f"the embedded PostgreSQL in {data_dir / 'postgres'} did not start"
                           f" ({type(exc).__name__}); see {log_file}") from exc
    conn = psycopg2.connect(server.get_uri("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                # another process may have created it first
                with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
                    cur.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        conn.close()
    _announce(f"embedded PostgreSQL in {data_dir / 'postgres'} (log: {log_file})")
    return server.get_uri(DATABASE)


def _log_to_file(path: Path) -> Path:
    """Send the ``pgserver`` logger (initdb, pg_ctl and their output) to ``path`` only."""
    pg_log = logging.getLogger("pgserver")
    for handler in list(pg_log.handlers):
        if getattr(handler, "hareg_embedded", False):
            pg_log.removeHandler(handler)
            handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    handler.hareg_embedded = True  # type: ignore[attr-defined]
    pg_log.addHandler(handler)
    pg_log.setLevel(logging.INFO)
    pg_log.propagate = False
    return path


def _announce(message: str) -> None:
    """One line: through logging when the command set it up ([log] format applies), else
    as ``hareg: ...`` on stderr."""
    if logging.getLogger().handlers:
        log.info(message)
    else:
        sys.stderr.write(f"hareg: {message}\n")
        sys.stderr.flush()
