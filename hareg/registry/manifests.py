# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Pushing, pulling and deleting manifests and tags.

A push runs in three steps, never interleaved (invariants 3, 4 and 6 of docs/architecture.rst):

1. **Check everything that can refuse it**, writing nothing: size, digest, tag names and the
   manifest itself before any database access; then, in the transaction, the manifest
   digest's shared BLOB lock, the children and blobs it references (their shared BLOB locks
   and ``FOR SHARE`` row locks, held until COMMIT so that no sweep can take them away), the
   TAG lock of every tag (sorted) and the immutability of each move.
2. **Write storage**: the payload and the revision link (unless the repository has the
   manifest already), then the rows; last, under the TAG locks already held, each moved tag's
   links, then its row. The shared BLOB lock is held across the writes, as the sweep needs.
3. **Commit.**

A refused request therefore writes nothing. A request that fails after step 2 began (the
database fails, the COMMIT fails) takes back what it wrote (:mod:`hareg.registry.written`):
the tag link is rewritten to what the committed row says, the revision link and payload are
removed unless a row of another request now vouches for them. Only a crash of the process
in that window leaves objects without rows behind; ``hareg check`` reports them and
``hareg gc --orphans`` removes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg2
from psycopg2.extensions import cursor

from ..db import blobs as blob_rows
from ..db import locks, repositories
from ..db import manifests as manifest_rows
from ..db import remote_cache as remote_rows
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
from .written import Removed, Written, restored_on_failure, taken_back_on_failure


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
                 content_type: str, extra_tags: Sequence[str] = (), *,
                 cache: bool = False) -> PushResult:
    """Push a manifest (by tag or digest, with extra tags).

    ``cache``: the manifest comes from a remote namespace's upstream (hareg.remote.pull). The
    cache is sparse: the blobs and children it references may not be cached yet (they are
    fetched when pulled), and its tags are marked as confirmed by the upstream now.
    """
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

    written = Written(repository)
    with taken_back_on_failure(reg, [written]), reg.db.transaction() as cur:
        # 1. checks: nothing is written before every one of them passed
        repo_id = repositories.ensure_repository(cur, repository)
        locks.lock_blob_shared(cur, digest)
        manifest_id = manifest_rows.lock_manifest_id(cur, repo_id, digest)
        refs = None
        if manifest_id is None:  # a re-push or a new tag: the row vouches for its references
            refs = check_references(cur, repo_id, parsed,
                                    sparse=cache or reg.settings.sparse_indexes,
                                    strict=not cache)
        moves = plan_tags(reg, cur, repo_id, repository, tags, digest)
        # 2. storage, then rows; the tag links last
        if manifest_id is None:
            assert refs is not None
            # Written under the shared digest lock: a sweep deleting this digest's object and
            # row either finished before (the object is written again here) or waits for us.
            written.manifests.add(digest)
            reg.storage.put_bytes(layout.blob_data(digest), payload)
            reg.storage.put_bytes(layout.revision_link(repository, digest),
                                  layout.link_content(digest))
            blob_rows.insert_blob(cur, digest, len(payload))
            manifest_id = insert_manifest(cur, repo_id, digest, payload, parsed, refs)
        apply_tags(reg, cur, moves, manifest_id, digest, written)
        if cache:
            for tag in tags:
                remote_rows.mark_checked(cur, repo_id, tag)
    return PushResult(digest, parsed.subject, tuple(tags))


@dataclass(frozen=True)
class References:
    """What a manifest references that the repository has, checked and locked."""

    blobs: list[str] = field(default_factory=list)  # digests of present blobs (linked)
    children: dict[str, int] = field(default_factory=dict)  # child digest -> manifest id


def check_references(cur: cursor, repo_id: int, parsed: ParsedManifest, *, sparse: bool,
                     strict: bool = True) -> References:
    """Check (and lock until COMMIT) the blobs and children a manifest references.

    ``strict`` refuses missing blobs (a push); ``rebuild-db`` records what exists instead.
    ``sparse`` accepts an index whose children are absent. Raises MANIFEST_BLOB_UNKNOWN.
    """
    return References(_present_blobs(cur, repo_id, parsed, strict),
                      _present_children(cur, repo_id, parsed, sparse))


