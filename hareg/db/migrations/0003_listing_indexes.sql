-- SPDX-FileCopyrightText: 2026 The hareg authors
-- SPDX-License-Identifier: EUPL-1.2
--
-- Tag lists and the catalog are ordered byte-wise (COLLATE "C"), as the spec asks. Databases
-- created with another collation (C.UTF-8, en_US.UTF-8) cannot use the primary keys for that
-- order: these indexes let a page be an index range scan instead of a sort of everything.
-- Expand-only: the previous release ignores them.

CREATE INDEX IF NOT EXISTS tags_name_bytewise ON tags (repository_id, name COLLATE "C");
CREATE INDEX IF NOT EXISTS repositories_name_bytewise ON repositories (name COLLATE "C");
