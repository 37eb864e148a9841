# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The name ranges a catalog page scans (pure functions: no database)."""

from __future__ import annotations

import pytest

from hareg.auth.globs import glob_to_regex
from hareg.db.virtual import NameRange
from hareg.registry.namespaces import Namespaces, Virtual
from hareg.registry.visibility import EVERYTHING, RepositoryFilter
from hareg.virtual.listing import TOP, catalog_ranges, literal_prefix
from hareg.virtual.members import exactly

NAMESPACES = Namespaces([Virtual("docker", ("release", "dev"), deploy="dev")])


@pytest.mark.parametrize(("glob", "prefix"), [
    ("**", ""), ("team/**", "team/"), ("team/*", "team/"), ("a.b/c?d", "a.b/c"),
    ("x*", "x"), ("docker/team/app", "docker/team/app"),
])
def test_literal_prefix_of_rule_patterns(glob: str, prefix: str) -> None:
    assert literal_prefix(glob_to_regex(glob)) == prefix


@pytest.mark.parametrize(("regex", "prefix"), [
    (r"^ab?c\Z", "a"), (r"^a|b\Z", ""), ("a.*", ""), (r"^a\.b-c_d/e\Z", "a.b-c_d/e"),
])
def test_literal_prefix_stays_on_the_safe_side(regex: str, prefix: str) -> None:
    assert literal_prefix(regex) == prefix


def test_literal_prefix_of_an_exact_name() -> None:
    assert [literal_prefix(r) for r in exactly(["a.b/c"]).regexes or ()] == ["a.b/c"]


def test_everything() -> None:
    assert catalog_ranges(NAMESPACES, EVERYTHING, "") == [
        NameRange("", "", TOP),
        NameRange("", "release/", "release0", "docker", "release"),
        NameRange("", "dev/", "dev0", "docker", "dev"),
    ]


def test_after_inside_the_virtual_namespace() -> None:
    assert catalog_ranges(NAMESPACES, EVERYTHING, "docker/team/app") == [
        NameRange("docker/team/app", "", TOP),
        NameRange("release/team/app", "release/", "release0", "docker", "release"),
        NameRange("dev/team/app", "dev/", "dev0", "docker", "dev"),
    ]


def test_after_past_the_virtual_namespace() -> None:
    assert catalog_ranges(NAMESPACES, EVERYTHING, "e") == [NameRange("e", "", TOP)]


def test_patterns_narrow_every_range() -> None:
    """bob may pull docker/team/** and release/**: the dev member and every other local
    repository cost nothing; the release member only its team/ part."""
    visible = RepositoryFilter((glob_to_regex("docker/team/**"), glob_to_regex("release/**")))
    assert catalog_ranges(NAMESPACES, visible, "") == [
        NameRange("", "docker/team/", "docker/team0"),
        NameRange("", "release/", "release0"),
        NameRange("", "release/team/", "release/team0", "docker", "release"),
    ]
    assert catalog_ranges(NAMESPACES, visible, "release/x") == [
        NameRange("release/x", "release/", "release0")]
    assert catalog_ranges(NAMESPACES, RepositoryFilter((glob_to_regex("docker/**"),)), "") == [
        NameRange("", "docker/", "docker0")]
