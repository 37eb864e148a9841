# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Write registry content straight into storage, through the layout (no server, no database).

What a registry would have left in its bucket: blob data, layer links, revision links, tag
links. Tests use it to build a bucket quickly and to damage one on purpose.
"""

from __future__ import annotations

from hareg.storage import layout
from hareg.storage.base import StorageDriver
from tests.oci import Blob, Manifest


class BucketWriter:
    def __init__(self, storage: StorageDriver) -> None:
        self.storage = storage

    def blob(self, repo: str, blob: Blob | bytes, *, link: bool = True) -> str:
        data = blob.data if isinstance(blob, Blob) else blob
        digest = Blob(data).digest
        self.storage.put_bytes(layout.blob_data(digest), data)
        if link:
            self.storage.put_bytes(layout.layer_link(repo, digest), layout.link_content(digest))
        return digest

    def manifest(self, repo: str, manifest: Manifest, *tags: str, blobs: bool = True) -> str:
        """The manifest (with its blobs and children, unless ``blobs`` is False) and tags."""
        if blobs:
            for blob in manifest.blobs:
                self.blob(repo, blob)
            for child in manifest.children:
                self.manifest(repo, child)
        digest = self.payload(repo, manifest.data)
        for tag in tags:
            self.tag(repo, tag, digest)
        return digest

    def payload(self, repo: str, data: bytes) -> str:
        """Any bytes as a manifest revision (valid or not)."""
        digest = Blob(data).digest
        self.storage.put_bytes(layout.blob_data(digest), data)
        self.storage.put_bytes(layout.revision_link(repo, digest), layout.link_content(digest))
        return digest

    def tag(self, repo: str, tag: str, digest: str) -> None:
        link = layout.link_content(digest)
        self.storage.put_bytes(layout.tag_index_link(repo, tag, digest), link)
        self.storage.put_bytes(layout.tag_current_link(repo, tag), link)
