# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Writes through a virtual name: pushes land in the deploy member, deletes are refused.

``docker/<path>`` pushes into ``<deploy>/<path>``: uploads, mounts and manifests are the
deploy repository's, exactly as if the client had pushed there (the caller also needs push
permission on it: the HTTP layer checks it before calling in). The answers keep the virtual
name in their ``Location`` headers, the name the client asked for and holds credentials for.
"""

from __future__ import annotations

from ..db import virtual as rows
from ..registry import blobs
from ..registry.context import Registry
from ..registry.errors import Unsupported
from ..registry.formats import parse_manifest
from ..registry.namespaces import Kind, Namespaces, Route, Virtual
from ..registry.visibility import NOTHING, RepositoryFilter
from .members import Through, exactly, through


def deploy_repository(route: Route) -> str:
    """Where a push through ``route`` (a virtual name) lands: ``<deploy>/<path>``.
    405 UNSUPPORTED when the virtual namespace has no deploy member."""
    virtual = route.definition
    assert isinstance(virtual, Virtual)
    if virtual.deploy is None:
        raise Unsupported(
            f"virtual namespace {virtual.name!r} has no deploy member: it cannot be pushed"
            " to; push to one of its member namespaces, or give it a deploy member",
            detail={"namespace": virtual.name})
    return f"{virtual.deploy}/{route.path}"


def refuse_delete(route: Route) -> Unsupported:
    """The 405 for a DELETE through a virtual name (it would be ambiguous: which member?)."""
    namespace = route.definition.name if route.definition else route.name
    return Unsupported(
        f"{route.name!r} is a name in the virtual namespace {namespace!r}: delete in the"
        " member namespace that holds the content", detail={"namespace": namespace})


def link_from_members(reg: Registry, via: Through, deploy: str, payload: bytes,
                      content_type: str) -> int:
    """Before a manifest PUT through a virtual name: link into ``deploy`` the blobs the
    manifest needs that a member the caller may pull has but ``deploy`` lacks (no bytes
    move; a mount). A client that asked ``HEAD /v2/docker/<path>/blobs/<digest>`` got 200 from
    such a member and skipped the upload; without this the PUT would fail with
    MANIFEST_BLOB_UNKNOWN. Returns the number of blobs linked.

    The manifest is parsed (and refused if invalid) before anything is written; the blobs it
    names are linked only from repositories the caller may pull.
    """
    parsed = parse_manifest(payload, content_type)
    wanted = [*parsed.required_blobs, *parsed.optional_blobs]
    sources = [r for r in via.repositories if r != deploy]
    if not wanted or not sources:
        return 0
    with reg.db.read() as cur:
        missing = rows.unlinked(cur, deploy, wanted)
    allowed = exactly(sources)
    return sum(blobs.mount_blob(reg, deploy, digest, None, visible=allowed)
               for digest in missing)


def mount_source(namespaces: Namespaces, source: str | None,
                 visible: RepositoryFilter) -> tuple[str | None, RepositoryFilter]:
    """The ``from`` of a cross-repository mount and the repositories it may come from.

    A virtual name is not a repository: mounting "from ``docker/<path>``" takes the blob from
    any member repository the caller may pull (``source`` None, restricted to those). Any
    other ``from`` (or none) is what :func:`hareg.registry.blobs.mount_blob` takes anyway.
    """
    if source is None:
        return None, visible
    route = namespaces.route(source)
    if route.kind != Kind.VIRTUAL:
        return source, visible
    if not visible.allows(source):  # the caller may not pull through that name at all
        return None, NOTHING
    return None, exactly(through(namespaces, route, visible).repositories)
