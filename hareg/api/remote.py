# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Flask glue of remote namespaces: which remote a request's name goes to (its namespace, or
containerd's mirror parameter ``?ns=HOST``), and the 405 for writes into a remote."""

from __future__ import annotations

from flask import request

from ..auth.web import require_access
from ..registry.errors import Unsupported
from ..registry.namespaces import Kind, Remote
from ..remote.paths import remote_for_host
from .http import registry


def remote_target(name: str) -> tuple[Remote, str] | None:
    """(remote, path) when ``name`` is pulled through a remote namespace: ``hub/<path>``, or
    ``<path>?ns=HOST`` (containerd used as a mirror) when a remote's upstream is HOST (then the
    caller also needs pull permission on the cache repository ``hub/<path>``)."""
    route = registry().namespaces.current().route(name)
    if isinstance(route.definition, Remote):
        return route.definition, route.path
    host = request.args.get("ns")
    if host and route.kind == Kind.LOCAL:
        remote = remote_for_host(registry().namespaces.current(), host)
        if remote is not None:
            require_access(f"{remote.name}/{name}", "pull")
            return remote, name
    return None


def cache_name(name: str) -> str:
    """The repository a listing reads for ``name`` (the cache repository in mirror mode)."""
    target = remote_target(name)
    return f"{target[0].name}/{target[1]}" if target else name


def refuse_writes(name: str) -> None:
    """405 UNSUPPORTED for a push or delete into a remote namespace."""
    route = registry().namespaces.current().route(name)
    if isinstance(route.definition, Remote):
        raise Unsupported(
            f"{route.definition.name!r} is a remote namespace (a pull-through cache of"
            f" {route.definition.url}): it takes no pushes or deletes; push to a local"
            " namespace", detail={"namespace": route.definition.name})
