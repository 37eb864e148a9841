# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What every registry operation works with: the database, the storage and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import RegistryConfig, RetentionRule
from ..db.pool import Database
from ..storage.base import StorageDriver
from .namespace_cache import NamespaceSource, StaticNamespaces


@dataclass(frozen=True)
class Registry:
    db: Database
    storage: StorageDriver
    settings: RegistryConfig
    part_size: int = 8 * 1024 * 1024
    #: ``[storage] redirect``: seconds a blob GET's presigned URL stays valid; 0 streams.
    redirect_expiry: int = 0
    retention: tuple[RetentionRule, ...] = ()  # [[retention]]: immutable tags, GC policies
    #: Remote and virtual namespace definitions (hareg.registry.namespaces); every namespace
    #: is local unless defined.
    namespaces: NamespaceSource = field(default_factory=StaticNamespaces)
