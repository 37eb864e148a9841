# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg user add / remove: the htpasswd file named by ``[auth] htpasswd``."""

from __future__ import annotations

import sys

import click

from hareg.config import Config

from .options import config_options, fail


def _htpasswd_path(config: Config) -> str:
    if not config.auth.htpasswd:
        fail("config error: auth.htpasswd: not set; name the htpasswd file in [auth]"
             " (or HAREG_AUTH_HTPASSWD)")
    return config.auth.htpasswd


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    elif not sys.stdin.isatty():
        fail("standard input is not a terminal: to read the password from it,"
             " pass --password-stdin")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    if not password:
        fail("the password is empty")
    return password


@click.group()
def user() -> None:
    """Manage the users of the htpasswd file ([auth] htpasswd, bcrypt hashes)."""


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@config_options
def add(config: Config, name: str, password_stdin: bool) -> None:
    """Add user NAME, or set a new password for it.

    Prompts for the password twice on a terminal; with --password-stdin, reads it from the
    first line of standard input (refused without it when standard input is not a terminal).
    """
    from hareg.auth.htpasswd import MAX_PASSWORD_BYTES, hash_password, set_user, user_name_error

    path = _htpasswd_path(config)
    error = user_name_error(name)
    if error:
        fail(f"invalid user name {name!r}: {error}")
    password = _read_password(password_stdin)
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        fail(f"the password is longer than {MAX_PASSWORD_BYTES} bytes, which bcrypt cannot use")
    try:
        created = set_user(path, name, hash_password(password))
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    click.echo(f"{'added user' if created else 'changed the password of'} {name} in {path}",
               err=True)


@user.command("remove")
@click.argument("name")
@config_options
def remove(config: Config, name: str) -> None:
    """Remove user NAME from the htpasswd file."""
    from hareg.auth.htpasswd import remove_user

    path = _htpasswd_path(config)
    try:
        removed = remove_user(path, name)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    if not removed:
        fail(f"no user {name!r} in {path}")
    click.echo(f"removed user {name} from {path}", err=True)
