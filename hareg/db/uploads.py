# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``uploads`` table: the whole state of a resumable blob upload, one row per session."""

from __future__ import annotations

import json
from typing import NamedTuple

from psycopg2.extensions import cursor


class UploadRow(NamedTuple):
    id: str
    repository: str
    algorithm: str
    byte_offset: int
    hash_state: bytes | None
    storage_upload_id: str | None
    parts: list[list]  # [[part_number, token, size], ...]
    tail: bytes


_COLUMNS = "id, repository, algorithm, byte_offset, hash_state, storage_upload_id, parts, tail"


def _row(row: tuple | None) -> UploadRow | None:
    if row is None:
        return None
    return UploadRow(
        id=str(row[0]), repository=row[1], algorithm=row[2], byte_offset=row[3],
        hash_state=bytes(row[4]) if row[4] is not None else None, storage_upload_id=row[5],
        parts=list(row[6] or []), tail=bytes(row[7] or b""),
    )


def insert_upload(cur: cursor, upload_id: str, repository: str, algorithm: str,
                  hash_state: bytes | None) -> None:
    cur.execute(
        "INSERT INTO uploads (id, repository, algorithm, hash_state) VALUES (%s, %s, %s, %s)",
        (upload_id, repository, algorithm, hash_state),
    )


def get_upload(cur: cursor, upload_id: str, repository: str) -> UploadRow | None:
    cur.execute(f"SELECT {_COLUMNS} FROM uploads WHERE id = %s AND repository = %s",
                (upload_id, repository))
    return _row(cur.fetchone())


def lock_upload(cur: cursor, upload_id: str, repository: str) -> UploadRow | None:
    """The upload's row, locked FOR UPDATE: PATCHes and PUTs of one upload run one at a time."""
    cur.execute(f"SELECT {_COLUMNS} FROM uploads WHERE id = %s AND repository = %s FOR UPDATE",
                (upload_id, repository))
    return _row(cur.fetchone())


def save_upload(cur: cursor, upload_id: str, *, byte_offset: int, hash_state: bytes | None,
                storage_upload_id: str | None, parts: list[list], tail: bytes) -> None:
    cur.execute(
        "UPDATE uploads SET byte_offset = %s, hash_state = %s, storage_upload_id = %s,"
        " parts = %s, tail = %s, updated_at = now() WHERE id = %s",
        (byte_offset, hash_state, storage_upload_id, json.dumps(parts), tail, upload_id),
    )


def delete_upload(cur: cursor, upload_id: str) -> None:
    cur.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))
