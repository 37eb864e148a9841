# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The per-process view of the definitions (hareg.registry.namespace_cache): a change
committed by anyone is seen after ``max_age``, and a failed reload keeps the last view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hareg.db import namespaces as table
from hareg.db.pool import Database
from hareg.registry.namespace_cache import NamespaceCache
from hareg.registry.namespaces import Kind, Remote


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(pg: Any) -> Iterator[Database]:
    database = Database(pg.migrated_database("hareg_namespaces"), size=2)
    try:
        yield database
    finally:
        database.close()


def _define(db: Database, remote: Remote) -> None:
    with db.transaction() as cur:
        table.save_definition(cur, remote.name, str(remote.kind), remote.to_dict())


def test_a_change_is_seen_once_the_snapshot_is_older_than_max_age(db: Database) -> None:
    clock = Clock()
    cache = NamespaceCache(db, max_age=2.0, clock=clock)
    assert len(cache.current()) == 0
    _define(db, Remote("hub", "http://127.0.0.1:5000"))
    clock.now += 1.0
    assert cache.current().kind("hub") == Kind.LOCAL  # still the earlier snapshot
    clock.now += 1.5
    assert cache.current().kind("hub") == Kind.REMOTE
    cache.invalidate()
    with db.transaction() as cur:
        table.delete_definition(cur, "hub")
    assert cache.current().kind("hub") == Kind.LOCAL


def test_a_failed_reload_keeps_the_previous_snapshot(db: Database) -> None:
    clock = Clock()
    _define(db, Remote("hub", "http://127.0.0.1:5000"))
    cache = NamespaceCache(db, max_age=2.0, clock=clock)
    assert cache.current().kind("hub") == Kind.REMOTE
    broken = NamespaceCache(Database("postgresql://127.0.0.1:1/nothing", size=1), clock=clock)
    with pytest.raises(Exception):  # noqa: B017 - nothing loaded yet: the error shows
        broken.current()
    cache.db = broken.db
    clock.now += 10
    assert cache.current().kind("hub") == Kind.REMOTE
