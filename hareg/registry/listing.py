# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Content discovery answered from indexed tables: tags, catalog and referrers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import visibility
from .context import Registry
from .errors import NameUnknown, PaginationInvalid
from .names import parse_digest

MAX_PAGE = 10_000  # answers stay bounded even when a client asks for everything


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


def _page(rows: list[tuple], n: int | None) -> Page:
    limit = MAX_PAGE if n is None else min(n, MAX_PAGE)
    items = [r[0] for r in rows[:limit]]
    return Page(items, more=len(rows) > limit)


def list_tags(reg: Registry, repository: str, n: int | None, last: str | None) -> Page:
    limit = MAX_PAGE if n is None else min(n, MAX_PAGE)
    with reg.db.read() as cur:
        rows: list[tuple] = []
        if n != 0:
            cur.execute(
                # The scalar subquery is a constant to the planner: an index range scan.
                "SELECT name FROM tags"
                " WHERE repository_id = (SELECT id FROM repositories WHERE name = %s)"
                ' AND name COLLATE "C" > %s ORDER BY name COLLATE "C" LIMIT %s',
                (repository, last or "", limit + 1),
            )
            rows = cur.fetchall()
        if not rows:  # an empty page: tell an empty repository from an unknown one
            cur.execute("SELECT 1 FROM repositories WHERE name = %s", (repository,))
            if cur.fetchone() is None:
                raise NameUnknown(detail={"name": repository})
        return _page(rows, n)


def list_repositories(reg: Registry, n: int | None, last: str | None) -> Page:
    visible = visibility.current()  # only the repositories the caller may pull
    if n == 0 or visible.regexes == ():
        return Page([], more=False)
    limit = MAX_PAGE if n is None else min(n, MAX_PAGE)
    only, only_args = ("", []) if visible.everything else (" AND r.name ~ ANY(%s)",
                                                           [list(visible.regexes)])
    with reg.db.read() as cur:
        cur.execute(
            'SELECT r.name FROM repositories r WHERE r.name COLLATE "C" > %s' + only +
            " AND (EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)"
            "      OR EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id))"
            ' ORDER BY r.name COLLATE "C" LIMIT %s',
            (last or "", *only_args, limit + 1),
        )
        return _page(cur.fetchall(), n)


def list_referrers(reg: Registry, repository: str, digest: str,
                   artifact_type: str | None) -> list[dict[str, Any]]:
    """Descriptors of the manifests whose subject is ``digest`` (the subject need not exist)."""
    digest = str(parse_digest(digest))
    sql = ("SELECT m.media_type, octet_length(m.payload), m.digest, m.artifact_type,"
           " m.annotations FROM manifests m JOIN repositories r ON r.id = m.repository_id"
           " WHERE r.name = %s AND m.subject = %s")
    args: list[Any] = [repository, digest]
    if artifact_type:
        sql += " AND m.artifact_type = %s"
        args.append(artifact_type)
    with reg.db.read() as cur:
        cur.execute(sql + " ORDER BY m.created_at, m.digest", args)
        rows = cur.fetchall()
    out = []
    for media_type, size, ref_digest, art_type, notes in rows:
        desc: dict[str, Any] = {"mediaType": media_type, "size": size,
                                "digest": ref_digest}
        if art_type:  # an index without artifactType has none to report
            desc["artifactType"] = art_type
        if notes:
            desc["annotations"] = notes
        out.append(desc)
    return out
