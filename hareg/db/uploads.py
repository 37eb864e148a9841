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
    finishing: str | None = None  # the digest a PUT completed the storage side for


_COLUMNS = ("id, repository, algorithm, byte_offset, hash_state, storage_upload_id, parts, tail,"
            " finishing")


def _row(row: tuple | None) -> UploadRow | None:
    if row is None:
        return None
    return UploadRow(
        id=str(row[0]), repository=row[1], algorithm=row[2], byte_offset=row[3],
        hash_state=bytes(row[4]) if row[4] is not None else None, storage_upload_id=row[5],
        parts=list(row[6] or []), tail=bytes(row[7] or b""), finishing=row[8],
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
    """The upload's row, locked FOR UPDATE (cancel: a short transaction, no body read)."""
    cur.execute(f"SELECT {_COLUMNS} FROM uploads WHERE id = %s AND repository = %s FOR UPDATE",
                (upload_id, repository))
    return _row(cur.fetchone())


def claim_upload(cur: cursor, upload_id: str, repository: str, claim: str,
                 lease: float) -> UploadRow | None:
    """Claim the upload for ``lease`` seconds unless another live claim holds it; its row.

    One statement: a claim that expired (its holder died or stalled) is taken over. None when
    the row is missing or claimed: :func:`get_upload` tells which.
    """
    cur.execute(
        "UPDATE uploads SET claimed_by = %s, claimed_until = now() + %s * interval '1 second'"
        " WHERE id = %s AND repository = %s"
        " AND (claimed_until IS NULL OR claimed_until < now())"
        f" RETURNING {_COLUMNS}",
        (claim, lease, upload_id, repository),
    )
    return _row(cur.fetchone())


def renew_claim(cur: cursor, upload_id: str, claim: str, lease: float) -> bool:
    """Extend our claim (and the upload's idle clock); False if someone else took it over."""
    cur.execute(
        "UPDATE uploads SET claimed_until = now() + %s * interval '1 second', updated_at = now()"
        " WHERE id = %s AND claimed_by = %s RETURNING 1",
        (lease, upload_id, claim),
    )
    return cur.fetchone() is not None


def release_claim(cur: cursor, upload_id: str, claim: str) -> None:
    """Give the claim up, leaving the upload's state as it was."""
    cur.execute(
        "UPDATE uploads SET claimed_by = NULL, claimed_until = NULL"
        " WHERE id = %s AND claimed_by = %s",
        (upload_id, claim),
    )


def save_claimed(cur: cursor, upload_id: str, claim: str, *, previous_offset: int,
                 byte_offset: int, hash_state: bytes | None, storage_upload_id: str | None,
                 parts: list[list], tail: bytes, finishing: str | None = None,
                 release: bool = True) -> bool:
    """Store the state after a chunk and (``release``) give the claim up, if we still hold it
    at the offset we started from (compare-and-set); False otherwise, and nothing changes."""
    released = ", claimed_by = NULL, claimed_until = NULL" if release else ""
    cur.execute(
        "UPDATE uploads SET byte_offset = %s, hash_state = %s, storage_upload_id = %s,"
        f" parts = %s, tail = %s, finishing = %s, updated_at = now(){released}"
        " WHERE id = %s AND claimed_by = %s AND byte_offset = %s RETURNING 1",
        (byte_offset, hash_state, storage_upload_id, json.dumps(parts), tail, finishing,
         upload_id, claim, previous_offset),
    )
    return cur.fetchone() is not None


def delete_claimed(cur: cursor, upload_id: str, claim: str) -> bool:
    """Delete the row if we hold its claim; False (nothing deleted) otherwise."""
    cur.execute("DELETE FROM uploads WHERE id = %s AND claimed_by = %s RETURNING 1",
                (upload_id, claim))
    return cur.fetchone() is not None


def delete_upload(cur: cursor, upload_id: str) -> None:
    cur.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))
