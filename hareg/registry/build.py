# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""build_registry(config): the domain's dependencies (database pool, metered storage)."""

from __future__ import annotations

import dataclasses

from ..config import Config
from ..db.pool import Database
from ..storage import create_driver
from ..storage.metered import MeteredStorage
from .context import Registry


def build_registry(config: Config) -> Registry:
    """The domain's dependencies, built from config (the database URL must be resolved)."""
    if not config.database.url:
        raise ValueError("create_app needs a resolved database URL (see hareg.db.bootstrap)")
    storage_cfg = dataclasses.replace(config.storage, root=str(config.storage_root))
    return Registry(
        db=Database(config.database.url, size=config.database.pool_size,
                    session_url=config.database.session_url),
        storage=MeteredStorage(create_driver(storage_cfg)),
        settings=config.registry,
        part_size=config.storage.part_size,
        retention=config.retention,
    )
