# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""build_registry(config): the domain's dependencies (database pool, metered storage)."""

from __future__ import annotations

import dataclasses

from ..config import Config
from ..db.pool import ConnectOptions, Database
from ..storage import create_driver
from ..storage.metered import MeteredStorage
from .context import Registry
from .namespace_cache import NamespaceCache


def connect_options(config: Config, serving: bool) -> ConnectOptions:
    """``[database]`` timeouts; the statement timeout applies to serving requests only (the
    CLI's checks and sweeps may run long statements)."""
    db = config.database
    return ConnectOptions(
        connect_timeout=db.seconds("connect_timeout"),
        statement_timeout=db.seconds("statement_timeout") if serving else 0,
        keepalive_idle=db.seconds("keepalive_idle"),
        keepalive_interval=db.seconds("keepalive_interval"),
        keepalive_count=db.keepalive_count,
    )


def build_registry(config: Config, serving: bool = False) -> Registry:
    """The domain's dependencies, built from config (the database URL must be resolved).

    ``serving``: the pool serves HTTP requests (``hareg serve``), so statements are bounded
    by ``[database] statement_timeout``.
    """
    if not config.database.url:
        raise ValueError("create_app needs a resolved database URL (see hareg.db.bootstrap)")
    storage_cfg = dataclasses.replace(config.storage, root=str(config.storage_root))
    db = Database(config.database.url, size=config.database.pool_size,
                  wait_timeout=config.database.seconds("pool_timeout"),
                  options=connect_options(config, serving),
                  session_url=config.database.session_url)
    return Registry(
        db=db,
        storage=MeteredStorage(create_driver(storage_cfg)),
        settings=config.registry,
        part_size=config.storage.part_size,
        redirect_expiry=config.storage.redirect_seconds(),
        retention=config.retention,
        namespaces=NamespaceCache(db),
    )
