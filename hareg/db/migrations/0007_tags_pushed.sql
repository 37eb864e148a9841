-- SPDX-FileCopyrightText: 2026 The hareg authors
-- SPDX-License-Identifier: EUPL-1.2
--
-- The web interface (issue 12) shows each repository's last push and which tags retention's
-- keep_last keeps: both read a repository's tags by push time. This index makes them a
-- short index scan instead of a sort of every tag of the repository.
-- Expand-only: the previous release ignores it.

CREATE INDEX IF NOT EXISTS tags_pushed ON tags (repository_id, updated_at);
