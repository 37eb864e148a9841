-- SPDX-FileCopyrightText: 2026 The hareg authors
-- SPDX-License-Identifier: EUPL-1.2
--
-- The registry's metadata. The bucket holds the content and stays the durable truth; these
-- tables index it so that every API answer is one indexed query away.

CREATE TABLE repositories (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Content-addressed objects present in storage (layers, configs, and manifest payloads).
CREATE TABLE blobs (
    digest      text PRIMARY KEY,
    size        bigint NOT NULL CHECK (size >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A blob is visible in a repository only while the repository links it.
CREATE TABLE repository_blobs (
    repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         text NOT NULL REFERENCES blobs (digest),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

-- Manifests per repository; the payload is kept here so that GETs never touch storage.
CREATE TABLE manifests (
    id             bigserial PRIMARY KEY,
    repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         text NOT NULL REFERENCES blobs (digest),
    media_type     text NOT NULL,
    artifact_type  text,
    subject        text,
    annotations    jsonb,
    payload        bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests (repository_id, subject) WHERE subject IS NOT NULL;
CREATE INDEX manifests_digest ON manifests (digest);

-- Blobs a manifest needs (config and layers). The foreign key keeps a referenced blob's row.
CREATE TABLE manifest_blobs (
    manifest_id  bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    digest       text NOT NULL REFERENCES blobs (digest),
    PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_blobs_digest ON manifest_blobs (digest);

-- Child manifests of an index. child_id is NULL for a child absent from a sparse index;
-- ON DELETE RESTRICT refuses deleting a child that an index still references.
CREATE TABLE manifest_children (
    parent_id     bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    child_digest  text NOT NULL,
    child_id      bigint REFERENCES manifests (id) ON DELETE RESTRICT,
    PRIMARY KEY (parent_id, child_digest)
);
CREATE INDEX manifest_children_child ON manifest_children (child_id);
CREATE INDEX manifest_children_missing ON manifest_children (child_digest) WHERE child_id IS NULL;

CREATE TABLE tags (
    repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name           text NOT NULL,
    manifest_id    bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest ON tags (manifest_id);

-- Upload sessions: everything a PATCH needs to continue on any instance.
--   hash_state: serialized resumable hash over bytes [0, byte_offset)
--   parts:      [[part_number, token], ...] written to the storage multipart upload
--   tail:       bytes not yet written because they are fewer than the storage's minimum part
CREATE TABLE uploads (
    id                 uuid PRIMARY KEY,
    repository         text NOT NULL,
    algorithm          text NOT NULL DEFAULT 'sha256',
    byte_offset        bigint NOT NULL DEFAULT 0,
    hash_state         bytea,
    storage_upload_id  text,
    parts              jsonb NOT NULL DEFAULT '[]'::jsonb,
    tail               bytea NOT NULL DEFAULT ''::bytea,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_updated ON uploads (updated_at);
