# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Counts in words: every count hareg prints goes through hareg.plural."""

from __future__ import annotations

from collections import Counter

from hareg.check.objects import BLOB, LAYER, REVISION, TAG, CheckReport, Missing, summarize
from hareg.plural import counted, plural_of


def test_counted_nouns() -> None:
    assert [counted(n, "blob") for n in (0, 1, 2)] == ["0 blobs", "1 blob", "2 blobs"]
    assert counted(1, "repository") == "1 repository"
    assert counted(3, "empty repository") == "3 empty repositories"
    assert counted(6, "layer link") == "6 layer links"
    assert counted(2, "batch") == "2 batches"
    assert counted(2, "key") == "2 keys"  # a vowel before the y
    assert counted(2, "datum", "data") == "2 data"
    assert plural_of("process") == "processes"


def test_check_summary_counts_in_proper_plurals() -> None:
    report = CheckReport(rows=Counter({BLOB: 7, LAYER: 6, REVISION: 1, TAG: 1}), objects=1,
                         seconds=0.5)
    assert list(summarize(report)) == [
        "checked 7 blobs, 6 layer links, 1 revision link, 1 tag against 1 object in 0.5 s",
        "ok: every row's object exists"]
    report.unknown = Counter({BLOB: 2, LAYER: 1})
    report.unknown_examples = ["blobs/a", "blobs/b", "repositories/x"]
    report.missing = [Missing(TAG, "x:1", "repositories/x/_manifests/tags/1/current/link")]
    assert list(summarize(report))[1:] == [
        ("info: 3 objects no row knows, garbage collection removes them (2 blobs,"
         " 1 layer link); e.g.:"),
        "  blobs/a", "  blobs/b", "  repositories/x",
        "missing objects (kind, row: key):",
        "  tag x:1: repositories/x/_manifests/tags/1/current/link",
        "problems: 1 row points at an object that does not exist"]
