# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""``hareg rebuild-db``: recreate the database from the bucket, the durable truth.

The walk (docs/rebuild.rst has the operator's view):

1. **Blobs.** The ``blobs/<alg>/<2 hex>/`` fan-out directories are listed in parallel; every
   ``data`` object gives a digest and, from the listing itself, its size. Blob content is
   never read. The digests are kept in memory (about 150 bytes each) to answer "does this
   blob exist" without another request.
2. **Repositories.** Each top-level directory under ``repositories/`` is listed by its own
   thread. Listings come in key order and every key of one repository starts with
   ``<name>/_`` (no name component starts with ``_``), so the keys of a repository are
   contiguous: as soon as the listing moves past one, the repository goes to a worker.
3. **Per repository**, a worker reads what the database does not have yet (manifest
   payloads through their revision links, tag ``current/link`` objects), verifies and
   parses them, then writes in small transactions: links, manifests in batches (children of
   an index before the index, though any order ends linked), tags last, so a serving
   instance never shows a tag whose manifest is not there.

Every write is an insert that ignores rows already present or an update guarded by the
run's start time, so a run is idempotent, and an interrupted run simply runs again: what
committed is found in the database and neither re-read nor re-written. Objects that cannot
be read or parsed are reported and skipped, never half-written. ``prune`` removes rows whose
objects are gone, but never a row created or changed after the run started, and never on the
strength of an incomplete listing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..db.pool import Database
from ..db.rebuild import REBUILT_TABLES
from ..storage.base import StorageDriver
from .options import RebuildBusy, RebuildFailed, RebuildOptions
from .report import Report
from .run import ProgressCallback, Run

__all__ = ["REBUILT_TABLES", "RebuildBusy", "RebuildFailed", "RebuildOptions",
           "Report", "rebuild"]


def rebuild(db: Database, storage: StorageDriver, options: RebuildOptions | None = None, *,
            progress: ProgressCallback | None = None,
            after_repository: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Walk ``storage`` and bring the database in line with it; return the JSON summary.

    ``progress(event, report)`` is called from worker threads after each blob listing
    (``"blobs"``) and each repository (``"repository"``). ``after_repository(name)`` runs
    after a repository's last transaction; an exception from it stops the run like a crash
    would (tests use it to interrupt deterministically). Ctrl-C (KeyboardInterrupt) lets the
    repositories in progress finish their current transaction and returns with status
    ``"interrupted"``. Raises RebuildBusy, or RebuildFailed on a fatal error.
    """
    return Run(db, storage, options or RebuildOptions(), progress, after_repository).run()
