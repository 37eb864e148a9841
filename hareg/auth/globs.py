# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Repository name patterns in permission rules.

``*`` matches any characters within one path component (never ``/``), ``?`` one such character,
``**`` any characters including ``/``. So ``team/*`` matches ``team/app`` but not
``team/app/db``; ``team/**`` matches both; ``**`` matches every repository. Patterns are
translated to anchored regular expressions that Python's ``re`` and PostgreSQL's ``~`` read
alike, so the catalog can be filtered in SQL.
"""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"[a-z0-9._/*?-]{1,255}")


def glob_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid repository pattern, or None."""
    if not isinstance(pattern, str) or not _ALLOWED.fullmatch(pattern):
        return ("repository patterns use lowercase letters, digits, '.', '_', '-', '/' and the"
                " wildcards '*', '**', '?'")
    return None


def glob_to_regex(pattern: str) -> str:
    """The anchored regular expression (Python and PostgreSQL syntax) for ``pattern``."""
    error = glob_error(pattern)
    if error:
        raise ValueError(f"{pattern!r}: {error}")
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == ".":
            out.append(r"\.")
        else:
            out.append(char)
        i += 1
    out.append(r"\Z")  # not "$": Python's "$" also matches before a final newline
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(glob_to_regex(pattern))
