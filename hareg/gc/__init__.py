# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Online garbage collection, retention policies and promotion (docs/gc.rst).

Modules, each small and named for what it does:

- ``policy``: which tags retention deletes, which tags are immutable (pure functions);
- ``plan``: the mark phase, what a sweep would delete (one consistent snapshot);
- ``locks``: batches of per-digest/per-tag advisory locks, timed;
- ``sweep``: the delete phases, each item re-checked under its lock;
- ``orphans``: objects in the bucket that no row knows;
- ``runs``: the ``gc_runs`` table and the run summary;
- ``collect``: ``collect_garbage``, the entry point of ``hareg gc`` and the scheduler;
- ``check``: ``find_missing_objects``, rows whose object is missing;
- ``promotion``: copying a tag into another repository by reference;
- ``schedule``: the in-server periodic sweep.

This package imports nothing at import time, so ``hareg.registry`` may use ``policy``.
"""
