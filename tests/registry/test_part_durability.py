# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Which multipart parts must be durable before the upload completes.

The parts of a claimed upload (PATCH) are recorded in its row, so each is fsynced before it is
recorded; a blob written in one go (a pull-through fetch, a single-request upload) records its
parts nowhere and leaves them to the one fsync of ``multipart_complete``. Real PostgreSQL and
filesystem storage; the driver is wrapped to see the flag each part was written with.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hareg.registry import uploads
from hareg.storage import FilesystemDriver, layout
from hareg.storage.base import Buffer
from tests.gc.conftest import Env, migrated_env
from tests.oci import MiB, digest_of, random_bytes


class Recording(FilesystemDriver):
    """Records the ``durable`` flag of every part, and keeps each part's buffer referenced
    after answering, as a thread of gevent's pool may for a moment (the writer must not
    resize a buffer whose view is still held)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.flags: list[bool] = []
        self.held: list[Buffer] = []

    def multipart_put(self, key: str, upload_id: str, part_number: int, offset: int,
                      data: Buffer, durable: bool = True) -> str:
        self.flags.append(durable)
        self.held.append(data)
        return super().multipart_put(key, upload_id, part_number, offset, data, durable)


@pytest.fixture
def env(pg: Any, tmp_path: Path) -> Iterator[Env]:
    with migrated_env(pg, "hareg_parts", Recording(str(tmp_path / "storage"))) as e:
        yield e


def _recording(env: Env) -> Recording:
    assert isinstance(env.storage, Recording)
    return env.storage


def test_a_streamed_blob_leaves_its_parts_to_the_final_fsync(env: Env) -> None:
    data = random_bytes(11 * MiB + 17)  # two full 5 MiB parts and a short last one
    digest = digest_of(data)
    blob = uploads.StreamedBlob(env.reg, "hub/app", digest)
    for start in range(0, len(data), MiB):
        blob.write(data[start: start + MiB])
    blob.finish()
    with env.reg.db.transaction() as cur:
        blob.commit(cur)
    assert _recording(env).flags == [False, False, False]
    assert b"".join(env.storage.open_range(layout.blob_data(digest))) == data


def test_a_single_request_upload_leaves_its_parts_to_the_final_fsync(env: Env) -> None:
    data = random_bytes(6 * MiB)
    uploads.upload_whole(env.reg, "dev/app", digest_of(data), [data], len(data))
    assert _recording(env).flags == [False, False]


def test_the_parts_of_a_claimed_upload_are_durable_before_they_are_recorded(env: Env) -> None:
    data = random_bytes(12 * MiB)
    session = uploads.start_upload(env.reg, "dev/app")
    uploads.append_chunk(env.reg, "dev/app", session.id, [data[: 6 * MiB]], 6 * MiB, None)
    uploads.append_chunk(env.reg, "dev/app", session.id, [data[6 * MiB:]], 6 * MiB, None)
    uploads.finish_upload(env.reg, "dev/app", session.id, digest_of(data), [], 0, None)
    recording = _recording(env)
    assert recording.flags and all(recording.flags)
    assert b"".join(env.storage.open_range(layout.blob_data(digest_of(data)))) == data
