# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Pushing, pulling and deleting manifests and tags.

Write order (invariant 3 of docs/architecture.rst): the payload and the layout's link files go
to storage first, then the rows commit. A crash in between leaves only objects that no row
points at, which garbage collection removes. Children are checked with ``FOR SHARE`` row locks,
so a concurrent delete of a child waits for this commit and then sees the reference (or this
PUT sees the delete).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg2
from psycopg2.extensions import cursor

from ..db import blobs as blob_rows
from ..db import locks, repositories
from ..db import manifests as manifest_rows
from ..db import tags as tag_rows
from ..storage import layout
from .context import Registry
from .errors import (
    Denied,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestReferenced,
    ManifestTooLarge,
    ManifestUnknown,
    Unavailable,
    Unsupported,
)
from .formats import ParsedManifest, parse_manifest
from .hashing import ResumableHash
from .names import is_tag, looks_like_digest, parse_digest, validate_tag
from .rules import is_immutable


@dataclass(frozen=True)
class StoredManifest:
    digest: str
    media_type: str
    size: int
    payload: bytes | None  # None when only the headers were asked for (HEAD)


@dataclass(frozen=True)
class PushResult:
    digest: str
    subject: str | None
    tags: tuple[str, ...]


def _digest_of(payload: bytes, algorithm: str) -> str:
    hasher = ResumableHash(algorithm)
    hasher.update(payload)
    return hasher.digest()


def put_manifest(reg: Registry, repository: str, reference: str, payload: bytes,
                 content_type: str, extra_tags: Sequence[str] = ()) -> PushResult:
    if len(payload) > reg.settings.max_manifest_size:
        raise ManifestTooLarge(detail={"limit": reg.settings.max_manifest_size})
    tags: list[str] = []
    if looks_like_digest(reference):
        expected = parse_digest(reference)
        digest = _digest_of(payload, expected.algorithm)
        if digest != str(expected):
            raise DigestInvalid(detail={"digest": reference, "computed": digest})
    else:
        tags.append(validate_tag(reference))
        digest = _digest_of(payload, "sha256")
    for tag in extra_tags:
        if validate_tag(tag) not in tags:
            tags.append(tag)
    parsed = parse_manifest(payload, content_type)

    with reg.db.transaction() as cur:
        repo_id = repositories.ensure_repository(cur, repository)
        locks.lock_blob_shared(cur, digest)
        existing = manifest_rows.lock_manifest_id(cur, repo_id, digest)
        if existing is not None:  # a re-push or a new tag: the row vouches for its objects
            manifest_id = existing
        else:
            # Written under the shared digest lock: a sweep deleting this digest's object and
            # row either finished before (the object is written again here) or waits for us.
            reg.storage.put_bytes(layout.blob_data(digest), payload)
            reg.storage.put_bytes(layout.revision_link(repository, digest),
                                  layout.link_content(digest))
            blob_rows.insert_blob(cur, digest, len(payload))
            manifest_id = record_manifest(cur, repo_id, digest, payload, parsed,
                                          sparse=reg.settings.sparse_indexes)
        for tag in tags:
            move_tag(reg, cur, repo_id, repository, tag, manifest_id, digest)
    return PushResult(digest, parsed.subject, tuple(tags))


def record_manifest(cur: cursor, repo_id: int, digest: str, payload: bytes,
                    parsed: ParsedManifest, *, sparse: bool, strict: bool = True) -> int:
    """Insert a manifest row and its references; returns its id (existing or new).

    ``strict`` refuses missing blobs (a push); ``rebuild-db`` records what exists instead.
    ``sparse`` accepts an index whose children are absent. The blobs row of the payload
    itself must exist already.
    """
    blobs = _present_blobs(cur, repo_id, parsed, strict)
    children = _present_children(cur, repo_id, parsed, sparse)
    manifest_id = manifest_rows.insert_manifest(
        cur, repo_id, digest, media_type=parsed.media_type, artifact_type=parsed.artifact_type,
        subject=parsed.subject, annotations=parsed.annotations, payload=payload)
    if manifest_id is None:  # the same bytes were pushed before: same references, nothing to add
        # FOR SHARE: a sweep that wants to delete this manifest now waits for our commit,
        # then sees the tag we are about to add.
        existing = manifest_rows.lock_manifest_id(cur, repo_id, digest)
        if existing is None:  # deleted between our INSERT and SELECT: let the client retry
            raise Unavailable("manifest changed concurrently, retry")
        return existing
    manifest_rows.insert_blob_references(cur, manifest_id, blobs)
    manifest_rows.insert_child_references(
        cur, manifest_id, [(d, children.get(d)) for d in parsed.children])
    # Indexes pushed sparse before this child existed now reference it for real.
    manifest_rows.resolve_sparse_children(cur, repo_id, digest, manifest_id)
    return manifest_id


