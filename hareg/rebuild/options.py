# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Options, the lock, and the exceptions of a rebuild."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A rebuild holds the garbage collector's advisory lock (hareg.db.locks.GC_NAME) for its
# whole run: a sweep judging a half-rebuilt database would delete blobs whose links are not
# recorded yet; and it keeps two rebuilds from running at once.


@dataclass(frozen=True)
class RebuildOptions:
    jobs: int = 8
    repository: str | None = None  # fnmatch pattern over repository names
    from_scratch: bool = False
    prune: bool = False
    dry_run: bool = False
    max_manifest_size: int = 4 * 1024 * 1024
    manifest_batch: int = 500  # manifests per transaction (at most)


class RebuildBusy(Exception):
    """Another rebuild or a garbage collection sweep holds the lock."""


class RebuildFailed(Exception):
    """The run stopped on a fatal error (database or listing down); ``summary`` says how far."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


class Stopped(Exception):
    """Raised inside a worker when the run is stopping; ends the task quietly."""
