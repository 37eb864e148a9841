-- SPDX-FileCopyrightText: 2026 The hareg authors
-- SPDX-License-Identifier: EUPL-1.2
--
-- Remote namespaces, the pull-through cache (issue 10, docs/virtual-remote.rst). A remote
-- namespace caches upstream content as ordinary repositories (hub/library/alpine); these
-- columns and the fetch table are what the cache needs besides the ordinary rows.
-- Expand-only: two nullable columns and a new table; the previous release ignores them.

-- When a cached tag -> digest answer was last confirmed by the upstream; NULL for local tags
-- (and for cached tags restored by rebuild-db: stale, revalidated at the next pull).
ALTER TABLE tags ADD COLUMN upstream_checked_at timestamptz;

-- The last day a manifest was pulled through a remote name; coarse on purpose (written at
-- most once per manifest, day and process) for the "not pulled for N days" retention rule.
ALTER TABLE manifests ADD COLUMN pulled_on date;

-- One row per blob being fetched from an upstream right now: the instance that inserted it
-- (claimed_by) streams the upstream's bytes to its client and into storage, renewing the
-- lease as bytes arrive; every other pull of that digest, on any instance, waits (polling,
-- with no connection held) for the blob row to appear, and takes a claim over once its lease
-- has expired (its holder died or stalled). Deleted when the fetch succeeds; a failed fetch
-- leaves its error (the status, code and message its client got) for a few seconds, so that
-- the pulls waiting for it, and those arriving meanwhile, get the same error at once instead
-- of each asking an upstream that just failed.
CREATE TABLE remote_fetches (
    digest         text PRIMARY KEY,
    repository     text NOT NULL,
    claimed_by     uuid NOT NULL,
    claimed_until  timestamptz NOT NULL,
    size           bigint,
    failure        jsonb,
    created_at     timestamptz NOT NULL DEFAULT now()
);
