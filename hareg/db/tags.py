# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The ``tags`` table: a tag names one manifest of its repository.

Writers hold the tag's TAG lock (``hareg.db.locks.lock_tag``) while they change a row, so the
storage links and the row move together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from psycopg2.extensions import cursor


class TaggedManifest(NamedTuple):
    manifest_id: int
    digest: str
    media_type: str


def tagged_manifest_id(cur: cursor, repo_id: int, tag: str) -> int | None:
    """The id of the manifest ``tag`` names in the repository, None when untagged."""
    cur.execute("SELECT manifest_id FROM tags WHERE repository_id = %s AND name = %s",
                (repo_id, tag))
    row = cur.fetchone()
    return row[0] if row else None


def tagged_digests(cur: cursor, repo_id: int, tags: list[str]) -> dict[str, str]:
    """tag -> digest of the manifest it names, for those of ``tags`` the repository has."""
    if not tags:
        return {}
    cur.execute(
        "SELECT t.name, m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id"
        " WHERE t.repository_id = %s AND t.name = ANY(%s)", (repo_id, list(tags)))
    return dict(cur.fetchall())


def tagged_manifest(cur: cursor, repository: str, tag: str) -> TaggedManifest | None:
    """The manifest ``repository:tag`` names (by repository name), None when untagged."""
    cur.execute(
        "SELECT m.id, m.digest, m.media_type FROM tags t"
        " JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id"
        " WHERE r.name = %s AND t.name = %s", (repository, tag))
    row = cur.fetchone()
    return TaggedManifest(row[0], row[1], row[2]) if row else None


def touch_tag(cur: cursor, repo_id: int, tag: str) -> None:
    """A re-push of the tag's manifest: only the push time changes."""
    cur.execute("UPDATE tags SET updated_at = now() WHERE repository_id = %s AND name = %s",
                (repo_id, tag))


def upsert_tag(cur: cursor, repo_id: int, tag: str, manifest_id: int) -> None:
    """Create the tag or move it to ``manifest_id`` (its push time becomes now)."""
    cur.execute(
        "INSERT INTO tags (repository_id, name, manifest_id) VALUES (%s, %s, %s)"
        " ON CONFLICT (repository_id, name)"
        " DO UPDATE SET manifest_id = EXCLUDED.manifest_id, updated_at = now()",
        (repo_id, tag, manifest_id),
    )


def delete_tag(cur: cursor, repository: str, tag: str) -> bool:
    """Remove a tag (by repository name); False when it did not exist."""
    cur.execute(
        "DELETE FROM tags t USING repositories r"
        " WHERE t.repository_id = r.id AND r.name = %s AND t.name = %s",
        (repository, tag),
    )
    return cur.rowcount != 0


def tags_of_manifest(cur: cursor, manifest_id: int) -> list[str]:
    cur.execute("SELECT name FROM tags WHERE manifest_id = %s", (manifest_id,))
    return [r[0] for r in cur.fetchall()]


def list_tags(cur: cursor, repository: str, after: str, limit: int) -> list[str]:
    """Tag names of a repository in byte order after ``after``, at most ``limit``."""
    cur.execute(
        # The scalar subquery is a constant to the planner: an index range scan (of
        # tags_name_bytewise, in the order asked). The names come back as one JSON array
        # rather than one row each: a page of 10,000 tags costs the worker 0.8 ms of CPU
        # instead of 1.9. json_agg takes them in the subquery's order (an aggregate directly
        # over a sorted subquery, no join: PostgreSQL keeps that order); an ORDER BY inside
        # json_agg would sort the page again.
        "SELECT json_agg(name) FROM ("
        "SELECT name FROM tags"
        " WHERE repository_id = (SELECT id FROM repositories WHERE name = %s)"
        ' AND name COLLATE "C" > %s ORDER BY name COLLATE "C" LIMIT %s) page',
        (repository, after, limit),
    )
    row = cur.fetchone()
    return row[0] if row and row[0] else []


# --- A repository's tags as a whole (hareg rebuild-db) ---


def tag_times(cur: cursor, repo_id: int) -> dict[str, datetime]:
    """name -> last change (``updated_at``) of every tag of the repository."""
    cur.execute("SELECT name, updated_at FROM tags WHERE repository_id = %s", (repo_id,))
    return dict(cur.fetchall())


def restore_tags(cur: cursor, repo_id: int, names: Sequence[str], manifest_ids: Sequence[int],
                 times: Sequence[datetime], unchanged_since: datetime | None) -> list[bool]:
    """Create or move tags ``names`` to ``manifest_ids`` with the change times ``times``
    (parallel lists); one entry per row written: True when created, False when moved.

    Unlike :func:`upsert_tag` (a push: the time is now, the new target always wins), the
    times come from the tag links found in storage, and an existing tag moves only if it
    names another manifest and was not changed since ``unchanged_since``: a rebuild never
    undoes a push that landed while it ran.
    """
    cur.execute(
        "INSERT INTO tags (repository_id, name, manifest_id, updated_at)"
        " SELECT %s, * FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[])"
        " ON CONFLICT (repository_id, name) DO UPDATE"
        " SET manifest_id = EXCLUDED.manifest_id, updated_at = EXCLUDED.updated_at"
        " WHERE tags.manifest_id <> EXCLUDED.manifest_id AND tags.updated_at < %s"
        " RETURNING (xmax = 0)",
        (repo_id, list(names), list(manifest_ids), list(times), unchanged_since),
    )
    return [r[0] for r in cur.fetchall()]


def delete_tags_except(cur: cursor, repo_id: int, keep: Sequence[str],
                       unchanged_since: datetime | None) -> int:
    """Delete the repository's tags not named in ``keep`` and not changed since
    ``unchanged_since``; the number deleted."""
    cur.execute("DELETE FROM tags WHERE repository_id = %s AND NOT (name = ANY(%s))"
                " AND updated_at < %s", (repo_id, list(keep), unchanged_since))
    return cur.rowcount
