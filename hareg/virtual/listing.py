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


_SPECIAL = frozenset("^$.[]()*+?{}|\\")


def literal_prefix(regex: str) -> str:
    """The text every match of an anchored ``regex`` starts with (``^team/[^/]*\\Z`` ->
    ``team/``): its leading characters up to the first that is not literal."""
    out: list[str] = []
    if not regex.startswith("^") or "|" in regex:  # unanchored, or alternatives
        return ""
    i = 1
    while i < len(regex):
        char = regex[i]
        if char == "\\" and i + 1 < len(regex) and regex[i + 1] in ".-/_":
            out.append(regex[i + 1])
            i += 2
            continue
        if char in _SPECIAL:
            break
        out.append(char)
        i += 1
    if i < len(regex) and regex[i] in "*?{" and out:
        out.pop()  # the last literal was optional or repeated
    return "".join(out)


#: Above every repository name in byte order (names are ASCII).
TOP = "\U0010ffff"


def _upper(prefix: str) -> str:
    """The least string above every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else TOP


def _minimal(prefixes: set[str]) -> list[str]:
    """The prefixes that do not extend another one (their ranges hold the others')."""
    return sorted(p for p in prefixes if not any(q != p and p.startswith(q) for q in prefixes))


def _within(prefixes: set[str], prefix: str) -> set[str]:
    """The parts of the ranges of ``prefixes`` inside the range of ``prefix``."""
    return {p if p.startswith(prefix) else prefix
            for p in prefixes if p.startswith(prefix) or prefix.startswith(p)}


def _both(first: set[str], second: set[str]) -> set[str]:
    """The intersection of two unions of prefix ranges."""
    return {a if a.startswith(b) else b
            for a in first for b in second if a.startswith(b) or b.startswith(a)}


def catalog_ranges(namespaces: Namespaces, visible: RepositoryFilter,
                   after: str) -> list[rows.NameRange]:
    """The name ranges one catalog page scans: the repositories the caller may pull (one
    range per literal prefix of its patterns: a caller who sees ``team/**`` costs a scan of
    ``team/``, not of everything before it), and for each member of each virtual namespace
    the member's repositories whose virtual names sort after ``after`` and that the caller
    may pull under both names."""
    regexes = visible.regexes
    patterns = {""} if regexes is None else {literal_prefix(r) for r in regexes}
    ranges = [rows.NameRange(after, p, _upper(p)) for p in _minimal(patterns)
              if after < _upper(p)]
    for definition in namespaces:
        if not isinstance(definition, Virtual):
            continue
        vprefix = definition.name + "/"
        if after.startswith(vprefix):
            rest: str | None = after[len(vprefix):]
        elif after < vprefix:
            rest = None  # every name of the virtual namespace sorts after ``after``
        else:
            continue
        as_virtual = _within(patterns, vprefix)
        for member in namespaces.members(definition):
            mprefix = member.namespace + "/"
            renamed = {mprefix + p[len(vprefix):] for p in as_virtual}
            member_after = "" if rest is None else mprefix + rest
            ranges.extend(rows.NameRange(member_after, p, _upper(p), definition.name,
                                         member.namespace)
                          for p in _minimal(_both(_within(patterns, mprefix), renamed))
                          if member_after < _upper(p))
    return ranges


def list_repositories(reg: Registry, namespaces: Namespaces, n: int | None,
                      last: str | None, *, visible: RepositoryFilter) -> Page:
    """A catalog page: the repositories the caller may pull, and ``virtual/<path>`` for every
    member repository ``member/<path>`` the caller may pull through a name it may pull."""
    if n == 0 or visible.regexes == ():
        return Page([], more=False)
    limit = _limit(n)
    with reg.db.read() as cur:
        names = rows.catalog(cur, catalog_ranges(namespaces, visible, last or ""),
                             visible.regexes, limit + 1)
    return Page(names[:limit], more=len(names) > limit)
