# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Fixtures for rebuild-db tests: a migrated database, a filesystem bucket, a rebuild runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hareg.db.pool import Database
from hareg.rebuild import RebuildOptions, rebuild
from hareg.storage import FilesystemDriver
from tests.rebuild.bucket import BucketWriter


@pytest.fixture
def db(pg: Any) -> Iterator[Database]:
    """A fresh, migrated database of its own (rebuilds commit many small transactions)."""
    url = pg.migrated_database("hareg_rebuild")
    database = Database(url, size=12)
    try:
        yield database
    finally:
        database.close()
        pg.release(url)


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemDriver:
    return FilesystemDriver(str(tmp_path / "bucket"))


@pytest.fixture
def bucket(storage: FilesystemDriver) -> BucketWriter:
    return BucketWriter(storage)


@pytest.fixture
def run(db: Database, storage: FilesystemDriver) -> Callable[..., dict[str, Any]]:
    """``run(**options)``: rebuild ``db`` from ``storage``; returns the summary."""

    def run_(**kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("jobs", 4)
        hooks = {k: kwargs.pop(k) for k in ("after_repository", "progress") if k in kwargs}
        return rebuild(db, storage, RebuildOptions(**kwargs), **hooks)

    return run_
