# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Fixtures for the namespace management tests: a registry on a fresh database, on the
filesystem or on S3 (moto's server), and a look at everything a change may touch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hareg.config import Config, RegistryConfig, load_config
from hareg.db import namespaces as table
from hareg.db.pool import Database
from hareg.registry import manifests, uploads
from hareg.registry.context import Registry
from hareg.registry.namespace_cache import NamespaceCache
from hareg.storage import layout
from hareg.storage.filesystem import FilesystemDriver
from tests.oci import image_manifest


@pytest.fixture(params=["filesystem", "s3"])
def reg(request: pytest.FixtureRequest, pg: Any, tmp_path: Path) -> Iterator[Registry]:
    """A registry on its own database; its storage on the filesystem, then on moto S3."""
    db = Database(pg.migrated_database("hareg_ns"), size=4)
    if request.param == "s3":
        storage: Any = request.getfixturevalue("s3_server").make_driver()
    else:
        storage = FilesystemDriver(str(tmp_path / "storage"))
    yield Registry(db=db, storage=storage, settings=RegistryConfig(),
                   namespaces=NamespaceCache(db))
    db.close()


def state(reg: Registry) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every definition row and every definition object of the bucket (key -> JSON)."""
    with reg.db.read() as cur:
        rows = table.all_definitions(cur)
    objects = {info.key: json.loads(reg.storage.get_bytes(info.key))
               for info in reg.storage.list_objects(layout.namespaces_dir())}
    return rows, objects


def push(reg: Registry, repo: str, tag: str = "v1") -> None:
    """Push a fresh small image to ``repo:tag``."""
    image = image_manifest()
    for blob in image.blobs:
        uploads.upload_whole(reg, repo, blob.digest, [blob.data], blob.size)
    manifests.put_manifest(reg, repo, tag, image.data, image.media_type)


def app_config(database_url: str, storage_root: Path, **sections: Any) -> Config:
    """A config for create_app on ``database_url`` with filesystem storage."""
    return load_config(env={}, overrides={
        "database": {"url": database_url},
        "storage": {"driver": "filesystem", "root": str(storage_root)},
        **sections,
    })
