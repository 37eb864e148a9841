# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Why a connection to PostgreSQL failed, in one line, and whether waiting can help.

A database that does not exist, a wrong user or password, an unknown host name or a missing
pg_hba.conf entry stay wrong however long one waits: they are reported at once. A refused
connection, a server that is starting or full may pass: start-up waits for those. Nothing
here ever prints the URL itself (it may carry a password).
"""

from __future__ import annotations

import re

import psycopg2
import psycopg2.extensions


class DatabaseUnreachable(Exception):
    """PostgreSQL cannot be used; the message is one line without the password."""


#: SQLSTATEs that no amount of waiting repairs: invalid catalog name (no such database),
#: invalid password, invalid authorization specification (role, pg_hba.conf).
PERMANENT_SQLSTATES = frozenset({"3D000", "28P01", "28000"})

_PERMANENT = (
    "does not exist",                    # database "x" / role "x" does not exist
    "authentication failed",             # password, peer, ident ...
    "no pg_hba.conf entry",
    "no password supplied",
    "could not translate host name",     # unknown host (not a DNS outage: see below)
    "server does not support ssl",
    "invalid ",                          # invalid port number, invalid sslmode value ...
)
_TRANSIENT_DNS = ("temporary failure in name resolution", "try again")

_SERVER_PREFIX = re.compile(r"^connection to server (at|on) .*? failed:\s*")
_SEVERITY = re.compile(r"^(FATAL|ERROR):\s+")


def location(url: str, *, database: bool = False) -> str:
    """``HOST:PORT`` (or the socket directory), with ``/DBNAME`` if asked; no credentials."""
    try:
        dsn = psycopg2.extensions.parse_dsn(url)
    except psycopg2.Error:
        return "(unparsable URL)"
    host = dsn.get("host") or "the local socket"
    where = host if host.startswith("/") or " " in host else f"{host}:{dsn.get('port') or 5432}"
    name = dsn.get("dbname") or dsn.get("user")
    return f"{where}/{name}" if database and name else where


def describe(url: str) -> str:
    """``PostgreSQL at HOST:PORT`` (or at the socket directory), never the password."""
    return f"PostgreSQL at {location(url)}"


def reason(exc: BaseException) -> str:
    """The useful line of a libpq message, e.g. ``database "x" does not exist``."""
    for raw in str(exc).splitlines():
        line = _SEVERITY.sub("", _SERVER_PREFIX.sub("", raw.strip())).strip()
        if not line or line.startswith(("Is the server running", "DETAIL:", "HINT:")):
            continue
        if line[:1].isupper() and line[1:2].islower():
            line = line[0].lower() + line[1:]
        return line.rstrip(".")
    return type(exc).__name__


def is_permanent(exc: BaseException) -> bool:
    """True when retrying cannot help (see the module docstring)."""
    if not isinstance(exc, psycopg2.OperationalError):
        return True  # ProgrammingError for a malformed URL, and anything unexpected
    if getattr(exc, "pgcode", None) in PERMANENT_SQLSTATES:
        return True
    text = str(exc).lower()
    if any(marker in text for marker in _TRANSIENT_DNS):
        return False
    return any(marker in text for marker in _PERMANENT)
