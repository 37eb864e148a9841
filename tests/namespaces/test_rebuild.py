# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""rebuild-db restores the namespace definitions from the bucket, passwords included."""

from __future__ import annotations

import pytest

from hareg.db import namespaces as table
from hareg.rebuild import RebuildOptions, rebuild
from hareg.registry import namespace_store as store
from hareg.registry.context import Registry
from hareg.registry.namespaces import Remote, Virtual
from tests.namespaces.conftest import push, state

HUB = Remote(name="hub", url="http://127.0.0.1:5000", username="u", password="p-secret")
DOCKER = Virtual("docker", ("dev", "hub"), deploy="dev")


@pytest.mark.parametrize("from_scratch", [False, True])
def test_rebuild_restores_dropped_definitions(reg: Registry, from_scratch: bool) -> None:
    push(reg, "dev/app")
    store.add(reg, HUB)
    store.add(reg, DOCKER)
    before = state(reg)
    with reg.db.transaction() as cur:
        table.delete_definition(cur, "hub")
        table.delete_definition(cur, "docker")
        table.save_definition(cur, "stale", "remote",
                              Remote(name="stale", url="https://example.com").to_dict())
    summary = rebuild(reg.db, reg.storage, RebuildOptions(jobs=2, from_scratch=from_scratch))
    assert summary["status"] == "ok", summary
    assert summary["counts"]["namespaces"]["found"] == 2
    assert summary["counts"]["namespaces"]["added"] == 2
    rows, _ = state(reg)
    if from_scratch:  # the bucket is the truth: a row without an object goes
        assert state(reg) == before
    else:
        assert [r["name"] for r in rows] == ["docker", "hub", "stale"]
    assert store.get(reg, "hub") == HUB  # the password too
    assert store.get(reg, "docker") == DOCKER
    again = rebuild(reg.db, reg.storage, RebuildOptions(jobs=2, prune=True))
    assert again["counts"]["namespaces"] == {"found": 2, "unchanged": 2,
                                             **({} if from_scratch else {"pruned": 1})}
    assert state(reg) == before


def test_an_unreadable_definition_is_reported_and_skipped(reg: Registry) -> None:
    store.add(reg, HUB)
    reg.storage.put_bytes("docker/registry/v2/hareg/namespaces/broken.json", b"{not json")
    summary = rebuild(reg.db, reg.storage, RebuildOptions(jobs=2))
    assert summary["status"] == "errors"
    assert [(e["kind"], e["namespace"]) for e in summary["errors"]] == [("namespace", "broken")]
    assert [d.name for d in store.list_definitions(reg)] == ["hub"]
