# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Promotion: copy ``SRC_REPO:TAG`` into ``DST_REPO[:TAG]`` by reference.

Nothing is copied byte for byte: the destination links the blobs the manifest needs
(``repository_blobs`` rows and ``_layers`` link files), gets its own manifest rows (for an
index, its children too, recursively) through ``record_manifest`` and its revision and tag
links, and the promotion is recorded in ``promotions``. While the destination still has the
manifest, the promotion keeps the SOURCE tag safe from the source repository's retention and
the source manifest safe from the sweep.

Locks, in the order a manifest PUT takes them: the shared BLOB lock of the promoted digest and
a FOR SHARE lock of its source row, then the source and destination TAG locks (sorted), then
for each child manifest its shared BLOB lock and row lock, and the shared BLOB locks of the
blobs it links. A concurrent sweep therefore either
deleted a child or blob before (the promotion then fails cleanly: the tag was not tagged, or
MANIFEST_BLOB_UNKNOWN) or sees the promotion's rows and keeps everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg2.extensions import cursor

from ..db import blobs as blob_rows
from ..db import locks, promotions, repositories
from ..db import manifests as manifest_rows
from ..db import tags as tag_rows
from ..storage import layout
from .context import Registry
from .errors import ManifestUnknown, RequestInvalid, Unavailable
from .formats import parse_manifest
from .manifests import move_tag, record_manifest
from .names import validate_name, validate_tag


@dataclass(frozen=True)
class Reference:
    repository: str
    tag: str | None

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}" if self.tag else self.repository


@dataclass(frozen=True)
class Promotion:
    id: int
    source: Reference
    target: Reference
    digest: str
    media_type: str
    manifests: int      # manifest rows the destination now has for it (index + children)
    blobs_linked: int   # blobs newly linked into the destination
    promoted_by: str
    promoted_at: datetime

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "source": str(self.source), "target": str(self.target),
            "digest": self.digest, "mediaType": self.media_type, "manifests": self.manifests,
            "blobsLinked": self.blobs_linked, "promotedBy": self.promoted_by,
            "promotedAt": self.promoted_at.isoformat(),
        }


def parse_reference(text: str, *, tag_required: bool) -> Reference:
    """``repo:tag`` or (when the tag is optional) ``repo``. Names never contain ':'."""
    repository, sep, tag = (text or "").strip().rpartition(":")
    if not sep:
        repository, tag = tag, ""
    if not repository:
        raise RequestInvalid(f"invalid reference {text[:200]!r}: expected REPOSITORY:TAG",
                             detail={"reference": text[:200]})
    validate_name(repository)
    if not tag:
        if tag_required:
            raise RequestInvalid(f"invalid reference {text[:200]!r}: a tag is required",
                                 detail={"reference": text[:200]})
        return Reference(repository, None)
    return Reference(repository, validate_tag(tag))


class _Copier:
    """Copies manifests of one source repository into the destination, in one transaction."""

    def __init__(self, reg: Registry, cur: cursor, target: str, target_id: int) -> None:
        self.reg = reg
        self.cur = cur
        self.target = target
        self.target_id = target_id
        self.copied: dict[int, int] = {}  # source manifest id -> destination manifest id
        self.linked = 0

    def copy(self, source_id: int) -> int:
        if source_id in self.copied:
            return self.copied[source_id]
        cur = self.cur
        source_digest = manifest_rows.manifest_digest(cur, source_id)
        if source_digest is None:
            raise ManifestUnknown("the source manifest was deleted concurrently, retry")
        locks.lock_blob_shared(cur, source_digest)
        content = manifest_rows.lock_content(cur, source_id)
        if content is None:
            raise ManifestUnknown("the source manifest was deleted concurrently, retry")
        digest, media_type, payload = content
        for child_id in manifest_rows.present_child_ids(cur, source_id):
            self.copy(child_id)
        for blob in manifest_rows.referenced_blobs(cur, source_id):
            locks.lock_blob_shared(cur, blob)
            if blob_rows.link_blob(cur, self.target_id, blob):
                self.reg.storage.put_bytes(layout.layer_link(self.target, blob),
                                           layout.link_content(blob))
                self.linked += 1
        self.reg.storage.put_bytes(layout.revision_link(self.target, digest),
                                   layout.link_content(digest))
        manifest_id = record_manifest(cur, self.target_id, digest, payload,
                                      parse_manifest(payload, media_type),
                                      sparse=self.reg.settings.sparse_indexes)
        self.copied[source_id] = manifest_id
        return manifest_id


def _tagged(cur: cursor, ref: Reference) -> tag_rows.TaggedManifest:
    assert ref.tag is not None
    found = tag_rows.tagged_manifest(cur, ref.repository, ref.tag)
    if found is None:
        raise ManifestUnknown(f"{ref} is not tagged",
                              detail={"repository": ref.repository, "tag": ref.tag})
    return found


def promote(reg: Registry, source: str, target: str, promoted_by: str = "") -> Promotion:
    """Promote ``source`` (``repo:tag``) to ``target`` (``repo`` or ``repo:tag``)."""
    src = parse_reference(source, tag_required=True)
    dst = parse_reference(target, tag_required=False)
    dst = Reference(dst.repository, dst.tag or src.tag)
    assert src.tag is not None and dst.tag is not None
    if src.repository == dst.repository:
        raise RequestInvalid("source and target must be different repositories",
                             detail={"source": str(src), "target": str(dst)})
    with reg.db.transaction() as cur:
        source_id, digest, media_type = _tagged(cur, src)
        # Row locks before tag locks, as a manifest PUT and a delete by digest take them.
        locks.lock_blob_shared(cur, digest)
        manifest_rows.lock_manifest(cur, source_id)
        locks.lock_tags(cur, [(src.repository, src.tag), (dst.repository, dst.tag)])
        if _tagged(cur, src).manifest_id != source_id:
            raise Unavailable(f"{src} moved while being promoted, retry")
        target_id = repositories.ensure_repository(cur, dst.repository)
        copier = _Copier(reg, cur, dst.repository, target_id)
        manifest_id = copier.copy(source_id)
        move_tag(reg, cur, target_id, dst.repository, dst.tag, manifest_id, digest)
        promotion_id, promoted_at = promotions.insert_promotion(
            cur, source_repository=src.repository, source_tag=src.tag,
            target_repository=dst.repository, target_tag=dst.tag, digest=digest,
            media_type=media_type, promoted_by=promoted_by)
    return Promotion(promotion_id, src, dst, digest, media_type, len(copier.copied),
                     copier.linked, promoted_by, promoted_at)
