# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Shared fixtures: PostgreSQL, S3 (moto) and hareg servers, HTTP sessions, unique names.

Also the ``needs(*programs)`` marker (tests.tools): a test that needs a program missing from
``PATH`` fails under ``CI=true`` and is otherwise skipped and listed at the end of the run.

Parallel runs (pytest-xdist; ``-n auto --dist loadfile`` in pyproject.toml): every worker has
its own session fixtures (PostgreSQL databases and template, moto server, hareg servers, temp
dirs), so nothing is shared between workers but the PostgreSQL server, where every database
has a unique name. ``HAREG_TEST_WORKERS`` sets the number of workers; the multi-instance
tests (``-m ha``) always run in one process, as before.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from tests.oci import new_session
from tests.tools import MISSING, in_ci, require

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.s3", "tests.fixtures.pgbouncer",
                  "tests.fixtures.server"]


WORKERS_ENV = "HAREG_TEST_WORKERS"
#: The machine's cores plus one: the tests spend much of their time waiting on servers and
#: databases, so on the 2-core CI machine a third worker keeps both cores busy (the default
#: run: 243 s with two workers, 221 s with three).
DEFAULT_WORKERS = len(os.sched_getaffinity(0)) + 1


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many workers ``-n auto`` starts (0: no xdist, one process)."""
    if os.environ.get(WORKERS_ENV, "").strip():
        return int(os.environ[WORKERS_ENV])
    markexpr = str(config.getoption("markexpr", "") or "")
    if re.search(r"(?<!not )\b(ha|faults)\b", markexpr):
        return 0  # multi-instance and fault scenarios load the machine alone: one at a time
    return DEFAULT_WORKERS


def pytest_configure(config: pytest.Config) -> None:
    """In xdist workers, forget ``HAREG_TEST_WORKERS``: it only tells the controller how many
    workers to start, and hareg itself warns of unknown ``HAREG_*`` variables (tests of the
    CLI run in-process and compare its standard error)."""
    if hasattr(config, "workerinput"):
        os.environ.pop(WORKERS_ENV, None)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with ``slow`` tests first, then the other files by number of tests, most first
    (order kept within each file and among equals), so that with ``--dist loadfile`` no worker
    starts a long file when the others are done."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    tests_per_file = Counter(item.path for item in items)
    items.sort(key=lambda item: (item.path not in slow_files, -tests_per_file[item.path]))


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        require(*mark.args)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List, under a heading nobody misses, every test skipped for a missing client program."""
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if MISSING in str(getattr(report, "longrepr", ""))]
    if not skipped:
        return
    terminalreporter.section(f"{len(skipped)} CLIENT TESTS DID NOT RUN", sep="!",
                             red=True, bold=True)
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        terminalreporter.line(f"SKIPPED {report.nodeid}: {reason}", red=True)
    terminalreporter.line("install the programs above; with CI=true these tests fail instead"
                          + (" (CI is set: see the errors above)" if in_ci() else ""),
                          red=True, bold=True)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A fresh HTTP session that ignores proxy settings from the environment."""
    s = new_session()
    try:
        yield s
    finally:
        s.close()


def unique_name(prefix: str = "t") -> str:
    """A repository name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def repo() -> str:
    """A unique repository name (two components, to exercise nested names everywhere)."""
    return f"{unique_name('test')}/img"


@pytest.fixture
def other_repo() -> str:
    """A second unique repository name."""
    return f"{unique_name('other')}/img"


@pytest.fixture(scope="module")
def module_session() -> Iterator[requests.Session]:
    """An HTTP session shared by the tests of a module (for module-scoped test data)."""
    s = new_session()
    try:
        yield s
    finally:
        s.close()
