# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What the pull-through cache of a remote namespace keeps besides ordinary rows
(migration 0006): when a cached tag was last confirmed upstream (``tags.upstream_checked_at``),
the day a cached manifest was last pulled (``manifests.pulled_on``) and the claims of blob
fetches in progress (``remote_fetches``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from psycopg2.extensions import cursor
from psycopg2.extras import Json


class CachedTag(NamedTuple):
    digest: str
    media_type: str
    size: int
    payload: bytes | None  # None when not asked for
    fresh: bool  # upstream_checked_at + ttl > now() (the database's clock)
    checked: bool  # upstream_checked_at is set at all


def fresh_condition(tags: str = "t") -> str:
    """SQL: the cached tag row ``tags`` was confirmed upstream less than ``%s`` (one
    parameter: the remote's ``tag_ttl`` in seconds) ago, by the database's clock; false for a
    local tag (``upstream_checked_at`` NULL). For queries that resolve cached tags with other
    rows (virtual namespaces) and :func:`cached_tag`."""
    return (f"coalesce({tags}.upstream_checked_at + %s * interval '1 second' > now(),"
            " false)")


def cached_tag(cur: cursor, repository: str, tag: str, ttl: float,
               with_payload: bool) -> CachedTag | None:
    """The manifest ``repository:tag`` names and whether the upstream confirmed it less than
    ``ttl`` seconds ago."""
    payload_col = "m.payload" if with_payload else "NULL"
    cur.execute(
        f"SELECT m.digest, m.media_type, octet_length(m.payload), {payload_col},"
        f" {fresh_condition('t')}, t.upstream_checked_at IS NOT NULL"
        " FROM tags t JOIN repositories r ON r.id = t.repository_id"
        " JOIN manifests m ON m.id = t.manifest_id"
        " WHERE r.name = %s AND t.name = %s",
        (ttl, repository, tag),
    )
    row = cur.fetchone()
    if row is None:
        return None
    return CachedTag(row[0], row[1], row[2], bytes(row[3]) if row[3] is not None else None,
                     row[4], row[5])


def confirm_tag(cur: cursor, repository: str, tag: str, digest: str) -> bool:
    """The upstream still says ``tag`` is ``digest``: restart the tag's TTL; False when the
    cached tag names another manifest by now (nothing changed)."""
    cur.execute(
        "UPDATE tags t SET upstream_checked_at = now() FROM repositories r, manifests m"
        " WHERE t.repository_id = r.id AND r.name = %s AND t.name = %s"
        " AND m.id = t.manifest_id AND m.digest = %s",
        (repository, tag, digest),
    )
    return cur.rowcount != 0


def mark_checked(cur: cursor, repo_id: int, tag: str) -> None:
    """The tag was just written from the upstream's answer (same transaction)."""
    cur.execute("UPDATE tags SET upstream_checked_at = now()"
                " WHERE repository_id = %s AND name = %s", (repo_id, tag))


#: Today as ``pulled_on`` records it: the UTC day by the database's clock, whatever the
#: session's TimeZone (retention reads the column as a UTC day: hareg.gc.policy).
TODAY_UTC = "(now() AT TIME ZONE 'UTC')::date"


def record_pulled(cur: cursor, repository: str, digest: str) -> None:
    """``pulled_on`` = today for the repository's manifest ``digest`` (no write when it is
    already today's)."""
    cur.execute(
        f"UPDATE manifests m SET pulled_on = {TODAY_UTC} FROM repositories r"
        " WHERE m.repository_id = r.id AND r.name = %s AND m.digest = %s"
        f" AND m.pulled_on IS DISTINCT FROM {TODAY_UTC}",
        (repository, digest),
    )


def last_pulled(manifest: str = "m") -> str:
    """SQL: the day the manifest row ``manifest`` or one of its children was last pulled
    (NULL: never). Retention's "not pulled for" reads this (planning, the sweep's re-check
    and the web interface alike): a client that pulls an index by tag, or only one of its
    platform manifests by digest, uses the tag's content either way."""
    return (f"GREATEST({manifest}.pulled_on, (SELECT max(c.pulled_on)"
            " FROM manifest_children mc JOIN manifests c ON c.id = mc.child_id"
            f" WHERE mc.parent_id = {manifest}.id))")


def manifests_mentioning(cur: cursor, repo_id: int, digest: str) -> list[tuple[int, str, bytes]]:
    """(id, media type, payload) of the repository's manifests whose payload contains the
    text ``digest`` and that do not reference it yet: the candidates to reference a blob
    cached after them (a cached manifest is stored before its blobs)."""
    cur.execute(
        "SELECT m.id, m.media_type, m.payload FROM manifests m"
        " WHERE m.repository_id = %s AND position(convert_to(%s, 'UTF8') in m.payload) > 0"
        " AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb"
        "   WHERE mb.manifest_id = m.id AND mb.digest = %s)",
        (repo_id, digest, digest),
    )
    return [(r[0], r[1], bytes(r[2])) for r in cur.fetchall()]


def add_blob_reference(cur: cursor, manifest_ids: Sequence[int], digest: str) -> None:
    """``manifest_blobs`` rows for a blob that was cached after the manifests."""
    if manifest_ids:
        cur.execute(
            "INSERT INTO manifest_blobs (manifest_id, digest)"
            " SELECT unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING",
            (list(manifest_ids), digest),
        )


# --- Blob fetches in progress: one per digest, cluster-wide ---


class Fetch(NamedTuple):
    claimed_by: str
    live: bool  # claimed_until > now()
    size: int | None
    failure: dict[str, Any] | None  # {"status", "code", "message"} of a failed fetch


def claim_fetch(cur: cursor, digest: str, repository: str, claim: str, lease: float) -> bool:
    """Claim the fetch of ``digest`` for ``lease`` seconds, unless a live claim holds it (one
    statement: an expired claim is taken over). True when the claim is ours."""
    cur.execute(
        "INSERT INTO remote_fetches (digest, repository, claimed_by, claimed_until)"
        " VALUES (%s, %s, %s, now() + %s * interval '1 second')"
        " ON CONFLICT (digest) DO UPDATE SET repository = EXCLUDED.repository,"
        " claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until,"
        " size = NULL, failure = NULL, created_at = now()"
        " WHERE remote_fetches.claimed_until < now()"
        " RETURNING 1",
        (digest, repository, claim, lease),
    )
    return cur.fetchone() is not None


def renew_fetch(cur: cursor, digest: str, claim: str, lease: float,
                size: int | None = None) -> bool:
    """Extend our claim (and record the blob's size once known); False if it was taken over."""
    cur.execute(
        "UPDATE remote_fetches SET claimed_until = now() + %s * interval '1 second',"
        " size = coalesce(%s, size) WHERE digest = %s AND claimed_by = %s RETURNING 1",
        (lease, size, digest, claim),
    )
    return cur.fetchone() is not None


def release_fetch(cur: cursor, digest: str, claim: str) -> None:
    cur.execute("DELETE FROM remote_fetches WHERE digest = %s AND claimed_by = %s",
                (digest, claim))


def fail_fetch(cur: cursor, digest: str, claim: str, failure: dict[str, Any],
               remember: float) -> None:
    """Our fetch failed: keep its error for ``remember`` seconds (the claim stays live that
    long, so nobody fetches meanwhile; then it is taken over as an expired one)."""
    cur.execute(
        "UPDATE remote_fetches SET failure = %s,"
        " claimed_until = now() + %s * interval '1 second'"
        " WHERE digest = %s AND claimed_by = %s",
        (Json(failure), remember, digest, claim),
    )


def current_fetch(cur: cursor, digest: str) -> Fetch | None:
    cur.execute("SELECT claimed_by, claimed_until > now(), size, failure FROM remote_fetches"
                " WHERE digest = %s", (digest,))
    row = cur.fetchone()
    return Fetch(str(row[0]), row[1], row[2], row[3]) if row else None
