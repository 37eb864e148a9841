# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Fixtures for garbage collection tests: a migrated database of their own, real storage, and
helpers that push through the registry's domain functions (the code the HTTP API calls)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hareg.config import GcConfig, RegistryConfig, RetentionRule
from hareg.db.pool import Database
from hareg.gc.collect import Result, collect_garbage
from hareg.registry import manifests, uploads
from hareg.registry.context import Registry
from hareg.storage import FilesystemDriver
from hareg.storage.base import StorageDriver
from tests import oci
from tests.fixtures.pgbouncer import database_keys


class Env:
    """A registry (database + storage) and shortcuts to fill, age and sweep it."""

    def __init__(self, reg: Registry, url: str) -> None:
        self.reg = reg
        self.url = url

    @property
    def storage(self) -> StorageDriver:
        return self.reg.storage

    def with_rules(self, *rules: RetentionRule) -> Env:
        return Env(dataclasses.replace(self.reg, retention=tuple(rules)), self.url)

    # ----------------------------------------------------------------- pushing

    def push_blob(self, repo: str, data: bytes | oci.Blob) -> str:
        raw = data.data if isinstance(data, oci.Blob) else data
        return uploads.upload_whole(self.reg, repo, oci.digest_of(raw), [raw], len(raw))

    def push_manifest(self, repo: str, manifest: oci.Manifest, reference: str | None = None) -> str:
        return manifests.put_manifest(self.reg, repo, reference or manifest.digest, manifest.data,
                                      manifest.media_type).digest

    def push_image(self, repo: str, manifest: oci.Manifest, tag: str | None = None) -> str:
        for blob in manifest.blobs:
            self.push_blob(repo, blob)
        for child in manifest.children:
            self.push_image(repo, child)
        return self.push_manifest(repo, manifest, tag)

    # ----------------------------------------------------------------- looking

    def query(self, sql: str, *args: Any) -> list[tuple]:
        with self.reg.db.read() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []

    def has_blob(self, digest: str) -> bool:
        return bool(self.query("SELECT 1 FROM blobs WHERE digest = %s", digest))

    def has_manifest(self, repo: str, digest: str) -> bool:
        return bool(self.query("SELECT 1 FROM manifests m JOIN repositories r"
                               " ON r.id = m.repository_id WHERE r.name = %s AND m.digest = %s",
                               repo, digest))

    def has_link(self, repo: str, digest: str) -> bool:
        return bool(self.query("SELECT 1 FROM repository_blobs rb JOIN repositories r"
                               " ON r.id = rb.repository_id WHERE r.name = %s AND rb.digest = %s",
                               repo, digest))

    def tags(self, repo: str) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id"
            " WHERE r.name = %s ORDER BY t.name", repo)]

    def exists(self, key: str) -> bool:
        return self.storage.exists(key)

    # ------------------------------------------------------------ time, sweep

    def age(self, seconds: int = 7200) -> None:
        """Move every row ``seconds`` into the past (instead of sleeping through a grace)."""
        with self.reg.db.transaction() as cur:
            for table in ("blobs", "repository_blobs", "manifests", "repositories"):
                cur.execute(f"UPDATE {table} SET created_at = created_at - %s * interval '1s'",
                            (seconds,))
            cur.execute("UPDATE tags SET updated_at = updated_at - %s * interval '1s'", (seconds,))
            cur.execute("UPDATE uploads SET updated_at = updated_at - %s * interval '1s',"
                        " created_at = created_at - %s * interval '1s'", (seconds, seconds))

    def gc(self, *, dry_run: bool = False, orphans: bool = False, **gc: Any) -> Result:
        gc.setdefault("grace_period", "1h")
        return collect_garbage(self.reg, GcConfig(**gc), self.reg.retention, dry_run=dry_run,
                               orphans=orphans)


def make_env(url: str, storage: StorageDriver, **settings: Any) -> Env:
    """An Env on ``url``, a migrated database (``pg.migrated_database``)."""
    keys = database_keys(url)  # HAREG_TEST_PGBOUNCER=1: through PgBouncer, sessions direct
    reg = Registry(db=Database(keys["url"], size=10, session_url=keys.get("session_url", "")),
                   storage=storage,
                   settings=RegistryConfig(**settings), part_size=5 * 1024 * 1024)
    return Env(reg, url)


@contextmanager
def migrated_env(pg: Any, prefix: str, storage: StorageDriver, **settings: Any
                 ) -> Iterator[Env]:
    """An Env on a fresh migrated database, handed back to ``pg`` afterwards."""
    e = make_env(pg.migrated_database(prefix), storage, **settings)
    try:
        yield e
    finally:
        e.reg.db.close()
        pg.release(e.url)


def storage_for(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    """The storage a fixture with ``params=["fs", "s3"]`` is run for (S3: moto)."""
    if request.param == "fs":
        return FilesystemDriver(str(tmp_path / "storage"))
    return request.getfixturevalue("s3_server").make_driver()


@pytest.fixture
def env(pg: Any, tmp_path: Path) -> Iterator[Env]:
    """A fresh migrated database and a filesystem storage."""
    with migrated_env(pg, "hareg_gc", FilesystemDriver(str(tmp_path / "storage"))) as e:
        yield e


@pytest.fixture(params=["fs", "s3"])
def any_env(request: pytest.FixtureRequest, pg: Any, tmp_path: Path) -> Iterator[Env]:
    """The same, once per storage driver."""
    with migrated_env(pg, "hareg_gc", storage_for(request, tmp_path)) as e:
        yield e
