# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The catalog and tag list queries: what a page holds, and the plan that keeps a page's cost
independent of the table sizes (issue 11: hashed subplans over whole tables, or a sequential
scan per repository, made a catalog page cost 240 ms at 2,000 repositories).

Plans are asserted on their shape (which scans), never on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import psycopg2
import pytest

from hareg.auth.globs import glob_to_regex
from hareg.db import repositories, tags, virtual

SKEW_MANIFESTS = 3000
OTHERS = 2000


def _digest(i: int | str) -> str:
    return "sha256:" + f"{i}".rjust(64, "0")[-64:]


@pytest.fixture(scope="module")
def conn(pg: Any) -> Iterator[Any]:
    """A database shaped like a busy registry: one repository with many manifests, one with
    many tags, many that only link a blob; statistics fresh."""
    url = pg.migrated_database("listing")
    with closing(psycopg2.connect(url)) as c:
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("INSERT INTO blobs (digest, size)"
                        " SELECT 'sha256:' || lpad(i::text, 64, '0'), 10"
                        " FROM generate_series(0, %s) i", (SKEW_MANIFESTS,))
            cur.execute("INSERT INTO repositories (name) VALUES ('big/manifests'), ('big/tags')")
            cur.execute("INSERT INTO repositories (name) SELECT 'other/r' || lpad(i::text, 5, '0')"
                        " FROM generate_series(1, %s) i", (OTHERS,))
            cur.execute("INSERT INTO repository_blobs (repository_id, digest)"
                        " SELECT id, %s FROM repositories WHERE name LIKE 'other/%%'",
                        (_digest(0),))
            cur.execute("INSERT INTO manifests (repository_id, digest, media_type, payload)"
                        " SELECT r.id, 'sha256:' || lpad(i::text, 64, '0'), 'x', '\\x00'"
                        " FROM repositories r, generate_series(1, %s) i"
                        " WHERE r.name = 'big/manifests'", (SKEW_MANIFESTS,))
            cur.execute("INSERT INTO manifests (repository_id, digest, media_type, payload)"
                        " SELECT id, %s, 'x', '\\x00' FROM repositories WHERE name = 'big/tags'",
                        (_digest(0),))
            cur.execute("INSERT INTO tags (repository_id, name, manifest_id)"
                        " SELECT m.repository_id, 'v' || lpad(i::text, 5, '0'), m.id"
                        " FROM manifests m JOIN repositories r ON r.id = m.repository_id,"
                        " generate_series(1, 3000) i WHERE r.name = 'big/tags'")
            # Repositories a catalog must skip: one emptied, and names around byte order.
            cur.execute("INSERT INTO repositories (name) VALUES ('empty/repo')")
            cur.execute("VACUUM ANALYZE")
        yield c


