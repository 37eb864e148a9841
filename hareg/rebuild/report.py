# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What a rebuild found and did: counts per kind, errors, warnings, the JSON summary."""

from __future__ import annotations

import threading
from typing import Any

from .options import RebuildOptions

KINDS = ("repositories", "blobs", "repository_blobs", "manifests", "tags", "namespaces")
MAX_REPORTED = 1000  # errors and warnings listed in the summary (all are counted)


class Report:
    """Counts, errors and warnings of a run; safe to update from every worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        self.objects_listed = 0
        self.objects_ignored = 0
        self.manifests_parsed = 0
        self.repositories_done = 0
        self.errors: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.error_count = 0
        self.warning_count = 0
        self.emptied: dict[str, int] | None = None

    def count(self, kind: str, what: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self.counts[kind][what] = self.counts[kind].get(what, 0) + n

    def add(self, attr: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, attr, getattr(self, attr) + n)

    def error(self, kind: str, message: str, **where: Any) -> None:
        with self._lock:
            self.error_count += 1
            if len(self.errors) < MAX_REPORTED:
                self.errors.append({"kind": kind, **where, "error": message})

    def warning(self, kind: str, message: str, **where: Any) -> None:
        with self._lock:
            self.warning_count += 1
            if len(self.warnings) < MAX_REPORTED:
                self.warnings.append({"kind": kind, **where, "warning": message})

    def summary(self, status: str, duration: float, options: RebuildOptions) -> dict[str, Any]:
        with self._lock:
            per_s = (lambda n: round(n / duration, 1)) if duration > 0 else (lambda n: None)
            return {
                "status": status,
                "dry_run": options.dry_run,
                "from_scratch": options.from_scratch,
                "prune": options.prune,
                "repository": options.repository,
                "duration_seconds": round(duration, 3),
                "objects_listed": self.objects_listed,
                "objects_ignored": self.objects_ignored,
                "manifests_parsed": self.manifests_parsed,
                "rates": {"objects_listed_per_second": per_s(self.objects_listed),
                          "manifests_parsed_per_second": per_s(self.manifests_parsed)},
                "emptied": self.emptied,
                "counts": {k: dict(sorted(v.items())) for k, v in self.counts.items()},
                "error_count": self.error_count,
                "errors": list(self.errors),
                "warning_count": self.warning_count,
                "warnings": list(self.warnings),
            }


def busy_summary(options: RebuildOptions, duration: float, message: str) -> dict[str, Any]:
    """The summary of a run that could not take the lock: status ``busy``, nothing counted,
    ``fatal`` says who holds it."""
    return Report().summary("busy", duration, options) | {"fatal": message}
