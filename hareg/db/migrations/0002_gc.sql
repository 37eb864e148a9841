-- SPDX-FileCopyrightText: 2026 The hareg authors
-- SPDX-License-Identifier: EUPL-1.2
--
-- Garbage collection runs and promotions (docs/gc.rst). Expand-only: the previous release
-- never reads these tables, so it keeps working against this schema.

-- One row per sweep (dry runs included), so `hareg gc --history` can list them. A row left
-- 'running' by a crashed sweep is marked 'aborted' by the next sweep that wins the GC lock.
CREATE TABLE gc_runs (
    id                    bigserial PRIMARY KEY,
    started_at            timestamptz NOT NULL DEFAULT now(),
    finished_at           timestamptz,
    status                text NOT NULL DEFAULT 'running'
                          CHECK (status IN ('running', 'ok', 'failed', 'aborted')),
    trigger               text NOT NULL DEFAULT 'cli',
    host                  text NOT NULL DEFAULT '',
    dry_run               boolean NOT NULL DEFAULT false,
    orphans               boolean NOT NULL DEFAULT false,
    tags_deleted          integer NOT NULL DEFAULT 0,
    manifests_deleted     integer NOT NULL DEFAULT 0,
    links_deleted         integer NOT NULL DEFAULT 0,
    blobs_deleted         integer NOT NULL DEFAULT 0,
    uploads_deleted       integer NOT NULL DEFAULT 0,
    repositories_deleted  integer NOT NULL DEFAULT 0,
    orphans_deleted       integer NOT NULL DEFAULT 0,
    bytes_freed           bigint NOT NULL DEFAULT 0,
    summary               jsonb,
    error                 text
);
CREATE INDEX gc_runs_started ON gc_runs (started_at DESC);

-- Who promoted what, and when. Repositories are named, not referenced by id: a promotion
-- outlives the rows of an emptied repository and must not block their deletion. While the
-- target repository still holds the promoted manifest, the promotion keeps the source manifest
-- (the sweep) and the source tag (retention) alive.
CREATE TABLE promotions (
    id                 bigserial PRIMARY KEY,
    source_repository  text NOT NULL,
    source_tag         text NOT NULL,
    target_repository  text NOT NULL,
    target_tag         text NOT NULL,
    digest             text NOT NULL,
    media_type         text NOT NULL,
    promoted_by        text NOT NULL DEFAULT '',
    promoted_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX promotions_source ON promotions (source_repository, digest);
CREATE INDEX promotions_target ON promotions (target_repository, digest);
