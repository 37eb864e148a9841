# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Online garbage collection and retention policies (docs/gc.rst): planning and collecting.

The package talks no SQL: what garbage is, and every statement, live in hareg.db
(``garbage``, ``gc_mark``, ``gc_sweep``, ``gc_orphans``, ``gc_runs``, ``session``, ``locks``).
Promotion and immutable tags are the registry's (hareg.registry). Modules, each small and
named for what it does:

- ``policy``: which tags retention deletes (pure functions);
- ``plan``: the mark phase, what a sweep would delete (one consistent snapshot);
- ``locks``: batches of per-digest/per-tag advisory locks, timed;
- ``sweep``: the delete phases, each item re-checked under its lock;
- ``orphans``: objects in the bucket that no row knows;
- ``runs``: the run summary, recorded in ``gc_runs``;
- ``collect``: ``collect_garbage``, the entry point of ``hareg gc`` and the scheduler;
- ``schedule``: the in-server periodic sweep.

This package imports nothing at import time, so ``hareg.registry`` may use ``policy``.
"""
