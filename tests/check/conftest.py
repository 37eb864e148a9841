# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Fixtures for the ``hareg check`` tests: a registry on a fresh database and local storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hareg.config import RegistryConfig
from hareg.db.pool import Database
from hareg.registry import manifests, uploads
from hareg.registry.context import Registry
from hareg.storage.filesystem import FilesystemDriver
from tests.oci import Manifest, image_manifest


@pytest.fixture
def reg(pg: Any, tmp_path: Path) -> Iterator[Registry]:
    url = pg.migrated_database("hareg_check_links")
    db = Database(url, size=4)
    yield Registry(db=db, storage=FilesystemDriver(str(tmp_path / "storage")),
                   settings=RegistryConfig())
    db.close()
    pg.release(url)


def push(reg: Registry, repo: str, reference: str) -> Manifest:
    """Upload a fresh image's blobs and put its manifest under ``reference`` (a tag or the
    manifest's digest, when ``reference`` is empty)."""
    image = image_manifest()
    for blob in image.blobs:
        uploads.upload_whole(reg, repo, blob.digest, [blob.data], blob.size)
    manifests.put_manifest(reg, repo, reference or image.digest, image.data, image.media_type)
    return image
