# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""External programs some tests drive (skopeo, docker-registry): a missing one is never quiet.

Mark a test (or a module, with ``pytestmark``) ``@pytest.mark.needs("skopeo", ...)``, or call
:func:`require` from a fixture. When a program is not on ``PATH``:

- with ``CI`` set to ``true`` (``.ci/run`` sets it) the test fails: CI must run every client
  test;
- otherwise the test is skipped with a reason starting with :data:`MISSING`, and the end of
  the run lists every such test in a section of its own (see ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import shutil

import pytest

MISSING = "missing client program"


def in_ci() -> bool:
    """True when the environment says this is a CI run (``CI=true``, as CI services set)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(*programs: str) -> list[str]:
    return [name for name in programs if shutil.which(name) is None]


def require(*programs: str) -> None:
    """Fail (in CI) or skip (loudly, elsewhere) unless every program is on ``PATH``."""
    gone = missing(*programs)
    if not gone:
        return
    message = f"{MISSING}: {', '.join(gone)} not on PATH"
    if in_ci():
        pytest.fail(f"{message} (CI=true: every client test must run)", pytrace=False)
    pytest.skip(message)
