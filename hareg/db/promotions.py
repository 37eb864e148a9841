# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``promotions`` table: one row per ``SRC_REPO:TAG -> DST_REPO:TAG`` promotion."""

from __future__ import annotations

from datetime import datetime

from psycopg2.extensions import cursor

from .rows import returned


def insert_promotion(cur: cursor, *, source_repository: str, source_tag: str,
                     target_repository: str, target_tag: str, digest: str, media_type: str,
                     promoted_by: str) -> tuple[int, datetime]:
    """Record a promotion; its id and time."""
    cur.execute(
        "INSERT INTO promotions (source_repository, source_tag, target_repository,"
        " target_tag, digest, media_type, promoted_by) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " RETURNING id, promoted_at",
        (source_repository, source_tag, target_repository, target_tag, digest, media_type,
         promoted_by))
    promotion_id, promoted_at = returned(cur)
    return promotion_id, promoted_at