def _present_blobs(cur: cursor, repo_id: int, parsed: ParsedManifest,
                   strict: bool) -> list[str]:
    wanted = list(parsed.required_blobs) + list(parsed.optional_blobs)
    if not wanted:
        return []
    # A sweep deleting one of them holds its exclusive lock: we wait, then see its result.
    locks.lock_blobs_shared(cur, wanted)
    present = blob_rows.lock_linked(cur, repo_id, wanted)
    missing = [d for d in parsed.required_blobs if d not in present]
    if missing and strict:
        raise ManifestBlobUnknown(f"blob unknown to registry: {missing[0]}",
                                  detail={"digest": missing[0]})
    return [d for d in wanted if d in present]


def _present_children(cur: cursor, repo_id: int, parsed: ParsedManifest,
                      sparse: bool) -> dict[str, int]:
    if not parsed.children:
        return {}
    present = manifest_rows.lock_present(cur, repo_id, parsed.children)
    missing = [d for d in parsed.children if d not in present]
    if missing and not sparse:
        raise ManifestBlobUnknown(f"manifest unknown to registry: {missing[0]}",
                                  detail={"digest": missing[0]})
    return present


def move_tag(reg: Registry, cur: cursor, repo_id: int, repository: str, tag: str,
             manifest_id: int, digest: str) -> None:
    """Point a tag at a manifest: storage links and row change under one per-tag lock.

    Also used by promotion (hareg.registry.promotion). A tag already on this manifest keeps its
    links (the row guarantees they were written) and only gets a fresh push time.
    """
    locks.lock_tag(cur, repository, tag)
    current = tag_rows.tagged_manifest_id(cur, repo_id, tag)
    if current == manifest_id:
        tag_rows.touch_tag(cur, repo_id, tag)
        return
    if current is not None and is_immutable(reg.retention, repository, tag):
        raise Denied(f"tag {tag!r} is immutable in {repository!r}: it cannot be moved",
                     detail={"repository": repository, "tag": tag})
    reg.storage.put_bytes(layout.tag_index_link(repository, tag, digest),
                          layout.link_content(digest))
    reg.storage.put_bytes(layout.tag_current_link(repository, tag), layout.link_content(digest))
    tag_rows.upsert_tag(cur, repo_id, tag, manifest_id)


def get_manifest(reg: Registry, repository: str, reference: str,
                 with_payload: bool = True) -> StoredManifest:
    by_digest = looks_like_digest(reference)
    if by_digest:
        key = str(parse_digest(reference))
    else:
        key = validate_tag(reference)
    with reg.db.read() as cur:
        if by_digest:
            row = manifest_rows.find_by_digest(cur, repository, key, with_payload)
        else:
            row = manifest_rows.find_by_tag(cur, repository, key, with_payload)
    if row is None:
        raise ManifestUnknown(detail={"reference": reference})
    return StoredManifest(row.digest, row.media_type, row.size, row.payload)


def delete_manifest(reg: Registry, repository: str, reference: str) -> None:
    """By tag: remove the tag only. By digest: remove the manifest and every tag on it."""
    if not reg.settings.delete_enabled:
        raise Unsupported("deletes are disabled on this registry")
    if looks_like_digest(reference):
        _delete_by_digest(reg, repository, str(parse_digest(reference)))
    elif is_tag(reference):
        _delete_tag(reg, repository, reference)
    else:
        validate_tag(reference)


def _delete_tag(reg: Registry, repository: str, tag: str) -> None:
    with reg.db.transaction() as cur:
        locks.lock_tag(cur, repository, tag)
        if not tag_rows.delete_tag(cur, repository, tag):
            raise ManifestUnknown(detail={"tag": tag})
        reg.storage.delete_prefix(layout.tag_dir(repository, tag))


def _delete_by_digest(reg: Registry, repository: str, digest: str) -> None:
    try:
        with reg.db.transaction() as cur:
            manifest_id = manifest_rows.lock_for_delete(cur, repository, digest)
            if manifest_id is None:
                raise ManifestUnknown(detail={"digest": digest})
            tags = tag_rows.tags_of_manifest(cur, manifest_id)
            for tag in tags:
                locks.lock_tag(cur, repository, tag)
            manifest_rows.delete_manifest(cur, manifest_id)
            for tag in tags:
                reg.storage.delete_prefix(layout.tag_dir(repository, tag))
            reg.storage.delete(layout.revision_link(repository, digest))
    except psycopg2.errors.ForeignKeyViolation:
        raise ManifestReferenced(detail={"digest": digest}) from None
