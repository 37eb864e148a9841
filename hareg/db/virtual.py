# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Reading across the member repositories of a virtual namespace, one statement each.

A virtual name ``docker/<path>`` resolves over an ordered list of member repositories
(``dev/<path>``, ``release/<path>``, the cache ``hub/<path>`` of a remote member...). Every
function here takes that list, in resolution order, and answers in ONE statement, not one
round trip per member: "the first member that has it" is an ``ORDER BY`` on the member's
position in the list unnested ``WITH ORDINALITY``, or for the hottest lookup (a tag) a pick
among the few rows of the members that have it. Listings take at most ``limit`` rows
from each member by an index range scan (``tags_name_bytewise``,
``repositories_name_bytewise``: migration 0003), then merge: a page costs members x page
size, whatever the number of tags or repositories.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from psycopg2.extensions import cursor

from .manifests import ManifestRow, Referrer


class Found(NamedTuple):
    """A manifest and the position (0-based, in the list passed) of the repository that has
    it: the caller knows which member answered (a remote member's cache records the pull)."""

    position: int
    manifest: ManifestRow


def _row(row: tuple | None) -> Found | None:
    if row is None:
        return None
    return Found(row[4] - 1, ManifestRow(row[0], row[1], row[2],
                                         bytes(row[3]) if row[3] is not None else None))


def manifest_by_tag(cur: cursor, repositories: Sequence[str], ttls: Sequence[float | None],
                    tag: str, with_payload: bool) -> Found | None:
    """The manifest ``tag`` names in the first of ``repositories`` that has it.

    ``ttls`` (parallel): None for a local member's repository, the tag TTL in seconds for a
    remote member's cache, whose tag counts only while upstream confirmed it less than that
    long ago (``tags.upstream_checked_at``, migration 0006). A stale cached tag does not count
    here: the remote member is then asked (hareg.remote), which revalidates it upstream or
    serves it stale when the upstream is down.

    The statement is the single-repository lookup with ``= ANY``: every member that has the
    tag answers (a handful of rows) and the first in order is picked here. Ordering in SQL
    (``unnest ... WITH ORDINALITY ... ORDER BY pos LIMIT 1``) cost PostgreSQL 0.47 ms of CPU a
    lookup, mostly planning, against 0.30 ms for this form and 0.21 ms for one repository.
    """
    payload_col = "m.payload" if with_payload else "NULL"
    cur.execute(
        f"SELECT r.name, m.digest, m.media_type, octet_length(m.payload), {payload_col},"
        " extract(epoch FROM now() - t.upstream_checked_at)::float8"
        " FROM repositories r JOIN tags t ON t.repository_id = r.id AND t.name = %s"
        " JOIN manifests m ON m.id = t.manifest_id"
        " WHERE r.name = ANY(%s)",
        (tag, list(repositories)),
    )
    found = {row[0]: row for row in cur.fetchall()}
    for position, (repository, ttl) in enumerate(zip(repositories, ttls, strict=True)):
        row = found.get(repository)
        if row is None:
            continue
        age = row[5]
        if ttl is None or (age is not None and age < ttl):
            return _row((*row[1:5], position + 1))
    return None


def manifest_by_digest(cur: cursor, repositories: Sequence[str], digest: str,
                       with_payload: bool) -> Found | None:
    """The manifest ``digest`` of the first of ``repositories`` that has it (a cached
    manifest counts forever: its digest names its bytes)."""
    payload_col = "m.payload" if with_payload else "NULL"
    cur.execute(
        f"SELECT m.digest, m.media_type, octet_length(m.payload), {payload_col}, w.pos"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS w(name, pos)"
        " JOIN repositories r ON r.name = w.name"
        " JOIN manifests m ON m.repository_id = r.id AND m.digest = %s"
        " ORDER BY w.pos LIMIT 1",
        (list(repositories), digest),
    )
    return _row(cur.fetchone())


def linked_blob_size(cur: cursor, repositories: Sequence[str], digest: str) -> int | None:
    """Size of blob ``digest`` when one of ``repositories`` links it (a layer or config link,
    or a manifest's payload); None when none does."""
    cur.execute(
        "SELECT b.size FROM repositories r"
        " JOIN repository_blobs rb ON rb.repository_id = r.id AND rb.digest = %s"
        " JOIN blobs b ON b.digest = rb.digest"
        " WHERE r.name = ANY(%s)"
        " UNION ALL"
        " SELECT octet_length(m.payload) FROM repositories r"
        " JOIN manifests m ON m.repository_id = r.id AND m.digest = %s"
        " WHERE r.name = ANY(%s)"
        " LIMIT 1",
        (digest, list(repositories), digest, list(repositories)),
    )
    row = cur.fetchone()
    return row[0] if row else None


def list_tags(cur: cursor, repositories: Sequence[str], after: str, limit: int) -> list[str]:
    """The union of the tag names of ``repositories``, deduplicated, in byte order after
    ``after``, at most ``limit``: each repository contributes at most ``limit`` names by an
    index range scan, then they are merged."""
    cur.execute(
        'SELECT DISTINCT t.name COLLATE "C" AS name FROM repositories r'
        " CROSS JOIN LATERAL (SELECT name FROM tags WHERE repository_id = r.id"
        '   AND name COLLATE "C" > %s ORDER BY name COLLATE "C" LIMIT %s) t'
        ' WHERE r.name = ANY(%s) ORDER BY 1 LIMIT %s',
        (after, limit, list(repositories), limit),
    )
    return [r[0] for r in cur.fetchall()]


