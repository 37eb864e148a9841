# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What garbage is: the one definition that planning (hareg.db.gc_mark) and sweeping
(hareg.db.gc_sweep) both build their SQL from.

A row is garbage when nothing the registry serves needs it any more and it is older than the
grace period (``%(grace)s`` seconds; an upload: idle for ``%(max_age)s`` seconds), so that a
push in flight (blob uploaded, manifest not yet pushed) keeps what it has uploaded:

- a **manifest** that no root reaches. Roots are the manifests younger than the grace period,
  the tagged ones and the sources of active promotions; a kept index keeps its children and
  (``keep_referrers``) a kept manifest keeps the referrers whose subject it is, in its
  repository;
- a repository **link** (``repository_blobs``) that no manifest of that repository references;
- a **blob** that no repository links, no manifest references and that is no manifest's
  payload;
- an **upload** session nobody touched for ``upload_max_age`` (abandoned);
- a **repository** with no manifest, link, tag or open upload.

The plan asks the question of one snapshot of everything, as if what it already doomed were
gone: the tags retention deletes (``gc_doomed_tags``), the manifests and links it found
(``gc_manifests``, ``gc_links``) and abandoned uploads. The sweep asks it again of the live
tables, for the few rows of a batch it holds locked, after the earlier phases really deleted
what the plan doomed. So each condition takes ``planned``: True adds "unless the plan dooms
it" to every reference it looks for; False looks at the live rows only. For manifests the plan
walks the reachability closure (``gc_mark``); the sweep checks the same edges one level deep,
which suffices because manifests are swept in passes, parents and subjects first.

Conditions are SQL fragments over fixed aliases (``m`` a manifest and ``r`` its repository,
``rb`` a link, ``b`` a blob, ``u`` an upload, ``r`` a repository) with named parameters.
"""

from __future__ import annotations

from psycopg2.extensions import cursor

#: Temporary tables of the plan's transaction (ON COMMIT DROP).
DOOMED_TAGS = "gc_doomed_tags"
KEPT = "gc_kept"
PLANNED_MANIFESTS = "gc_manifests"
PLANNED_LINKS = "gc_links"


def older_than(column: str, seconds: str = "%(grace)s") -> str:
    """``column`` lies more than ``seconds`` (a parameter) in the past."""
    return f"{column} < now() - {seconds} * interval '1 second'"


def within(column: str, seconds: str = "%(grace)s") -> str:
    """The negation of :func:`older_than`: ``column`` is recent."""
    return f"{column} >= now() - {seconds} * interval '1 second'"


#: Promotion ``p`` is active: its target repository still has the manifest.
ACTIVE_PROMOTION = (
    "EXISTS (SELECT 1 FROM repositories tr JOIN manifests tm ON tm.repository_id = tr.id"
    " WHERE tr.name = p.target_repository AND tm.digest = p.digest)"
)

#: Manifest ``m`` of repository ``r`` is the source of active promotion ``p`` (a root).
PROMOTED_SOURCE = f"p.source_repository = r.name AND p.digest = m.digest AND {ACTIVE_PROMOTION}"

#: Manifest ``s`` is the subject of referrer ``m`` in the same repository.
SUBJECT_OF_REFERRER = "s.repository_id = m.repository_id AND s.digest = m.subject"

#: Tag ``t`` is not among those retention deletes in this sweep (planning only).
TAG_NOT_DOOMED = (f"NOT EXISTS (SELECT 1 FROM {DOOMED_TAGS} d"
                  " WHERE d.repository_id = t.repository_id AND d.name = t.name)")

#: Manifest ``m`` of repository ``r`` is garbage in the live tables (the sweep's re-check):
#: old, untagged, no index's child, no kept subject's referrer (``%(referrers)s``: the
#: ``keep_referrers`` switch) and no active promotion's source. The plan computes the same as
#: "not reachable from a root" (hareg.db.gc_mark.mark) from the same pieces.
MANIFEST_IS_GARBAGE = (
    f"{older_than('m.created_at')}"
    " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)"
    " AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.child_id = m.id)"
    " AND NOT (%(referrers)s AND m.subject IS NOT NULL AND EXISTS ("
    f"   SELECT 1 FROM manifests s WHERE {SUBJECT_OF_REFERRER}))"
    f" AND NOT EXISTS (SELECT 1 FROM promotions p WHERE {PROMOTED_SOURCE})"
)


def _unless_planned(planned: bool, table: str, match: str) -> str:
    """`` AND NOT EXISTS (row of ``table`` g matching)`` when planning, else nothing."""
    return f" AND NOT EXISTS (SELECT 1 FROM {table} g WHERE {match})" if planned else ""


def link_is_garbage(planned: bool) -> str:
    """Link ``rb`` is old and no manifest of its repository references its blob."""
    return (
        f"{older_than('rb.created_at')}"
        " AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id"
        "   WHERE mb.digest = rb.digest AND m.repository_id = rb.repository_id"
        f"{_unless_planned(planned, PLANNED_MANIFESTS, 'g.id = m.id')})"
    )


def blob_is_garbage(planned: bool) -> str:
    """Blob ``b`` is old, linked nowhere, referenced by no manifest and no manifest's payload."""
    return (
        f"{older_than('b.created_at')}"
        " AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest"
        f"{_unless_planned(planned, PLANNED_LINKS, 'g.repository_id = rb.repository_id AND g.digest = rb.digest')})"  # noqa: E501
        " AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest"
        f"{_unless_planned(planned, PLANNED_MANIFESTS, 'g.id = mb.manifest_id')})"
        " AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest"
        f"{_unless_planned(planned, PLANNED_MANIFESTS, 'g.id = m.id')})"
    )


#: Upload ``u`` is abandoned: idle for longer than ``upload_max_age`` and not claimed right now
#: by a PATCH or PUT (a live claim: ``claimed_until`` in the future).
UPLOAD_ABANDONED = (f"{older_than('u.updated_at', '%(max_age)s')}"
                    " AND (u.claimed_until IS NULL OR u.claimed_until < now())")

#: Repository ``r`` is old enough to go once empty.
REPOSITORY_OLD = older_than("r.created_at")


def repository_is_empty(planned: bool) -> str:
    """Repository ``r`` has no manifest, link, tag or open upload.

    The plan leaves tags out: a tag it does not doom keeps its manifest, which then keeps the
    repository. The sweep checks them on the live rows.
    """
    uploads = f" AND {within('u.updated_at', '%(max_age)s')}" if planned else ""
    tags = ("" if planned else
            " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = r.id)")
    return (
        "NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id"
        f"{_unless_planned(planned, PLANNED_MANIFESTS, 'g.id = m.id')})"
        " AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = r.id"
        f"{_unless_planned(planned, PLANNED_LINKS, 'g.repository_id = rb.repository_id AND g.digest = rb.digest')})"  # noqa: E501
        f"{tags}"
        f" AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.repository = r.name{uploads})"
    )


def active_promotions(cur: cursor, repositories: list[str] | None = None
                      ) -> set[tuple[str, str, str]]:
    """(source repository, source tag, digest) of the active promotions (out of
    ``repositories`` when given): their source tags are safe from retention."""
    if repositories is None:
        cur.execute("SELECT p.source_repository, p.source_tag, p.digest FROM promotions p"
                    f" WHERE {ACTIVE_PROMOTION}")
    else:
        cur.execute("SELECT p.source_repository, p.source_tag, p.digest FROM promotions p"
                    f" WHERE p.source_repository = ANY(%s) AND {ACTIVE_PROMOTION}",
                    (repositories,))
    return {(r[0], r[1], r[2]) for r in cur.fetchall()}
