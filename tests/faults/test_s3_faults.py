# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""S3 that fails or slows down: errors and resets on 15 % of S3 requests during pushes
(monolithic and chunked) and pulls; 200-500 ms added to every S3 call during a push burst.

Clients retry as real clients do (tests.ha.workload: bounded recoveries per operation).
Then, without faults: acknowledged pushes pull back identical, ``hareg check`` is clean and
no upload session is stuck (tests.faults.verify).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.clients import Load, push_images
from tests.faults.s3proxy import FaultProxy, Faults
from tests.faults.verify import aftermath
from tests.fixtures.server import HaregServer
from tests.ha.workload import Client, Stats

pytestmark = pytest.mark.faults

SEED_IMAGES = 2


def test_s3_errors_and_resets(s3_behind_proxy: Callable[..., HaregServer],
                              fault_proxy: FaultProxy) -> None:
    server = s3_behind_proxy(workers=2)
    seed = push_images(server.url, "faults/seed", SEED_IMAGES)
    # 15 % of S3 requests fail: 10 % answered 500/503, 3 % reset before S3 saw them, 2 %
    # reset after S3 did what they asked (the answer is lost).
    fault_proxy.set_faults(Faults(error=0.10, reset=0.03, reset_after=0.02))
    load = Load(server.url, "faults/errors", pushers=2, pushes_each=3, pullers=1,
                max_seconds=90, seed=seed)
    load.run()
    fault_proxy.set_faults(None)
    injected = fault_proxy.snapshot()

    report = aftermath(server, seed + list(load.pushed.images), load.sessions.all())
    print(load.stats.summary("pushes"))
    print(load.pull_stats.summary("pulls"))
    print(f"S3 requests through the proxy and faults injected: {injected}")
    print(report.summary())
    assert injected.get("500", 0) + injected.get("503", 0) > 0
    assert injected.get("reset", 0) + injected.get("reset_after", 0) > 0
    assert load.pushed.images, "no push was acknowledged at all"
    assert report.ok, report.problems()


def test_s3_latency(s3_behind_proxy: Callable[..., HaregServer],
                    fault_proxy: FaultProxy) -> None:
    server = s3_behind_proxy(workers=2)
    seed = push_images(server.url, "faults/seed", SEED_IMAGES)
    fault_proxy.set_faults(Faults(latency=(0.2, 0.5)))
    load = Load(server.url, "faults/slow", pushers=3, pushes_each=2, pullers=2,
                max_seconds=90, seed=seed)
    load.run()
    fault_proxy.set_faults(None)
    injected = fault_proxy.snapshot()

    # Pulls of other blobs (the seed images) kept working during the burst.
    seed_stats = Stats()
    client = Client(server.url, seed_stats)
    for image in seed:
        client.pull(image)
    report = aftermath(server, seed + list(load.pushed.images), load.sessions.all())
    print(load.stats.summary("pushes"))
    print(load.pull_stats.summary("pulls"))
    print(f"S3 requests through the proxy and faults injected: {injected}")
    print(report.summary())
    assert injected.get("latency", 0) > 0
    assert sum(load.pull_stats.ops.values()) > 0, "no pull ran during the burst"
    assert sum(load.pull_stats.failed.values()) == 0, load.pull_stats.errors[:20]
    assert sum(load.stats.failed.values()) == 0, load.stats.errors[:20]
    assert report.ok, report.problems()
