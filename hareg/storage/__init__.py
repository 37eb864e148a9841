# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Blob storage: a small driver interface, its S3 and filesystem drivers, the key layout.

The rest of hareg asks :func:`create_driver` for a driver and builds every key
with :mod:`hareg.storage.layout`; it never touches boto3 or paths directly.
"""

from __future__ import annotations

from typing import Any

from .base import NotFound, ObjectInfo, StorageDriver, StorageError
from .filesystem import FilesystemDriver
from .s3 import S3Driver

__all__ = [
    "FilesystemDriver",
    "NotFound",
    "ObjectInfo",
    "S3Driver",
    "StorageDriver",
    "StorageError",
    "create_driver",
]


def create_driver(cfg: Any) -> StorageDriver:
    """Build the driver the storage configuration names.

    ``cfg`` is any object with the attributes of hareg's storage config
    section (``driver``, ``root``, ``bucket``, ``prefix``, ``endpoint_url``,
    ``region``, ``access_key_id``, ``secret_access_key``, ``path_style``,
    ``part_size``); duck typing keeps this package independent of the config
    module. Empty credentials select boto3's default credential chain.
    """
    driver = cfg.driver
    if driver == "filesystem":
        if not cfg.root:
            raise ValueError("storage.root is required for the filesystem driver")
        return FilesystemDriver(cfg.root)
    if driver == "s3":
        return S3Driver(
            cfg.bucket,
            prefix=cfg.prefix or "",
            endpoint_url=cfg.endpoint_url or None,
            region=cfg.region or None,
            access_key_id=cfg.access_key_id or "",
            secret_access_key=cfg.secret_access_key or "",
            path_style=bool(cfg.path_style),
            part_size=int(cfg.part_size),
        )
    raise ValueError(f"unknown storage driver {driver!r} (expected 'filesystem' or 's3')")
