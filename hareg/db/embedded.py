# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The embedded PostgreSQL used when no database URL is configured.

pgserver ships PostgreSQL binaries in a wheel. Its server lives in ``<data_dir>/postgres`` and
listens on a Unix socket only. Processes that use the same data directory share one server:
pgserver keeps a list of the processes holding it and the last one to exit stops it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg2

log = logging.getLogger(__name__)

DATABASE = "hareg"


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    conn = psycopg2.connect(server.get_uri("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                try:
                    cur.execute(f"CREATE DATABASE {DATABASE}")
                except psycopg2.errors.DuplicateDatabase:
                    pass  # another process created it first
    finally:
        conn.close()
    return server.get_uri(DATABASE)
