# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Two hareg apps on one database: a change made through one reaches the routing snapshot
of the other within a few seconds, without a restart (hareg.registry.namespace_cache)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hareg.api.app import create_app
from hareg.registry.namespaces import Kind
from tests.namespaces.conftest import app_config

BOUND = 15.0  # seconds: the cache reloads every 2 s; generous for a loaded machine


def _wait_for(check: Any) -> bool:
    deadline = time.monotonic() + BOUND
    for _ in range(int(BOUND / 0.1) + 1):
        if check():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return False


def test_a_change_through_one_instance_reaches_the_other(pg: Any, tmp_path: Path) -> None:
    config = app_config(pg.migrated_database("hareg_ns_two"), tmp_path / "storage")
    one, two = create_app(config), create_app(config)
    seen = two.extensions["hareg"].namespaces
    try:
        assert seen.current().get("hub") is None  # loaded before the change
        put = one.test_client().put("/api/v1/namespaces/hub",
                                    json={"kind": "remote", "url": "http://127.0.0.1:5000"})
        assert put.status_code == 201, put.data
        assert _wait_for(lambda: seen.current().route("hub/library/alpine").kind == Kind.REMOTE)
        assert one.test_client().delete("/api/v1/namespaces/hub").status_code == 204
        assert _wait_for(lambda: seen.current().get("hub") is None)
    finally:
        one.extensions["hareg"].db.close()
        two.extensions["hareg"].db.close()