class _Explaining:
    """A cursor that EXPLAINs what it is given: the query function under test then returns
    the plan's lines instead of its rows."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, args: Any = None) -> None:
        self._cur.execute("EXPLAIN " + sql, args)

    def fetchall(self) -> list[tuple[str]]:
        return self._cur.fetchall()

    def fetchone(self) -> tuple[str]:
        return ("\n".join(r[0] for r in self._cur.fetchall()),)


def test_catalog_lists_what_holds_a_manifest_or_a_blob_link_in_byte_order(conn: Any):
    with conn.cursor() as cur:
        page = repositories.list_nonempty(cur, "", None, 5)
        assert page == ["big/manifests", "big/tags", "other/r00001", "other/r00002",
                        "other/r00003"]
        assert repositories.list_nonempty(cur, "other/r01998", None, 5) == [
            "other/r01999", "other/r02000"]
        # empty/repo (no manifest, no blob link) is never listed.
        assert repositories.list_nonempty(cur, "big/tags", None, 1) == ["other/r00001"]
        assert repositories.list_nonempty(cur, "", [r"^big/.*\Z", r"^other/r0000[12]\Z"],
                                          10) == ["big/manifests", "big/tags",
                                                  "other/r00001", "other/r00002"]
        assert repositories.list_nonempty(cur, "", [r"^empty/.*\Z"], 10) == []


@pytest.mark.parametrize("after", ["", "other/r01000"])
def test_catalog_page_probes_indexes_only(conn: Any, after: str):
    """Each repository of the page is probed through an index: no sequential scan, no
    hashed subplan (a hash built from a whole table on every page)."""
    with conn.cursor() as cur:
        plan = "\n".join(repositories.list_nonempty(
            _Explaining(cur), after, None, 101))  # type: ignore[arg-type]
    assert "Seq Scan" not in plan, plan
    assert "hashed SubPlan" not in plan, plan
    assert "repositories_name_bytewise" in plan, plan


def test_tag_list_pages(conn: Any):
    with conn.cursor() as cur:
        assert tags.list_tags(cur, "big/tags", "", 3) == ["v00001", "v00002", "v00003"]
        assert tags.list_tags(cur, "big/tags", "v02999", 10) == ["v03000"]
        assert tags.list_tags(cur, "big/tags", "v03000", 10) == []
        assert len(tags.list_tags(cur, "big/tags", "", 10_001)) == 3000
        assert tags.list_tags(cur, "big/manifests", "", 10) == []
        assert tags.list_tags(cur, "no/such", "", 10) == []


def test_tag_list_is_an_index_range_scan(conn: Any):
    with conn.cursor() as cur:
        plan = tags.list_tags(_Explaining(cur), "big/tags", "v01000", 101)  # type: ignore[arg-type]
    assert "tags_name_bytewise" in plan, plan
    assert "Seq Scan" not in plan and "Sort" not in plan.replace("Sort Key", ""), plan


@pytest.mark.parametrize(("glob", "prefix"), [
    ("team/*", "team/"), ("team/app", "team/app"), ("**", ""), ("a.b/c?d", "a.b/c"),
    ("x/**/y", "x/"), ("t-1/a_b*", "t-1/a_b"),
])
def test_literal_prefix_of_permission_globs(glob: str, prefix: str):
    assert repositories.literal_prefix(glob_to_regex(glob)) == prefix


@pytest.mark.parametrize(("regex", "prefix"), [
    ("ab", ""), ("^ab*c", "a"), ("^a|b", ""), ("^(a|b)", ""), ("^Ab", ""), ("^a+", ""),
    ("^a.b", "a"),
])
def test_literal_prefix_is_never_wrong_for_other_regexes(regex: str, prefix: str):
    assert repositories.literal_prefix(regex) == prefix


def test_filtered_catalog_merges_the_ranges_of_its_regexes(conn: Any):
    matching = [glob_to_regex("other/r0001*"), glob_to_regex("big/tags"),
                glob_to_regex("other/r00015"), glob_to_regex("empty/**")]
    with conn.cursor() as cur:
        first = repositories.list_nonempty(cur, "", matching, 4)
        assert first == ["big/tags", "other/r00010", "other/r00011", "other/r00012"]
        rest = repositories.list_nonempty(cur, first[-1], matching, 100)
        # other/r00015 matches two regexes: listed once.
        assert rest == [f"other/r000{i}" for i in range(13, 20)]
        plan = "\n".join(repositories.list_nonempty(
            _Explaining(cur), "", matching, 101))  # type: ignore[arg-type]
    assert "'other/r0001'" in plan and "'other/r0002'" in plan, plan  # a range, not a scan
    assert "Seq Scan" not in plan and "hashed SubPlan" not in plan, plan


def test_virtual_catalog_page_probes_indexes_only(conn: Any):
    """The catalog of virtual namespaces tests non-emptiness the same way."""
    ranges = [virtual.NameRange("", "other/", "other0", "v/", "other/")]
    with conn.cursor() as cur:
        assert virtual.catalog(cur, ranges, None, 3) == ["v/r00001", "v/r00002", "v/r00003"]
        plan = "\n".join(virtual.catalog(_Explaining(cur), ranges, None, 101))  # type: ignore[arg-type]
    assert "Seq Scan" not in plan and "hashed SubPlan" not in plan, plan
