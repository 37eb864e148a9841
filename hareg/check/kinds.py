# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The kinds of rows ``hareg check`` compares with storage, each requiring one object."""

from __future__ import annotations

BLOB, LAYER, REVISION, TAG, UPLOAD = "blob", "layer link", "revision link", "tag", "upload"

#: The kinds as JSON keys (``hareg check --json``, docs/cli-json.rst).
JSON_KINDS = {BLOB: "blobs", LAYER: "layer_links", REVISION: "revision_links", TAG: "tags",
              UPLOAD: "uploads"}


def label(kind: str, row: tuple[str, ...]) -> str:
    """How a row is named in reports: ``sha256:...``, ``repo@sha256:...`` or ``repo:tag``."""
    if kind == BLOB:
        return row[0]
    return f"{row[0]}:{row[1]}" if kind == TAG else f"{row[0]}@{row[1]}"
