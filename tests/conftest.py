# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Shared fixtures: PostgreSQL, S3 (moto) and hareg servers, HTTP sessions, unique names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.oci import new_session

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.s3", "tests.fixtures.pgbouncer",
                  "tests.fixtures.server"]


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
