# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Tags, referrers and the catalog through virtual names: unions over the members, each
page one statement (hareg/db/virtual.py).

A remote member contributes what its cache holds: a listing never waits on an upstream.
"""

from __future__ import annotations

from typing import Any

from ..db import virtual as rows
from ..registry.context import Registry
from ..registry.errors import NameUnknown
from ..registry.listing import MAX_PAGE, Page
from ..registry.names import parse_digest
from ..registry.namespaces import Namespaces, Virtual
from ..registry.visibility import RepositoryFilter
from .members import Through


def _limit(n: int | None) -> int:
    return MAX_PAGE if n is None else min(n, MAX_PAGE)


def list_tags(reg: Registry, via: Through, n: int | None, last: str | None) -> Page:
    """The union of the members' tags, byte order, each once, after ``last``. NAME_UNKNOWN
    when no member the caller may pull has the repository."""
    limit = _limit(n)
    names: list[str] = []
    if via.members:
        with reg.db.read() as cur:
            if n != 0:
                names = rows.list_tags(cur, via.repositories, last or "", limit + 1)
            exists = bool(names) or rows.any_repository_exists(cur, via.repositories)
    else:
        exists = False
    if not exists:
        raise NameUnknown(detail={"name": via.name})
    return Page(names[:limit], more=len(names) > limit)


def list_referrers(reg: Registry, via: Through, digest: str,
                   artifact_type: str | None) -> list[dict[str, Any]]:
    """Descriptors of the members' manifests whose subject is ``digest``, each digest once."""
    digest = str(parse_digest(digest))
    if not via.members:
        return []
    with reg.db.read() as cur:
        found = rows.referrers(cur, via.repositories, digest, artifact_type)
    out = []
    for ref in found:
        desc: dict[str, Any] = {"mediaType": ref.media_type, "size": ref.size,
                                "digest": ref.digest}
        if ref.artifact_type:
            desc["artifactType"] = ref.artifact_type
        if ref.annotations:
            desc["annotations"] = ref.annotations
        out.append(desc)
    return out


def catalog_sources(namespaces: Namespaces) -> list[rows.CatalogSource]:
    """(virtual, member) for every member of every virtual namespace."""
    return [rows.CatalogSource(d.name, m.namespace) for d in namespaces
            if isinstance(d, Virtual) for m in namespaces.members(d)]


def list_repositories(reg: Registry, namespaces: Namespaces, n: int | None,
                      last: str | None, *, visible: RepositoryFilter) -> Page:
    """A catalog page: the repositories the caller may pull, and ``virtual/<path>`` for every
    member repository ``member/<path>`` the caller may pull through a name it may pull."""
    if n == 0 or visible.regexes == ():
        return Page([], more=False)
    limit = _limit(n)
    with reg.db.read() as cur:
        names = rows.catalog(cur, last or "", visible.regexes, catalog_sources(namespaces),
                             limit + 1)
    return Page(names[:limit], more=len(names) > limit)
