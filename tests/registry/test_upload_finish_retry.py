# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Finishing an upload is idempotent (issue 14, finding 3).

A worker that dies, or a database that fails, after the storage side of ``PUT ?digest=``
completed (multipart upload completed; object perhaps already moved to its content address)
but before the commit must not wedge the upload: the retried PUT finds the completed object,
verifies it and commits. The failure is injected in process, with real PostgreSQL and real
storage (filesystem, and S3 on a moto server).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hareg.db import blobs as blob_rows
from hareg.db import locks
from hareg.registry import uploads
from hareg.storage import layout
from tests.gc.conftest import Env, migrated_env, storage_for
from tests.oci import MiB, digest_of, random_bytes


@pytest.fixture(params=["fs", "s3"])
def env(request: pytest.FixtureRequest, pg: Any, tmp_path: Path) -> Iterator[Env]:
    with migrated_env(pg, "hareg_finish", storage_for(request, tmp_path)) as e:
        yield e


class Crash(Exception):
    """Stands for a worker killed, or a database lost, at this point."""


def _crash(*_: Any, **__: Any) -> None:
    raise Crash("injected")


# Where the first PUT dies: before the move (object at the upload key), or after it (object at
# its content address, no row).
POINTS = {
    "after-complete": (locks, "lock_blob_shared"),
    "after-move": (blob_rows, "insert_blob"),
}


@pytest.mark.parametrize("point", sorted(POINTS))
@pytest.mark.parametrize("final_chunk", [False, True], ids=["empty-put", "put-with-chunk"])
def test_retried_put_commits_the_completed_upload(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                  point: str, final_chunk: bool) -> None:
    repo = "retry/img"
    data = random_bytes(7 * MiB + 321)  # one full part, then a short last part
    digest = digest_of(data)
    cut = len(data) - 1000 if final_chunk else len(data)
    session = uploads.start_upload(env.reg, repo)
    uploads.append_chunk(env.reg, repo, session.id, [data[: 6 * MiB]], 6 * MiB, None)
    uploads.append_chunk(env.reg, repo, session.id, [data[6 * MiB: cut]], cut - 6 * MiB, None)
    last = data[cut:]

    module, name = POINTS[point]
    with monkeypatch.context() as m:
        m.setattr(module, name, _crash)
        with pytest.raises(Crash):
            uploads.finish_upload(env.reg, repo, session.id, digest, [last], len(last), None)
    assert not env.has_blob(digest)
    # the session reports the truth: every byte is in, a PUT finishes it
    status = uploads.get_upload(env.reg, repo, session.id)
    assert status.offset == len(data) and status.finishing == digest

    assert uploads.finish_upload(env.reg, repo, session.id, digest, [last], len(last),
                                 None) == digest
    assert env.has_blob(digest) and env.has_link(repo, digest)
    assert b"".join(env.storage.open_range(layout.blob_data(digest))) == data
    assert not env.exists(layout.upload_data(repo, session.id))
    assert not env.query("SELECT 1 FROM uploads WHERE id = %s", session.id)


def test_retried_put_with_other_content_is_refused(env: Env,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The completed object is verified, not trusted: a retry naming another digest fails."""
    repo = "retry/img"
    data = random_bytes(6 * MiB + 5)
    session = uploads.start_upload(env.reg, repo)
    uploads.append_chunk(env.reg, repo, session.id, [data], len(data), None)
    with monkeypatch.context() as m:
        m.setattr(locks, "lock_blob_shared", _crash)
        with pytest.raises(Crash):
            uploads.finish_upload(env.reg, repo, session.id, digest_of(data), [], 0, None)
    other = digest_of(data + b"x")
    with pytest.raises(uploads.DigestInvalid):
        uploads.finish_upload(env.reg, repo, session.id, other, [], 0, None)
    assert not env.has_blob(other) and not env.has_blob(digest_of(data))
