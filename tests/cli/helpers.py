# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Run the ``hareg`` console script of this virtual environment as an operator would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.fixtures.server import child_env

#: The console script installed next to the interpreter running the tests.
HAREG = str(Path(sys.executable).with_name("hareg"))
#: Bound on one command; failures it checks must come long before (no timing asserts).
COMMAND_TIMEOUT = 90.0


def hareg(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None,
          timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``hareg ARGS`` with no ``HAREG_*`` variable but those in ``env``."""
    return subprocess.run([HAREG, *args], env=child_env(env), cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False)
