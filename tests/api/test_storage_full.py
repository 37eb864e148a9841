# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Storage that refuses writes shows in /readyz, a metric and the log (issue 14, finding 8).

One process: the Flask app on a real PostgreSQL and the real filesystem driver, whose writes
get ENOSPC from the operating system calls it makes (``os.pwrite`` for upload parts,
``os.fdopen`` files for whole objects) while the "disk" is full.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hareg.api.app import create_app
from hareg.config import load_config
from hareg.db.migrate import apply_migrations
from hareg.server import metrics as m
from tests.oci import digest_of, random_bytes

WRITABILITY_LOGGER = "hareg.storage.writability"


def _enospc(*_: Any, **__: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullFile:
    """A file whose writes fail as on a full filesystem (closes the real descriptor)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, _: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


@pytest.fixture
def client(pg: Any, tmp_path: Path) -> Iterator[FlaskClient]:
    assert not m.multiprocess_dir(), "this test reads the single-process metrics"
    url = pg.fresh_database("storage_full")
    apply_migrations(url)
    config = load_config(env={}, overrides={
        "database": {"url": url, "pool_size": 4},
        "storage": {"driver": "filesystem", "root": str(tmp_path / "storage")},
        "server": {"data_dir": str(tmp_path / "data")},
        "log": {"requests": False},
    })
    app = create_app(config)
    try:
        yield app.test_client()
    finally:
        app.extensions["hareg"].db.close()


def _push_blob(client: FlaskClient, repo: str, data: bytes) -> Any:
    return client.post(f"/v2/{repo}/blobs/uploads/?digest={digest_of(data)}", data=data,
                       headers={"Content-Type": "application/octet-stream"})


def _push_chunk(client: FlaskClient, repo: str, data: bytes) -> Any:
    start = client.post(f"/v2/{repo}/blobs/uploads/")
    assert start.status_code == 202, start.text
    return client.patch(start.headers["Location"], data=data,
                        headers={"Content-Type": "application/octet-stream"})


def _writable() -> float | None:
    return m._LOCAL_REGISTRY.get_sample_value("hareg_storage_writable")


def test_full_storage_is_reported_once_and_clears(
    client: FlaskClient, repo: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["storage"] == {"writable": True}
    assert _writable() == 1

    caplog.set_level(logging.INFO, logger=WRITABILITY_LOGGER)
    with monkeypatch.context() as full:
        full.setattr(os, "pwrite", _enospc)
        full.setattr(os, "fdopen", lambda fd, *a, **k: _FullFile(fd))
        refused = [_push_blob(client, repo, random_bytes(2048)) for _ in range(3)]
        refused.append(_push_chunk(client, repo, random_bytes(2048)))
        ready = client.get("/readyz")
        metric_while_full = _writable()

    for resp in refused:
        assert resp.status_code == 503, resp.text
        assert resp.json["errors"][0]["code"] == "UNAVAILABLE"
        assert resp.headers.get("Retry-After")
    # pulls still work on a full disk: the instance stays in the load balancer
    assert ready.status_code == 200, ready.text
    storage = ready.json["storage"]
    assert storage["writable"] is False
    assert "ENOSPC" in storage["reason"]
    assert storage["since"] and storage["last_failure"] and storage["operation"]
    assert metric_while_full == 0
    refusing = [r for r in caplog.records
                if r.name == WRITABILITY_LOGGER and "refuses writes" in r.getMessage()]
    assert len(refusing) == 1, [r.getMessage() for r in caplog.records]

    data = random_bytes(4096)
    pushed = _push_blob(client, repo, data)
    assert pushed.status_code == 201, pushed.text
    assert client.get(f"/v2/{repo}/blobs/{digest_of(data)}").data == data
    assert client.get("/readyz").json["storage"] == {"writable": True}
    assert _writable() == 1
    cleared = [r for r in caplog.records
               if r.name == WRITABILITY_LOGGER and "takes writes again" in r.getMessage()]
    assert len(cleared) == 1
