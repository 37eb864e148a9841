# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Rolling updates: every migration must keep the previous release working (expand/contract).

During a rolling update the new release migrates the shared database while instances of the
previous release still serve from it. So a migration may only *expand* the schema (new
tables, new nullable or defaulted columns, new indexes, backfills). Whatever the previous
release could still depend on (dropping, renaming, changing a type, tightening NOT NULL or
adding a constraint to an existing table) is a *contract* step: it ships one release after
the code that stopped needing it, and its file says so with a line ``-- hareg: contract``.
docs/operations.rst explains the procedure.

There is no previous release yet (0.1.0 is unreleased), so no test can run the previous
release's queries against the new schema; this lint is the enforcement.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest

CONTRACT_MARKER = re.compile(r"^\s*--\s*hareg:\s*contract\b", re.IGNORECASE | re.MULTILINE)

# (rule, pattern) on SQL with comments and string literals removed, whitespace collapsed.
RULES: list[tuple[str, re.Pattern[str]]] = [
    ("DROP (table, column, index, constraint, default, ...)", re.compile(r"\bDROP\b")),
    ("RENAME", re.compile(r"\bRENAME\b")),
    ("ALTER COLUMN ... TYPE",
     re.compile(r"\bALTER\s+(?:COLUMN\s+)?\S+\s+(?:SET\s+DATA\s+)?TYPE\b")),
    ("SET NOT NULL", re.compile(r"\bSET\s+NOT\s+NULL\b")),
    ("TRUNCATE", re.compile(r"\bTRUNCATE\b")),
    ("DELETE FROM", re.compile(r"\bDELETE\s+FROM\b")),
    ("ADD COLUMN ... NOT NULL without DEFAULT",
     re.compile(r"\bADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?[^,;]*\bNOT\s+NULL\b(?![^,;]*\bDEFAULT\b)")),
    ("ADD CONSTRAINT / PRIMARY KEY / UNIQUE on an existing table",
     re.compile(r"\bALTER\s+TABLE\b[^;]*\bADD\s+(?:CONSTRAINT|PRIMARY\s+KEY|UNIQUE|FOREIGN\s+KEY|CHECK)\b")),
    ("ALTER TABLE ... ADD COLUMN ... REFERENCES/UNIQUE/CHECK on an existing table",
     re.compile(r"\bALTER\s+TABLE\b[^;]*\bADD\s+(?:COLUMN\s+)?[^;]*\b(?:REFERENCES|UNIQUE|CHECK)\b")),
]
_UNIQUE_INDEX = re.compile(r"\bCREATE\s+UNIQUE\s+INDEX\b[^;]*?\bON\s+(?:ONLY\s+)?([\w.\"]+)")
_CREATE_TABLE = re.compile(r"\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w.\"]+)")


def strip_sql(sql: str) -> str:
    """SQL without comments and string/identifier literals, upper-cased, one line."""
    sql = re.sub(r"--[^\n]*", " ", sql)
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    sql = re.sub(r"\$(\w*)\$.*?\$\1\$", " '' ", sql, flags=re.DOTALL)  # dollar quoting
    sql = re.sub(r"'(?:[^']|'')*'", " '' ", sql)
    return re.sub(r"\s+", " ", sql).upper()


def contract_steps(sql: str) -> list[str]:
    """The rules a migration breaks; empty for an expand-only migration."""
    text = strip_sql(sql)
    found = [rule for rule, pattern in RULES if pattern.search(text)]
    created = {name.strip('"') for name in _CREATE_TABLE.findall(text)}
    found.extend(f"CREATE UNIQUE INDEX on existing table {table.lower()}"
                 for table in _UNIQUE_INDEX.findall(text) if table.strip('"') not in created)
    return found


def migrations() -> list[tuple[str, str]]:
    folder = resources.files("hareg.db").joinpath("migrations")
    return sorted((f.name, f.read_text("utf-8")) for f in folder.iterdir()
                  if f.name.endswith(".sql"))


@pytest.mark.parametrize("name,sql", migrations(), ids=[n for n, _ in migrations()])
def test_migration_is_expand_only_unless_marked_contract(name: str, sql: str) -> None:
    steps = contract_steps(sql)
    if CONTRACT_MARKER.search(sql):
        return
    assert not steps, (
        f"{name} would break instances of the previous release during a rolling update: "
        f"{'; '.join(steps)}. Expand now and contract a release later, or, if the previous "
        "release no longer uses what this changes, mark the file with a line "
        "'-- hareg: contract' (docs/operations.rst, 'Database migrations')."
    )


def test_migration_numbers_are_unique_and_ordered() -> None:
    numbers = [int(name[:4]) for name, _ in migrations()]
    assert numbers == sorted(set(numbers)), numbers


EXPAND = [
    "CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL UNIQUE);",
    "CREATE UNIQUE INDEX t_name ON t (name); CREATE TABLE t (id int);",
    "ALTER TABLE blobs ADD COLUMN media_type text;",
    "ALTER TABLE blobs ADD COLUMN state text NOT NULL DEFAULT 'ok';",
    "CREATE INDEX blobs_created ON blobs (created_at);",
    "UPDATE blobs SET size = 0 WHERE size IS NULL;",
    "CREATE TABLE a (b bigint REFERENCES c (id) ON DELETE CASCADE);",
    "COMMENT ON TABLE blobs IS 'DROP TABLE is not run here';  -- DROP in a comment",
]
CONTRACT = [
    "DROP TABLE uploads;",
    "ALTER TABLE blobs DROP COLUMN size;",
    "ALTER TABLE blobs RENAME COLUMN size TO bytes;",
    "ALTER TABLE blobs RENAME TO objects;",
    "ALTER TABLE blobs ALTER COLUMN size TYPE numeric;",
    "ALTER TABLE blobs ALTER size SET DATA TYPE numeric;",
    "ALTER TABLE blobs ALTER COLUMN digest SET NOT NULL;",
    "ALTER TABLE blobs ADD COLUMN state text NOT NULL;",
    "ALTER TABLE blobs ADD CONSTRAINT size_positive CHECK (size > 0);",
    "ALTER TABLE tags ADD COLUMN owner bigint REFERENCES users (id);",
    "CREATE UNIQUE INDEX blobs_size ON blobs (size);",
    "TRUNCATE uploads;",
    "DELETE FROM uploads;",
    "ALTER TABLE blobs ALTER COLUMN created_at DROP DEFAULT;",
]


@pytest.mark.parametrize("sql", EXPAND)
def test_lint_accepts_expand_steps(sql: str) -> None:
    assert contract_steps(sql) == []


@pytest.mark.parametrize("sql", CONTRACT)
def test_lint_flags_contract_steps(sql: str) -> None:
    assert contract_steps(sql)


def test_contract_marker() -> None:
    marked = "-- why\n-- hareg: contract (expanded in 0004, 0.3.0)\nDROP TABLE x;"
    assert CONTRACT_MARKER.search(marked)
    assert not CONTRACT_MARKER.search("DROP TABLE x; -- not a hareg: contract marker line")
