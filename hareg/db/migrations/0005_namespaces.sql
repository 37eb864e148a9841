-- SPDX-FileCopyrightText: 2026 The hareg authors
-- SPDX-License-Identifier: EUPL-1.2
--
-- Namespace definitions (issue 10, docs/virtual-remote.rst): a namespace is the first component
-- of a repository name; it is local unless a row here defines it as remote (a pull-through
-- cache of an upstream registry) or virtual (one name over ordered members). The definition
-- is the JSON form of hareg.registry.namespaces.Remote or Virtual; the bucket holds a copy of
-- each (the bucket is the truth: hareg rebuild-db restores them).
-- Expand-only: the previous release ignores the table (and serves every namespace as local).

CREATE TABLE namespaces (
    name        text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('remote', 'virtual')),
    definition  jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
