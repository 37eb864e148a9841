# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Retention policies (which tags a sweep deletes) and immutable tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hareg.check.objects import find_missing_objects
from hareg.config import ConfigError, RetentionRule, load_config
from hareg.gc import policy
from hareg.registry.errors import Denied
from hareg.registry.rules import is_immutable, rule_for
from hareg.storage import layout
from tests import oci
from tests.gc.conftest import Env

NOW = datetime(2026, 1, 10, tzinfo=UTC)


def _tags(*ages_in_days: float) -> list[policy.TagState]:
    return [policy.TagState(f"t{i}", i, f"sha256:{i:064x}", NOW - timedelta(days=age))
            for i, age in enumerate(ages_in_days)]


def _deleted(rule: RetentionRule, tags: list[policy.TagState],
             promoted: set[tuple[str, str]] | None = None) -> list[str]:
    return sorted(v.tag.name for v in policy.expired_tags(rule, tags, NOW, promoted or set()))


# -------------------------------------------------------------------- the rules alone


def test_keep_last_keeps_the_most_recently_pushed() -> None:
    tags = _tags(5, 1, 3, 2, 4)  # t1 newest, then t3, t2, t4, t0
    assert _deleted(RetentionRule("r", keep_last=2), tags) == ["t0", "t2", "t4"]
    assert _deleted(RetentionRule("r", keep_last=0), tags) == ["t0", "t1", "t2", "t3", "t4"]


def test_expire_after_deletes_tags_older_than_the_duration() -> None:
    tags = _tags(8, 1, 6.9, 30)
    assert _deleted(RetentionRule("r", expire_after="7d"), tags) == ["t0", "t3"]


def test_keep_last_is_a_floor_under_expire_after() -> None:
    tags = _tags(10, 20, 30, 1)
    assert _deleted(RetentionRule("r", keep_last=2, expire_after="7d"), tags) == ["t1", "t2"]


def test_keep_tags_protect_and_promotions_are_never_deleted() -> None:
    tags = [policy.TagState(name, i, f"sha256:{i:064x}", NOW - timedelta(days=30))
            for i, name in enumerate(["latest", "v1.2.3", "v1.2", "feature-x", "promoted"])]
    rule = RetentionRule("r", expire_after="7d", keep_tags="latest|stable",
                         protect=r"v\d+\.\d+\.\d+")
    assert _deleted(rule, tags, {("promoted", f"sha256:{4:064x}")}) == ["feature-x", "v1.2"]
    # a promotion protects the tag only while it still points at the promoted digest
    assert "promoted" in _deleted(rule, tags, {("promoted", f"sha256:{9:064x}")})


def test_a_rule_without_keep_last_or_expire_after_deletes_nothing() -> None:
    assert _deleted(RetentionRule("r", immutable_tags="v.*"), _tags(100, 200)) == []


def test_the_first_matching_rule_applies_with_the_globs_of_auth_rules() -> None:
    rules = (RetentionRule("dev/special", keep_last=50), RetentionRule("dev/**", keep_last=1),
             RetentionRule("team/*", keep_last=2), RetentionRule("**", immutable_tags="v.*"))
    assert rule_for(rules, "dev/special").keep_last == 50
    assert rule_for(rules, "dev/team/app").keep_last == 1  # ** crosses '/'
    assert rule_for(rules, "team/app").keep_last == 2
    assert rule_for(rules, "team/app/db").immutable_tags == "v.*"  # * does not
    assert rule_for(rules, "release/app").immutable_tags == "v.*"
    assert is_immutable(rules, "release/app", "v1.0")
    assert not is_immutable(rules, "release/app", "latest")
    assert not is_immutable(rules, "dev/app", "v1.0")  # dev/** matched first


def test_invalid_rules_are_config_errors(tmp_path: Path) -> None:
    for rule, problem in (('repository = "Dev/*"', "retention.0.repository"),
                          ('repository = "a"\nkeep_tags = "("', "retention.0.keep_tags"),
                          ('repository = "a"\nexpire_after = "7 days"', "retention.0.expire_after"),
                          ('repository = "a"\nkeep_last = -1', "retention.0.keep_last")):
        path = tmp_path / "hareg.toml"
        path.write_text(f"[[retention]]\n{rule}\n")
        with pytest.raises(ConfigError, match=problem):
            load_config(path, env={})


