# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Fixtures of the fault-injection suite: the S3 fault proxy, a PostgreSQL cluster of its own,
and hareg servers wired to them (real ``hareg serve`` processes, tests.fixtures.server)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.faults.pgcluster import PgCluster
from tests.faults.s3proxy import FaultProxy
from tests.faults.servers import configure, wait_ready
from tests.fixtures.server import TEST_PART_SIZE, HaregServer, ServerFactory

#: A frozen database is given up after statement_timeout + 2 s; a request that first waited
#: for a pool slot held by such a statement then connects anew, within connect_timeout
#: (docs/operations.rst, Timeouts and limits): 4 + 2 + 2 s stays under the probes' 10 s bound
#: (tests.faults.probes). With the defaults (10 s and 5 s) a request may wait 12 s.
DATABASE_BOUNDS = {"statement_timeout": "4s", "connect_timeout": "2s"}


@pytest.fixture
def fault_proxy(s3_server: Any) -> Iterator[FaultProxy]:
    """A fault proxy in front of the session's moto server; no faults until told."""
    proxy = FaultProxy(s3_server.endpoint_url).start()
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def s3_behind_proxy(server_factory: ServerFactory, s3_server: Any, fault_proxy: FaultProxy
                    ) -> Callable[..., HaregServer]:
    """``s3_behind_proxy(workers=2, pool_size=5)``: a started hareg whose S3 is the proxy."""

    def make(workers: int = 2, pool_size: int = 5) -> HaregServer:
        storage = {
            "driver": "s3", "bucket": s3_server.make_bucket(),
            "endpoint_url": fault_proxy.endpoint_url, "region": s3_server.region,
            "access_key_id": s3_server.access_key_id,
            "secret_access_key": s3_server.secret_access_key,
            "path_style": True, "part_size": TEST_PART_SIZE,
        }
        server = server_factory.create("s3", name=f"faults-s3-{uuid.uuid4().hex[:6]}",
                                       storage=storage, start=False, workers=workers)
        configure(server, database={"pool_size": pool_size, **DATABASE_BOUNDS})
        server.start()
        wait_ready(server)
        return server

    return make


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster of this module's own, started; stopped and removed after."""
    cluster = PgCluster()
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def server_on_cluster(server_factory: ServerFactory, pg_cluster: PgCluster
                      ) -> Callable[..., HaregServer]:
    """``server_on_cluster(workers=1, pool_size=5)``: a started hareg (filesystem storage) on
    a fresh database of the dedicated cluster."""

    def make(workers: int = 1, pool_size: int = 5) -> HaregServer:
        if pg_cluster.proc is None:
            pg_cluster.start()
        url = pg_cluster.create_database(f"hareg_faults_{uuid.uuid4().hex[:10]}")
        server = server_factory.create("filesystem", database_url=url, start=False,
                                       workers=workers)
        configure(server, database={"pool_size": pool_size, **DATABASE_BOUNDS})
        server.start()
        wait_ready(server)
        return server

    return make


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the dedicated PostgreSQL's log to a failing test's report."""
    report = yield
    if report.failed and hasattr(item, "funcargs"):
        cluster = item.funcargs.get("pg_cluster")
        if isinstance(cluster, PgCluster):
            report.sections.append(("dedicated postgres log", cluster.log_tail()))
    return report
