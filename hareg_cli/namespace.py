# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg namespace list / show / add-remote / add-virtual / update / remove / apply / export.

Thin: the rules are hareg.registry.namespace_store's (docs/virtual-remote.rst, Managing them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from hareg.config import Config

from .options import config_options, fail, prepared
from .output import json_option, one_line, print_json

if TYPE_CHECKING:  # hareg's modules are imported by the commands: --help stays fast
    from hareg.registry.context import Registry


def _duration(value: str | None) -> float | None:
    from hareg.durations import parse_duration
    from hareg.registry.namespace_schema import MAX_DURATION

    if value is None:
        return None
    try:
        seconds = float(parse_duration(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds > MAX_DURATION:
        raise click.BadParameter(f"at most {MAX_DURATION} seconds")
    return seconds


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _password(password_stdin: bool) -> str | None:
    if not password_stdin:
        return None
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        fail("the password is empty (standard input's first line)")
    return password


@contextmanager
def _registry(config: Config, as_json: bool = False) -> Iterator[Registry]:
    """The registry to work on; every failure ends as one line and exit status 2."""
    from hareg.registry.build import build_registry
    from hareg.registry.errors import RegistryError

    config = prepared(config, require_schema=True)
    reg = build_registry(config)
    try:
        yield reg
    except RegistryError as exc:
        if as_json:
            print_json({"errors": [{"code": exc.code, "message": exc.message,
                                    **({"detail": exc.detail} if exc.detail else {})}]})
        fail(exc.message)
    except Exception as exc:  # noqa: BLE001 - database or storage down: one line
        if as_json:
            print_json({"errors": [{"code": "UNKNOWN", "message": one_line(exc)}]})
        fail(f"namespace change failed: {one_line(exc)}")
    finally:
        reg.db.close()


def _remote_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--username", help="User name for the upstream (Basic or token flow)."),
        click.option("--password-stdin", is_flag=True,
                     help="Read the upstream password or token from standard input's first"
                          " line."),
        click.option("--tag-ttl", help="How long a cached tag is trusted before hareg asks"
                                       " the upstream again (default 5m)."),
        click.option("--timeout", help="Longest wait on the upstream for one step"
                                       " (default 20s)."),
        click.option("--allow", multiple=True, help="Upstream paths allowed (glob, repeat);"
                                                    " none: all."),
        click.option("--deny", multiple=True, help="Upstream paths refused (glob, repeat)."),
    ]):
        func = option(func)
    return func


@click.group()
def namespace() -> None:
    """Define remote and virtual namespaces (docs/virtual-remote.rst).

    A namespace is the first component of a repository name; it is local unless defined
    here. Changes reach every instance within a few seconds.
    """


@namespace.command("list")
@json_option
@config_options
def list_(config: Config, as_json: bool) -> None:
    """List the defined namespaces (passwords are never shown)."""
    from hareg.registry.namespace_store import list_definitions, public_dict
    from hareg.registry.namespaces import Remote

    with _registry(config, as_json) as reg:
        found = list_definitions(reg)
    if as_json:
        print_json({"namespaces": [public_dict(d) for d in found]})
        return
    for d in found:
        if isinstance(d, Remote):
            detail = d.url
        else:
            detail = "members " + ", ".join(d.members) + (f"; deploy {d.deploy}"
                                                         if d.deploy else "")
        click.echo(f"{d.name}\t{d.kind}\t{detail}")


@namespace.command()
@click.argument("name")
@json_option
@config_options
def show(config: Config, name: str, as_json: bool) -> None:
    """Show one definition (a remote's password as "set" or "not set")."""
    from hareg.registry.namespace_store import get, list_definitions, public_dict
    from hareg.registry.namespace_toml import format_duration
    from hareg.registry.namespaces import Remote

    with _registry(config, as_json) as reg:
        definition = get(reg, name)
        everything = list_definitions(reg)
    if as_json:
        print_json(public_dict(definition))
        return
    click.echo(f"name: {definition.name}\nkind: {definition.kind}")
    if isinstance(definition, Remote):
        click.echo(f"url: {definition.url}\nusername: {definition.username}\n"
                   f"password: {'set' if definition.password else 'not set'}\n"
                   f"tag_ttl: {format_duration(definition.tag_ttl)}\n"
                   f"timeout: {format_duration(definition.timeout)}\n"
                   f"allow: {', '.join(definition.allow)}\ndeny: {', '.join(definition.deny)}")
        return
    order = [m.namespace + (" (remote)" if m.remote else "")
             for m in everything.members(definition)]
    click.echo(f"members: {', '.join(definition.members)}\n"
               f"deploy: {definition.deploy or ''}\n"
               f"resolution order: {', '.join(order)}")


