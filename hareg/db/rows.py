# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Reading the one row of a statement that always returns one (RETURNING, aggregates)."""

from __future__ import annotations

from typing import Any

from psycopg2.extensions import cursor


def returned(cur: cursor) -> tuple[Any, ...]:
    """The row the last statement returned; a missing row is a bug, not a result."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row