def record_manifest(cur: cursor, repo_id: int, digest: str, payload: bytes,
                    parsed: ParsedManifest, *, sparse: bool, strict: bool = True) -> int:
    """Check the references, then insert a manifest row and its references; returns its id
    (existing or new). The blobs row of the payload itself must exist already."""
    refs = check_references(cur, repo_id, parsed, sparse=sparse, strict=strict)
    return insert_manifest(cur, repo_id, digest, payload, parsed, refs)


def insert_manifest(cur: cursor, repo_id: int, digest: str, payload: bytes,
                    parsed: ParsedManifest, refs: References) -> int:
    """Insert a manifest row and its (already checked) references; returns its id (existing
    or new). The blobs row of the payload itself must exist already."""
    blobs, children = refs.blobs, refs.children
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


@dataclass(frozen=True)
class TagMove:
    """A tag a push or promotion points at its manifest, checked under the tag's lock."""

    repo_id: int
    repository: str
    tag: str
    current: str | None  # digest the tag names now; None when it does not exist


def plan_tags(reg: Registry, cur: cursor, repo_id: int, repository: str, tags: Sequence[str],
              digest: str) -> list[TagMove]:
    """Take the TAG lock of each tag (sorted: no deadlock between two pushes), then refuse
    the request (DENIED) if it would move an immutable tag. Writes nothing.

    Also used by promotion (hareg.registry.promotion). The locks are held until COMMIT, so
    what was checked here still holds when :func:`apply_tags` writes.
    """
    locks.lock_tags(cur, [(repository, tag) for tag in tags])
    current = tag_rows.tagged_digests(cur, repo_id, list(tags))
    for tag in tags:
        if current.get(tag) not in (None, digest) and is_immutable(reg.retention, repository,
                                                                    tag):
            raise Denied(f"tag {tag!r} is immutable in {repository!r}: it cannot be moved",
                         detail={"repository": repository, "tag": tag})
    return [TagMove(repo_id, repository, tag, current.get(tag)) for tag in tags]


def apply_tags(reg: Registry, cur: cursor, moves: Sequence[TagMove], manifest_id: int,
               digest: str, written: Written) -> None:
    """Point the planned tags at the manifest: storage links, then the row, each under the
    lock :func:`plan_tags` took. A tag already on this manifest keeps its links (the row
    guarantees they were written) and only gets a fresh push time."""
    for move in moves:
        if move.current == digest:
            tag_rows.touch_tag(cur, move.repo_id, move.tag)
            continue
        written.tags[move.tag] = digest
        reg.storage.put_bytes(layout.tag_index_link(move.repository, move.tag, digest),
                              layout.link_content(digest))
        reg.storage.put_bytes(layout.tag_current_link(move.repository, move.tag),
                              layout.link_content(digest))
        tag_rows.upsert_tag(cur, move.repo_id, move.tag, manifest_id)


def get_manifest(reg: Registry, repository: str, reference: str,
                 with_payload: bool = True) -> StoredManifest:
    by_digest = looks_like_digest(reference)
    key = str(parse_digest(reference)) if by_digest else validate_tag(reference)
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
    removed = Removed(repository)
    with restored_on_failure(reg, removed), reg.db.transaction() as cur:
        locks.lock_tag(cur, repository, tag)
        if not tag_rows.delete_tag(cur, repository, tag):
            raise ManifestUnknown(detail={"tag": tag})
        removed.tags.append(tag)
        reg.storage.delete_prefix(layout.tag_dir(repository, tag))


def _delete_by_digest(reg: Registry, repository: str, digest: str) -> None:
    removed = Removed(repository)
    try:
        with restored_on_failure(reg, removed), reg.db.transaction() as cur:
            manifest_id = manifest_rows.lock_for_delete(cur, repository, digest)
            if manifest_id is None:
                raise ManifestUnknown(detail={"digest": digest})
            tags = tag_rows.tags_of_manifest(cur, manifest_id)
            for tag in tags:
                locks.lock_tag(cur, repository, tag)
            manifest_rows.delete_manifest(cur, manifest_id)
            for tag in tags:
                removed.tags.append(tag)
                reg.storage.delete_prefix(layout.tag_dir(repository, tag))
            removed.revisions.append(digest)
            reg.storage.delete(layout.revision_link(repository, digest))
    except psycopg2.errors.ForeignKeyViolation:
        raise ManifestReferenced(detail={"digest": digest}) from None
