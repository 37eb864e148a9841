# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``hareg namespace ...``: secrets never printed, export and apply round-trip, errors in one
line with exit status 2.

The commands run in this process through click's CliRunner (the ``hareg`` console script is
the click group itself: the same code from the arguments to the exit status), with what a
fresh process would have: no ``HAREG_*`` variable but the database URL, and no logging
handler (a warning would reach the captured stderr, as Python's last-resort handler writes
it in a real process). One command of each test runs as a real process too.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hareg_cli.main import cli as hareg_cli
from tests.cli.helpers import COMMAND_TIMEOUT, HAREG
from tests.fixtures.server import child_env

SECRET = "upstream-tok-3e1f"


@dataclass
class Outcome:
    """What one command did: exit status, standard output and standard error."""

    returncode: int
    stdout: str
    stderr: str


class Cli:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.env = {"HAREG_DATABASE_URL": url}
        self.data_dir = data_dir

    def __call__(self, *args: str, stdin: str = "") -> Outcome:
        """``hareg namespace ARGS --data-dir ...`` in this process."""
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("HAREG_")}
        env.update(self.env)
        root = logging.getLogger()
        handlers, root.handlers = root.handlers, []
        try:
            result = CliRunner().invoke(
                hareg_cli, ["namespace", *args, "--data-dir", str(self.data_dir)],
                input=stdin, env=env)
        finally:
            root.handlers = handlers
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback, not a one-line error: fail with it
        return Outcome(result.exit_code, result.stdout, result.stderr)

    def process(self, *args: str, stdin: str = "") -> Outcome:
        """The same command run as a real ``hareg`` process."""
        done = subprocess.run([HAREG, "namespace", *args, "--data-dir", str(self.data_dir)],
                              env=child_env(self.env), capture_output=True, text=True,
                              input=stdin, timeout=COMMAND_TIMEOUT, check=False)
        return Outcome(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(pg: Any, tmp_path: Path) -> Cli:
    return Cli(pg.migrated_database("hareg_ns_cli"), tmp_path / "data")


def _ok(result: Outcome) -> str:
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    return result.stdout


def _fails(result: Outcome, message: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hareg: ") and message in lines[0], lines


def test_define_show_export_apply(cli: Cli, tmp_path: Path) -> None:
    _ok(cli("add-remote", "hub", "--url", "http://127.0.0.1:5000", "--username", "ci",
            "--password-stdin", "--tag-ttl", "90s", "--allow", "library/*",
            stdin=SECRET + "\n"))
    _ok(cli("add-virtual", "docker", "--member", "dev", "--member", "hub", "--deploy", "dev"))
    assert _ok(cli("list")).splitlines() == ["docker\tvirtual\tmembers dev, hub; deploy dev",
                                             "hub\tremote\thttp://127.0.0.1:5000"]
    shown = _ok(cli.process("show", "hub"))
    assert "password: set" in shown and "tag_ttl: 1m30s" in shown
    assert "resolution order: dev, hub (remote)" in _ok(cli("show", "docker"))
    as_json = json.loads(_ok(cli("show", "hub", "--json")))
    assert as_json["password_set"] is True and as_json["allow"] == ["library/*"]
    listed = json.loads(_ok(cli("list", "--json")))
    assert [d["name"] for d in listed["namespaces"]] == ["docker", "hub"]
    exported = _ok(cli("export"))
    assert "# password: set" in exported
    with_secrets = cli("export", "--with-secrets")
    assert with_secrets.returncode == 0 and f'password = "{SECRET}"' in with_secrets.stdout
    # the export applies as is: nothing changes, the password stays
    path = tmp_path / "namespaces.toml"
    path.write_text(exported)
    outcome = json.loads(_ok(cli("apply", str(path), "--json")))
    assert outcome == {"added": [], "replaced": [], "removed": [],
                       "unchanged": ["docker", "hub"]}
    assert "password: set" in _ok(cli("show", "hub"))
    # edit the file: a new remote, docker over it too; prune removes what the file lacks
    path.write_text(exported.replace('members = ["dev", "hub"]', 'members = ["dev", "quay"]')
                    + '\n[namespaces.quay]\nkind = "remote"\nurl = "https://quay.io"\n')
    assert _ok(cli("apply", str(path))).splitlines() == ["added: quay", "replaced: docker",
                                                         "unchanged: hub"]
    path.write_text(exported.split("[namespaces.hub]")[0].replace('"hub"', '"dev2"')
                    .replace('members = ["dev", "dev2"]', 'members = ["dev"]'))
    assert "removed: hub, quay" in _ok(cli("apply", "--prune", str(path)))
    # dev holds no repository: it may be a member only as the deploy member
    _fails(cli("update", "docker", "--deploy", ""), "unknown member 'dev'")
    _ok(cli("remove", "docker"))
    assert _ok(cli("list")) == ""


def test_errors_are_one_line_with_status_2(cli: Cli, tmp_path: Path) -> None:
    _ok(cli("add-remote", "hub", "--url", "https://registry-1.docker.io"))
    _ok(cli("add-virtual", "docker", "--member", "hub"))
    _fails(cli("add-virtual", "v", "--member", "nope"), "unknown member 'nope'")
    _fails(cli("add-virtual", "v", "--member", "hub", "--deploy", "dev"),
           "is not one of its members")
    _fails(cli("add-virtual", "v", "--member", "hub", "--member", "dev", "--deploy", "hub"),
           "must be a local namespace")
    _fails(cli("add-remote", "r", "--url", "ftp://x"), "url must be https://")
    _fails(cli("add-remote", "hub", "--url", "https://x.example"), "already defined")
    _fails(cli("remove", "hub"), "member of virtual namespace 'docker'")
    _fails(cli.process("remove", "nothing"), "is not defined")
    _fails(cli("show", "nothing"), "is not defined")
    _fails(cli("update", "hub", "--member", "x"), "it has no members")
    _fails(cli("update", "hub"), "nothing to change")
    _fails(cli("add-remote", "r", "--url", "https://x.example", "--password-stdin", stdin="\n"),
           "the password is empty")
    bad = tmp_path / "bad.toml"
    bad.write_text('[namespaces.a]\nkind = "virtual"\nmembers = ["b"]\n'
                   '[namespaces.b]\nkind = "virtual"\nmembers = ["a"]\n')
    _fails(cli("apply", str(bad)), "cycle")
    bad.write_text("[namespaces.a\n")
    _fails(cli("apply", str(bad)), "not valid TOML")
    bad.write_text('[namespaces.a]\nkind = "remote"\nurl = "https://x"\ncolour = 1\n')
    _fails(cli("apply", str(bad)), "colour: Unknown field")
    assert [d["name"] for d in json.loads(_ok(cli("list", "--json")))["namespaces"]] \
        == ["docker", "hub"]
