# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What every registry operation works with: the database, the storage and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import RegistryConfig, RetentionRule
from ..db.pool import Database
from ..storage.base import StorageDriver


@dataclass(frozen=True)
class Registry:
    db: Database
    storage: StorageDriver
    settings: RegistryConfig
    part_size: int = 8 * 1024 * 1024
    retention: tuple[RetentionRule, ...] = ()  # [[retention]]: immutable tags, GC policies
