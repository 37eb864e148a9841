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

As for a push (hareg.registry.manifests), every check that can refuse the promotion runs
before the first storage write: the source tag, the destination tag's immutability, and (by
walking and locking the whole source tree first) the children a non-sparse destination would
refuse. Then layer links, revision links and rows are written, the destination tag's links
last, and the transaction commits; if it fails, what was written is taken back
(hareg.registry.written).
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
from .errors import ManifestBlobUnknown, ManifestUnknown, RequestInvalid, Unavailable
from .formats import ParsedManifest, parse_manifest
from .manifests import apply_tags, plan_tags, record_manifest
from .names import validate_name, validate_tag
from .written import Written, taken_back_on_failure


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


@dataclass(frozen=True)
class _Source:
    """One source manifest to copy, read and locked."""

    digest: str
    payload: bytes
    parsed: ParsedManifest
    blobs: list[str]  # digests it references, sorted


class _Copier:
    """Copies manifests of one source repository into the destination, in one transaction:
    :meth:`read` locks and checks the whole source tree (writing nothing), :meth:`write`
    writes storage and rows."""

    def __init__(self, reg: Registry, cur: cursor, target: str, target_id: int,
                 written: Written) -> None:
        self.reg = reg
        self.cur = cur
        self.target = target
        self.target_id = target_id
        self.written = written
        self.order: list[_Source] = []     # children before their index
        self.read_ids: dict[int, str] = {}  # source manifest id -> digest
        self.copied: dict[str, int] = {}   # digest -> destination manifest id
        self.linked = 0

    def read(self, source_id: int) -> str:
        """Lock and read a source manifest and (first) its children; refuse what the
        destination would refuse. Returns its digest."""
        if source_id in self.read_ids:
            return self.read_ids[source_id]
        cur = self.cur
        source_digest = manifest_rows.manifest_digest(cur, source_id)
        if source_digest is None:
            raise ManifestUnknown("the source manifest was deleted concurrently, retry")
        locks.lock_blob_shared(cur, source_digest)
        content = manifest_rows.lock_content(cur, source_id)
        if content is None:
            raise ManifestUnknown("the source manifest was deleted concurrently, retry")
        digest, media_type, payload = content
        children = {self.read(child_id) for child_id in
                    manifest_rows.present_child_ids(cur, source_id)}
        parsed = parse_manifest(payload, media_type)
        absent = [d for d in parsed.children if d not in children]
        if absent and not self.reg.settings.sparse_indexes:
            there = manifest_rows.lock_present(cur, self.target_id, absent)
            missing = [d for d in absent if d not in there]
            if missing:
                raise ManifestBlobUnknown(f"manifest unknown to registry: {missing[0]}",
                                          detail={"digest": missing[0]})
        blobs = manifest_rows.referenced_blobs(cur, source_id)
        locks.lock_blobs_shared(cur, blobs)
        self.order.append(_Source(digest, payload, parsed, blobs))
        self.read_ids[source_id] = digest
        return digest

    def write(self) -> int:
        """Link the blobs, write the revision links and record every manifest read, children
        first; returns the destination id of the last one (the promoted manifest)."""
        cur = self.cur
        manifest_id = 0
        for source in self.order:
            for blob in source.blobs:
                if blob_rows.link_blob(cur, self.target_id, blob):
                    self.written.layers.add(blob)
                    self.reg.storage.put_bytes(layout.layer_link(self.target, blob),
                                               layout.link_content(blob))
                    self.linked += 1
            self.written.manifests.add(source.digest)
            self.reg.storage.put_bytes(layout.revision_link(self.target, source.digest),
                                       layout.link_content(source.digest))
            manifest_id = record_manifest(cur, self.target_id, source.digest, source.payload,
                                          source.parsed,
                                          sparse=self.reg.settings.sparse_indexes)
            self.copied[source.digest] = manifest_id
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
    written = Written(dst.repository)
    with taken_back_on_failure(reg, [written]), reg.db.transaction() as cur:
        # 1. checks and locks: nothing is written before every one of them passed
        source_id, digest, media_type = _tagged(cur, src)
        # Row locks before tag locks, as a manifest PUT and a delete by digest take them.
        locks.lock_blob_shared(cur, digest)
        manifest_rows.lock_manifest(cur, source_id)
        locks.lock_tags(cur, [(src.repository, src.tag), (dst.repository, dst.tag)])
        if _tagged(cur, src).manifest_id != source_id:
            raise Unavailable(f"{src} moved while being promoted, retry")
        target_id = repositories.ensure_repository(cur, dst.repository)
        moves = plan_tags(reg, cur, target_id, dst.repository, [dst.tag], digest)
        copier = _Copier(reg, cur, dst.repository, target_id, written)
        copier.read(source_id)
        # 2. storage and rows, the destination tag's links last
        manifest_id = copier.write()
        apply_tags(reg, cur, moves, manifest_id, digest, written)
        promotion_id, promoted_at = promotions.insert_promotion(
            cur, source_repository=src.repository, source_tag=src.tag,
            target_repository=dst.repository, target_tag=dst.tag, digest=digest,
            media_type=media_type, promoted_by=promoted_by)
    return Promotion(promotion_id, src, dst, digest, media_type, len(copier.copied),
                     copier.linked, promoted_by, promoted_at)
