# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Former home of the shared registry SQL, now split into one module per table.

Kept only so that code not yet moved (``hareg.rebuild``) keeps importing these names; new code
imports :mod:`hareg.db.repositories` and :mod:`hareg.db.blobs` directly. Delete this module
once nothing imports it.
"""

from __future__ import annotations

from .blobs import blob_exists, insert_blob, link_blob, linked_blob_size
from .repositories import ensure_repository, repository_id

__all__ = ["blob_exists", "ensure_repository", "insert_blob", "link_blob", "linked_blob_size",
           "repository_id"]
