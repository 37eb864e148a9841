# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The version is written once (``hareg.__version__``) and ``hareg --version`` prints it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

import hareg
from hareg_cli.main import cli


def test_version_is_semver() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", hareg.__version__)


def test_installed_metadata_carries_the_same_version() -> None:
    assert version("hareg") == hareg.__version__


def test_cli_version_option() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"hareg {hareg.__version__}\n"


def test_console_script_prints_the_version() -> None:
    # The console script installed next to this interpreter (pip install -e .).
    script = Path(sys.executable).with_name("hareg")
    exe = str(script) if script.exists() else shutil.which("hareg")
    assert exe, "the hareg console script is not installed"
    done = subprocess.run(
        [exe, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"hareg {hareg.__version__}\n"