def any_repository_exists(cur: cursor, repositories: Sequence[str]) -> bool:
    cur.execute("SELECT 1 FROM repositories WHERE name = ANY(%s) LIMIT 1",
                (list(repositories),))
    return cur.fetchone() is not None


def referrers(cur: cursor, repositories: Sequence[str], subject: str,
              artifact_type: str | None) -> list[Referrer]:
    """The manifests of ``repositories`` whose subject is ``subject`` (optionally of one
    artifact type), each digest once (as the first repository in the list has it), oldest
    first."""
    sql = ("SELECT DISTINCT ON (m.digest) m.media_type, octet_length(m.payload) AS size,"
           " m.digest, m.artifact_type, m.annotations, m.created_at"
           " FROM unnest(%s::text[]) WITH ORDINALITY AS w(name, pos)"
           " JOIN repositories r ON r.name = w.name"
           " JOIN manifests m ON m.repository_id = r.id AND m.subject = %s")
    args: list[Any] = [list(repositories), subject]
    if artifact_type:
        sql += " AND m.artifact_type = %s"
        args.append(artifact_type)
    sql += " ORDER BY m.digest, w.pos"
    cur.execute("SELECT media_type, size, digest, artifact_type, annotations"
                f" FROM ({sql}) x ORDER BY created_at, digest", args)
    return [Referrer(*row) for row in cur.fetchall()]


#: A repository holds a manifest or a blob link: the test of hareg.db.repositories, for the
#: same reasons (issue 11). An EXISTS, even with OFFSET 0 (never hashed), was still planned as
#: a sequential scan of manifests per repository when a few repositories hold most manifests:
#: 144 ms a page at 2,000 repositories and 3,000 manifests. A scalar subquery ordered like the
#: primary key is an index probe.
_NONEMPTY = ("((SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id"
             "   ORDER BY b.digest LIMIT 1) IS NOT NULL"
             " OR (SELECT 1 FROM manifests m WHERE m.repository_id = r.id"
             "   ORDER BY m.digest LIMIT 1) IS NOT NULL)")


class NameRange(NamedTuple):
    """Repository names ``after`` < name, ``lower`` <= name < ``upper`` (byte order); listed as
    they are, or, with ``virtual`` and ``member``, as ``virtual + name[len(member):]``."""

    after: str
    lower: str
    upper: str
    virtual: str | None = None
    member: str | None = None


def catalog(cur: cursor, ranges: Sequence[NameRange], matching: Sequence[str] | None,
            limit: int) -> list[str]:
    """One catalog page: the non-empty repositories of every range, merged, deduplicated,
    byte order, at most ``limit``; each range is an index range scan of at most ``limit``
    rows (``repositories_name_bytewise``).

    With ``matching`` (anchored regexes), a repository counts only when its name matches,
    and one listed under a virtual name only when that name matches too.
    """
    if not ranges:
        return []
    only = "" if matching is None else " AND r.name ~ ANY(%(matching)s)"
    listed = ("" if matching is None else
              " AND (s.virtual IS NULL OR (s.virtual || substr(r.name, length(s.member) + 1))"
              " ~ ANY(%(matching)s))")
    values: dict[str, Any] = {"limit": limit, "matching": list(matching or ())}
    rows = []
    for i, part in enumerate(ranges):
        values.update({f"a{i}": part.after, f"l{i}": part.lower, f"u{i}": part.upper,
                       f"v{i}": part.virtual, f"m{i}": part.member})
        rows.append(f"(%(a{i})s, %(l{i})s, %(u{i})s, %(v{i})s::text, %(m{i})s::text)")
    cur.execute(
        'SELECT DISTINCT name FROM (SELECT (CASE WHEN s.virtual IS NULL THEN x.name'
        '   ELSE s.virtual || substr(x.name, length(s.member) + 1) END) COLLATE "C" AS name'
        f" FROM (VALUES {', '.join(rows)}) AS s(after, lower, upper, virtual, member)"
        " CROSS JOIN LATERAL (SELECT r.name FROM repositories r"
        '   WHERE r.name COLLATE "C" > s.after AND r.name COLLATE "C" >= s.lower'
        '   AND r.name COLLATE "C" < s.upper' + only + listed + " AND " + _NONEMPTY
        + '   ORDER BY r.name COLLATE "C" LIMIT %(limit)s) x) u'
        " ORDER BY name LIMIT %(limit)s",
        values)
    return [r[0] for r in cur.fetchall()]


def unlinked(cur: cursor, repository: str, digests: Sequence[str]) -> list[str]:
    """Those of ``digests`` that ``repository`` (by name) does not link, in the given order."""
    cur.execute(
        "SELECT d FROM unnest(%s::text[]) WITH ORDINALITY AS w(d, pos)"
        " WHERE NOT EXISTS (SELECT 1 FROM repository_blobs rb"
        "   JOIN repositories r ON r.id = rb.repository_id"
        "   WHERE r.name = %s AND rb.digest = w.d) ORDER BY pos",
        (list(digests), repository),
    )
    return [r[0] for r in cur.fetchall()]
