# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Content discovery answered from indexed tables: tags, catalog and referrers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..db import manifests as manifest_rows
from ..db import repositories
from ..db import tags as tag_rows
from .context import Registry
from .errors import NameUnknown, PaginationInvalid
from .names import parse_digest
from .visibility import RepositoryFilter

MAX_PAGE = 10_000  # answers stay bounded even when a client asks for everything
#: ``last`` is a tag or a repository name, ``artifactType`` a media type: none is longer, and
#: none holds a control character (PostgreSQL refuses NUL in any text parameter).
MAX_MARKER_LENGTH = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Page:
    items: list[str]
    more: bool  # a next page exists: the caller adds the Link header


def parse_page_size(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except ValueError:
        raise PaginationInvalid(detail={"n": value[:50]}) from None
    if n < 0:
        raise PaginationInvalid(detail={"n": n})
    return n


def _text_parameter(parameter: str, value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_MARKER_LENGTH or _CONTROL.search(value):
        raise PaginationInvalid(
            f"invalid {parameter}: at most {MAX_MARKER_LENGTH} characters, no control"
            " characters", detail={parameter: value[:MAX_MARKER_LENGTH]})
    return value


def parse_last(value: str | None) -> str | None:
    """The ``last`` query parameter of a paginated listing; raises PaginationInvalid."""
    return _text_parameter("last", value)


def parse_artifact_type(value: str | None) -> str | None:
    """The ``artifactType`` filter of the referrers API; raises PaginationInvalid."""
    return _text_parameter("artifactType", value)


def _page(names: list[str], n: int | None) -> Page:
    limit = MAX_PAGE if n is None else min(n, MAX_PAGE)
    return Page(names[:limit], more=len(names) > limit)


def list_tags(reg: Registry, repository: str, n: int | None, last: str | None) -> Page:
    limit = MAX_PAGE if n is None else min(n, MAX_PAGE)
    with reg.db.read() as cur:
        names: list[str] = []
        if n != 0:
            names = tag_rows.list_tags(cur, repository, last or "", limit + 1)
        # An empty page: tell an empty repository from an unknown one.
        if not names and not repositories.repository_exists(cur, repository):
            raise NameUnknown(detail={"name": repository})
        return _page(names, n)


def list_repositories(reg: Registry, n: int | None, last: str | None, *,
                      visible: RepositoryFilter) -> Page:
    """A catalog page: only the repositories in ``visible`` (those the caller may pull)."""
    if n == 0 or visible.regexes == ():
        return Page([], more=False)
    limit = MAX_PAGE if n is None else min(n, MAX_PAGE)
    with reg.db.read() as cur:
        names = repositories.list_nonempty(cur, last or "", visible.regexes, limit + 1)
    return _page(names, n)


def list_referrers(reg: Registry, repository: str, digest: str,
                   artifact_type: str | None) -> list[dict[str, Any]]:
    """Descriptors of the manifests whose subject is ``digest`` (the subject need not exist)."""
    digest = str(parse_digest(digest))
    with reg.db.read() as cur:
        rows = manifest_rows.referrers(cur, repository, digest, artifact_type)
    out = []
    for ref in rows:
        desc: dict[str, Any] = {"mediaType": ref.media_type, "size": ref.size,
                                "digest": ref.digest}
        if ref.artifact_type:  # an index without artifactType has none to report
            desc["artifactType"] = ref.artifact_type
        if ref.annotations:
            desc["annotations"] = ref.annotations
        out.append(desc)
    return out
