# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A PostgreSQL that stops, or freezes (SIGSTOP of the postmaster and every backend).

The database is a cluster of this module's own (tests.faults.pgcluster), so stopping it
disturbs no other test. While it is down, one request of each kind (tests.faults.probes) must
get an answer within a bound: 503 in the spec's JSON with ``Retry-After`` (``/readyz``: 503),
never a hang. After it is back, pushes and pulls work and the checks of tests.faults.verify
pass, an upload session opened before the outage included.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from tests.faults.clients import Load, SessionLog, open_upload, push_images
from tests.faults.pgcluster import PgCluster
from tests.faults.probes import Probe, registry_probes, run_concurrently
from tests.faults.servers import wait_ready
from tests.faults.verify import aftermath
from tests.fixtures.server import HaregServer
from tests.ha.workload import MiB

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 3.0


def _before(server: HaregServer, log: SessionLog) -> tuple[list, str, int, bytes]:
    seed = push_images(server.url, "faults/pg", 2, log=log)
    data = os.urandom(3 * MiB + 5)
    url, offset = open_upload(server.url, "faults/pg", data, 1 * MiB, log)
    return seed, url, offset, data


def _after(server: HaregServer, seed: list, log: SessionLog, probes: list[Probe]) -> None:
    load = Load(server.url, "faults/pg-after", pushers=1, pushes_each=2, pullers=1,
                max_seconds=60, seed=seed)
    load.run()
    report = aftermath(server, seed + list(load.pushed.images),
                       log.all() + load.sessions.all())
    for probe in probes:
        print(f"during the outage: {probe}")
    print(load.stats.summary("pushes after"))
    print(load.pull_stats.summary("pulls after"))
    print(report.summary())
    bad = [str(p) for p in probes if not p.ok]
    assert not bad, "requests during the outage:\n" + "\n".join(bad)
    assert sum(load.stats.failed.values()) == 0, load.stats.errors[:20]
    assert sum(load.pull_stats.failed.values()) == 0, load.pull_stats.errors[:20]
    assert report.ok, report.problems()


def test_postgres_stopped_then_started(server_on_cluster: Callable[..., HaregServer],
                                       pg_cluster: PgCluster) -> None:
    server = server_on_cluster(workers=1)
    log = SessionLog()
    seed, url, offset, data = _before(server, log)
    pg_cluster.stop()
    try:
        probes = registry_probes(server.url, seed[0], url, offset, data[offset:offset + MiB])
        run_concurrently(probes)
        time.sleep(OUTAGE_SECONDS)
        again = registry_probes(server.url, seed[1], url, offset, data[offset:offset + MiB])
        run_concurrently(again)
    finally:
        pg_cluster.start()
    wait_ready(server)
    _after(server, seed, log, probes + again)


def test_postgres_frozen_then_thawed(server_on_cluster: Callable[..., HaregServer],
                                     pg_cluster: PgCluster) -> None:
    server = server_on_cluster(workers=1)
    log = SessionLog()
    seed, url, offset, data = _before(server, log)
    pg_cluster.freeze()
    try:
        # The database stays frozen for as long as any request may wait (its bound), so a
        # request that waits for the database instead of giving up shows as a timeout.
        probes = registry_probes(server.url, seed[0], url, offset, data[offset:offset + MiB])
        run_concurrently(probes)
    finally:
        pg_cluster.thaw()
    wait_ready(server)
    _after(server, seed, log, probes)