@namespace.command("add-remote")
@click.argument("name")
@click.option("--url", required=True, help="The upstream registry: https://HOST[:PORT].")
@_remote_options
@config_options
def add_remote(config: Config, name: str, url: str, username: str | None,
               password_stdin: bool, tag_ttl: str | None, timeout: str | None,
               allow: tuple[str, ...], deny: tuple[str, ...]) -> None:
    """Define NAME as a pull-through cache of the registry at URL."""
    from hareg.registry.namespace_store import add
    from hareg.registry.namespaces import (
        DEFAULT_TAG_TTL,
        DEFAULT_UPSTREAM_TIMEOUT,
        Remote,
    )

    password = _password(password_stdin)
    remote = Remote(name=name, url=url, username=username or "", password=password or "",
                    tag_ttl=_or(_duration(tag_ttl), DEFAULT_TAG_TTL),
                    timeout=_or(_duration(timeout), DEFAULT_UPSTREAM_TIMEOUT),
                    allow=allow, deny=deny)
    with _registry(config) as reg:
        add(reg, remote)
    click.echo(f"added remote namespace {name} ({url})", err=True)


@namespace.command("add-virtual")
@click.argument("name")
@click.option("--member", "members", multiple=True, required=True,
              help="A member namespace, in resolution order (repeat).")
@click.option("--deploy", help="The local member that pushes through NAME land in.")
@config_options
def add_virtual(config: Config, name: str, members: tuple[str, ...],
                deploy: str | None) -> None:
    """Define NAME as one name over the member namespaces, in order."""
    from hareg.registry.namespace_store import add
    from hareg.registry.namespaces import Virtual

    with _registry(config) as reg:
        add(reg, Virtual(name, members, deploy or None))
    click.echo(f"added virtual namespace {name} ({', '.join(members)})", err=True)


@namespace.command()
@click.argument("name")
@click.option("--url", help="(remote) The upstream registry.")
@_remote_options
@click.option("--member", "members", multiple=True,
              help="(virtual) The members, in order (repeat; replaces the list).")
@click.option("--deploy", help="(virtual) The deploy member; \"\" removes it.")
@config_options
def update(config: Config, name: str, url: str | None, username: str | None,
           password_stdin: bool, tag_ttl: str | None, timeout: str | None,
           allow: tuple[str, ...], deny: tuple[str, ...], members: tuple[str, ...],
           deploy: str | None) -> None:
    """Change the given fields of NAME; the others stay (a list option replaces the list)."""
    from hareg.registry.namespace_store import update as do_update

    changes: dict[str, Any] = {
        "url": url, "username": username, "tag_ttl": _duration(tag_ttl),
        "timeout": _duration(timeout), "allow": allow or None, "deny": deny or None,
        "members": members or None,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if deploy is not None:
        changes["deploy"] = deploy or None
    password = _password(password_stdin)
    if not changes and password is None:
        fail("nothing to change: give at least one option (see --help)")
    with _registry(config) as reg:
        outcome = do_update(reg, name, changes, password)
    click.echo(f"{'updated' if outcome.replaced else 'unchanged:'} namespace {name}", err=True)


@namespace.command()
@click.argument("name")
@config_options
def remove(config: Config, name: str) -> None:
    """Remove the definition of NAME (it becomes local again; cached content stays)."""
    from hareg.registry.namespace_store import remove as do_remove

    with _registry(config) as reg:
        do_remove(reg, name)
    click.echo(f"removed namespace {name}", err=True)


@namespace.command("apply")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--prune", is_flag=True, help="Also remove the definitions not in FILE.")
@json_option
@config_options
def apply_(config: Config, file: Any, prune: bool, as_json: bool) -> None:
    """Make the definitions those of FILE (TOML; "-": standard input).

    Adds and replaces; removes definitions absent from FILE only with --prune. The whole
    resulting set is validated before anything changes. A remote without a password key
    keeps its stored password.
    """
    from hareg.registry.namespace_store import apply
    from hareg.registry.namespace_toml import parse

    text = file.read()
    with _registry(config, as_json) as reg:
        outcome = apply(reg, parse(text), prune=prune)
    if as_json:
        print_json(outcome.to_dict())
        return
    for what, names in outcome.to_dict().items():
        if names:
            click.echo(f"{what}: {', '.join(names)}")
    if not any(outcome.to_dict().values()):
        click.echo("no namespace defined")


@namespace.command()
@click.option("--with-secrets", is_flag=True, help="Include the upstream passwords.")
@config_options
def export(config: Config, with_secrets: bool) -> None:
    """Print every definition as a TOML file that apply accepts (no passwords unless
    --with-secrets)."""
    from hareg.registry.namespace_store import list_definitions
    from hareg.registry.namespace_toml import render

    with _registry(config) as reg:
        found = list_definitions(reg)
    click.echo(render(found, with_secrets), nl=False)