def test_gc_settings_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "hareg.toml"
    path.write_text('[gc]\ngrace_period = "15m"\n[[retention]]\nrepository = "dev/**"\n'
                    'keep_last = 3\n')
    config = load_config(path, env={"HAREG_GC_SCHEDULE": "6h", "HAREG_GC_KEEP_REFERRERS": "no"})
    assert config.gc.grace_seconds == 900 and config.gc.schedule_seconds == 6 * 3600
    assert config.gc.keep_referrers is False and config.gc.upload_max_age_seconds == 86400
    assert config.retention == (RetentionRule("dev/**", keep_last=3),)
    with pytest.raises(ConfigError, match=r"gc\.grace_period"):
        load_config(None, env={"HAREG_GC_GRACE_PERIOD": "soon"})


# ------------------------------------------------------------------ through the sweep


def _push_tags(env: Env, repo: str, ages_in_days: dict[str, float]) -> dict[str, oci.Manifest]:
    images = {}
    for tag, age in ages_in_days.items():
        image = oci.image_manifest(oci.config_blob(), [oci.random_blob(400)])
        env.push_image(repo, image, tag)
        env.query("UPDATE tags t SET updated_at = now() - %s * interval '1 day'"
                  " FROM repositories r WHERE r.id = t.repository_id AND r.name = %s"
                  " AND t.name = %s", age, repo, tag)
        images[tag] = image
    return images


def test_retention_deletes_tags_and_the_sweep_collects_what_they_kept(env: Env) -> None:
    env = env.with_rules(RetentionRule("dev/*", keep_last=2, expire_after="7d",
                                       protect="release-.*"))
    images = _push_tags(env, "dev/app", {"a": 30, "b": 20, "c": 10, "d": 3, "e": 1,
                                         "release-1": 90})
    others = _push_tags(env, "prod/app", {"old": 400})  # no rule: untouched
    env.age()

    result = env.gc()
    counts = result.summary.counts
    assert counts.tags == 3  # a, b, c: older than 7 days and not among the last 2
    assert env.tags("dev/app") == ["d", "e", "release-1"]
    assert env.tags("prod/app") == ["old"]
    assert counts.manifests == 3
    for tag in ("a", "b", "c"):
        assert not env.exists(layout.tag_current_link("dev/app", tag))
        assert list(env.storage.list_objects(layout.tag_dir("dev/app", tag))) == []
        assert not env.has_manifest("dev/app", images[tag].digest)
    for tag in ("d", "e", "release-1"):
        assert env.has_manifest("dev/app", images[tag].digest)
    assert env.has_manifest("prod/app", others["old"].digest)
    assert find_missing_objects(env.reg) == []


def test_dry_run_reports_what_retention_would_delete(env: Env) -> None:
    env = env.with_rules(RetentionRule("dev/*", keep_last=1))
    images = _push_tags(env, "dev/app", {"old": 2, "new": 1})
    env.age()
    result = env.gc(dry_run=True)
    assert [(t.tag, t.digest) for t in result.plan.tags] == [("old", images["old"].digest)]
    assert [m.digest for m in result.plan.manifests] == [images["old"].digest]
    assert env.tags("dev/app") == ["new", "old"]


# ------------------------------------------------------------------- immutable tags


def test_an_immutable_tag_cannot_be_moved_but_may_be_pushed_again(env: Env) -> None:
    env = env.with_rules(RetentionRule("release/*", immutable_tags=r"v\d+\.\d+\.\d+"))
    first, second = (oci.image_manifest(oci.config_blob(), [oci.random_blob(100)])
                     for _ in range(2))
    env.push_image("release/app", first, "v1.0.0")
    env.push_image("release/app", first, "v1.0.0")  # same digest: not a move
    with pytest.raises(Denied) as refused:
        env.push_image("release/app", second, "v1.0.0")
    assert (refused.value.code, refused.value.status) == ("DENIED", 403)
    env.push_image("release/app", second, "latest")  # not immutable
    env.push_image("release/app", first, "latest")
    env.push_image("other/app", second, "v1.0.0")  # no rule for this repository
    env.push_image("other/app", first, "v1.0.0")
    (digest,) = env.query("SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id"
                          " JOIN repositories r ON r.id = t.repository_id"
                          " WHERE r.name = 'release/app' AND t.name = 'v1.0.0'")[0]
    assert digest == first.digest
    link = env.storage.get_bytes(layout.tag_current_link("release/app", "v1.0.0"))
    assert layout.parse_link(link) == first.digest
