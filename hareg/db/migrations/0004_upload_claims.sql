-- SPDX-FileCopyrightText: 2026 The hareg authors
-- SPDX-License-Identifier: EUPL-1.2
--
-- Upload claims (issue 14): a PATCH or PUT claims its upload row for a short lease in one
-- statement, streams the body with no database connection held, renews the lease as the body
-- arrives, and stores the new state with a compare-and-set on (claimed_by, byte_offset). The
-- abandoned-upload sweep passes over rows whose claim is live.
-- Expand-only: two nullable columns; the previous release ignores them (it locks the row
-- FOR UPDATE instead, which a claim's UPDATE waits for).

ALTER TABLE uploads ADD COLUMN claimed_by uuid;
ALTER TABLE uploads ADD COLUMN claimed_until timestamptz;

-- The digest a PUT is finishing the upload with, set (with the final offset, parts and hash
-- state) before the storage side completes: a retry after a crash between storage completion
-- and commit knows the object is, or is about to be, complete, and verifies and commits it.
ALTER TABLE uploads ADD COLUMN finishing text;
