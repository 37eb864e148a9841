# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``hareg user add``: a password piped without --password-stdin is refused in one line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hareg.auth.htpasswd import Htpasswd
from hareg_cli.main import cli


def _config(tmp_path: Path) -> tuple[str, Path]:
    htpasswd = tmp_path / "htpasswd"
    config = tmp_path / "hareg.toml"
    config.write_text(f'[auth]\nhtpasswd = "{htpasswd}"\n')
    return str(config), htpasswd


def test_piped_password_without_password_stdin_is_refused(tmp_path: Path) -> None:
    config, htpasswd = _config(tmp_path)
    out = CliRunner().invoke(cli, ["user", "add", "alice", "--config", config],
                             input="s3cret\n")
    assert out.exit_code == 2
    assert out.stdout == ""
    assert out.stderr == ("hareg: standard input is not a terminal: to read the password from"
                          " it, pass --password-stdin\n")
    assert not htpasswd.exists()

    out = CliRunner().invoke(cli, ["user", "add", "alice", "--password-stdin", "--config",
                                   config], input="s3cret\n")
    assert out.exit_code == 0, out.output
    assert out.stderr == f"added user alice in {htpasswd}\n"
    assert Htpasswd(str(htpasswd)).verify("alice", "s3cret")
