# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg token: print a signed registry token, for automation."""

from __future__ import annotations

import click

from hareg.config import Config

from .options import config_options, fail


@click.command()
@click.option("--user", "user_name", required=True, help="The token's subject.")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help="e.g. repository:team/app:pull,push or registry:catalog:* (repeatable).")
@click.option("--lifetime", type=click.IntRange(min=1, max=366 * 86400),
              help="Seconds of validity (default: [auth] token_lifetime).")
@config_options
def token(config: Config, user_name: str, scopes: tuple[str, ...],
          lifetime: int | None) -> None:
    """Print a token signed with [auth] signing_key.

    It grants the requested scopes as far as the permission rules allow USER (what is not
    granted is reported on stderr); the user need not be in the htpasswd file.
    """
    from hareg.auth.scopes import ScopeError, parse_scopes
    from hareg.auth.service import AuthService, AuthSetupError

    if config.auth.mode != "token" or not config.auth.signing_key:
        fail('config error: auth.mode: hareg token needs mode = "token" and a signing_key')
    try:
        requested = parse_scopes(scopes)
    except ScopeError as exc:
        fail(str(exc))
    try:
        service = AuthService(config.auth)
    except AuthSetupError as exc:
        fail(str(exc))
    assert service.issuer is not None
    granted = service.grant(user_name, requested)
    got = {(s.type, s.name): set(s.actions) for s in granted}
    for scope in requested:
        missing = [a for a in scope.actions if a != "*" and a not in got.get(
            (scope.type, scope.name), set())]
        if missing:
            click.echo(f"hareg: warning: {user_name} is not granted {','.join(missing)} on"
                       f" {scope.type}:{scope.name}", err=True)
    click.echo(service.issuer.issue(user_name, granted, lifetime).token)
