# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The domain's pull filter is an argument: the catalog and blob mounts see only what the
caller passes (real PostgreSQL, filesystem storage)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hareg.config import RegistryConfig
from hareg.db.migrate import apply_migrations
from hareg.db.pool import Database
from hareg.registry import blobs, listing, uploads
from hareg.registry.context import Registry
from hareg.registry.errors import BlobUnknown
from hareg.registry.visibility import EVERYTHING, NOTHING, RepositoryFilter
from hareg.storage import FilesystemDriver
from tests import oci

TEAM = RepositoryFilter((r"^team/.*$",))


@pytest.fixture
def reg(pg: Any, tmp_path: Path) -> Iterator[Registry]:
    url = pg.fresh_database("hareg_visibility")
    apply_migrations(url)
    registry = Registry(db=Database(url, size=4),
                        storage=FilesystemDriver(str(tmp_path / "storage")),
                        settings=RegistryConfig())
    yield registry
    registry.db.close()


def _push(reg: Registry, repository: str, data: bytes) -> str:
    return uploads.upload_whole(reg, repository, oci.digest_of(data), [data], len(data))


def _linked(reg: Registry, repository: str, digest: str) -> bool:
    try:
        blobs.stat_blob(reg, repository, digest)
    except BlobUnknown:
        return False
    return True


def test_catalog_lists_only_the_passed_filter(reg: Registry) -> None:
    _push(reg, "team/a", b"a")
    _push(reg, "secret/b", b"b")
    assert listing.list_repositories(reg, None, None, visible=EVERYTHING).items == [
        "secret/b", "team/a"]
    assert listing.list_repositories(reg, None, None, visible=TEAM).items == ["team/a"]
    assert listing.list_repositories(reg, None, None, visible=NOTHING).items == []


def test_mount_uses_only_visible_sources(reg: Registry) -> None:
    digest = _push(reg, "secret/src", b"layer")
    # Named source outside the filter, and automatic discovery finding no visible link.
    assert not blobs.mount_blob(reg, "team/dst", digest, "secret/src", visible=TEAM)
    assert not blobs.mount_blob(reg, "team/dst", digest, None, visible=TEAM)
    assert not blobs.mount_blob(reg, "team/dst", digest, None, visible=NOTHING)
    assert not _linked(reg, "team/dst", digest)
    # The same mounts succeed for a caller that may pull the source.
    assert blobs.mount_blob(reg, "team/dst", digest, None,
                            visible=RepositoryFilter((r"^secret/.*$",)))
    assert blobs.mount_blob(reg, "team/other", digest, "secret/src", visible=EVERYTHING)
    assert _linked(reg, "team/dst", digest) and _linked(reg, "team/other", digest)
