# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``hareg`` command group. Each command lives in its own module and stays thin."""

from __future__ import annotations

import click

from hareg import __version__

from .check import check
from .gc import gc
from .migrate import migrate
from .namespace import namespace
from .promote import promote
from .rebuild import rebuild_db
from .serve import serve
from .tokens import token
from .user import user


@click.group()
@click.version_option(__version__, prog_name="hareg", message="%(prog)s %(version)s")
def cli() -> None:
    """hareg: a highly available OCI container registry."""


cli.add_command(serve)
cli.add_command(migrate)
cli.add_command(check)
cli.add_command(gc)
cli.add_command(promote)
cli.add_command(user)
cli.add_command(token)
cli.add_command(rebuild_db)
cli.add_command(namespace)
