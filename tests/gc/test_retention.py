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
    return [policy.TagState(f"t{i}", i, f"sha256:{i:064x}", NOW - timedelta(days=age), None)
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
    tags = [policy.TagState(name, i, f"sha256:{i:064x}", NOW - timedelta(days=30), None)
            for i, name in enumerate(["latest", "v1.2.3", "v1.2", "feature-x", "promoted"])]
    rule = RetentionRule("r", expire_after="7d", keep_tags="latest|stable",
                         protect=r"v\d+\.\d+\.\d+")
    assert _deleted(rule, tags, {("promoted", f"sha256:{4:064x}")}) == ["feature-x", "v1.2"]
    # a promotion protects the tag only while it still points at the promoted digest
    assert "promoted" in _deleted(rule, tags, {("promoted", f"sha256:{9:064x}")})


def test_a_rule_without_keep_last_or_expire_after_deletes_nothing() -> None:
    assert _deleted(RetentionRule("r", immutable_tags="v.*"), _tags(100, 200)) == []


def _used(name: str, pushed_days_ago: float, pulled_days_ago: int | None,
          i: int = 0) -> policy.TagState:
    """A tag pushed that many days ago whose manifest was last pulled on the UTC day that many
    days ago (None: never)."""
    pulled = None if pulled_days_ago is None else (NOW - timedelta(days=pulled_days_ago)).date()
    return policy.TagState(name, i, f"sha256:{i:064x}", NOW - timedelta(days=pushed_days_ago),
                           pulled)


def test_not_pulled_for_deletes_tags_whose_manifest_was_not_pulled_for_that_long() -> None:
    rule = RetentionRule("hub/**", not_pulled_for="7d")
    tags = [_used("pulled-today", 100, 0, 0), _used("pulled-6-days-ago", 100, 6, 1),
            _used("pulled-8-days-ago", 100, 8, 2),  # its day ended 7 days ago: not yet
            _used("pulled-9-days-ago", 100, 9, 3),
            _used("never-pulled-old", 30, None, 4), _used("never-pulled-new", 2, None, 5),
            # moved onto a manifest last pulled long ago: counts from the push
            _used("pushed-after-its-last-pull", 1, 60, 6)]
    assert _deleted(rule, tags) == ["never-pulled-old", "pulled-9-days-ago"]
    reasons = {v.tag.name: v.reason for v in policy.expired_tags(rule, tags, NOW)}
    assert reasons == {"pulled-9-days-ago": "not pulled for 7d (last pulled 2026-01-01)",
                       "never-pulled-old": "not pulled for 7d (never pulled)"}


def test_not_pulled_for_gives_way_to_protect_keep_tags_keep_last_and_promotions() -> None:
    stale = [_used(name, 50, 40, i) for i, name in enumerate(
        ["latest", "v1.2.3", "promoted", "a", "b", "c"])]
    fresh = _used("d", 50, 1, 9)
    tags = [*stale, fresh]
    promoted = {("promoted", f"sha256:{2:064x}")}
    assert _deleted(RetentionRule("hub/**", not_pulled_for="30d"), tags) == [
        "a", "b", "c", "latest", "promoted", "v1.2.3"]
    assert _deleted(RetentionRule("hub/**", not_pulled_for="30d", protect=r"v\d+\.\d+\.\d+"),
                    tags) == ["a", "b", "c", "latest", "promoted"]
    assert _deleted(RetentionRule("hub/**", not_pulled_for="30d", keep_tags="latest"),
                    tags) == ["a", "b", "c", "promoted", "v1.2.3"]
    assert _deleted(RetentionRule("hub/**", not_pulled_for="30d"), tags, promoted) == [
        "a", "b", "c", "latest", "v1.2.3"]
    # keep_last is a floor, judged on push time (all tags count, the fresh one too)
    newest = [_used(f"t{i}", 31 + i, 40, i) for i in range(5)]
    assert _deleted(RetentionRule("hub/**", keep_last=2, not_pulled_for="30d"),
                    newest) == ["t2", "t3", "t4"]
    assert _deleted(RetentionRule("hub/**", keep_last=2, not_pulled_for="30d"),
                    [*newest[:4], _used("t4", 35, 3, 4)]) == ["t2", "t3"]
    assert _deleted(RetentionRule("hub/**", keep_last=10, not_pulled_for="30d"), newest) == []


def test_not_pulled_for_and_expire_after_each_delete() -> None:
    rule = RetentionRule("hub/**", expire_after="90d", not_pulled_for="30d")
    tags = [_used("old-but-pulled", 100, 1, 0), _used("young-but-unused", 40, 35, 1),
            _used("young-and-pulled", 40, 1, 2)]
    verdicts = {v.tag.name: v.reason for v in policy.expired_tags(rule, tags, NOW)}
    assert verdicts == {"old-but-pulled": "older than 90d",
                        "young-but-unused": "not pulled for 30d (last pulled 2025-12-06)"}


def test_the_sweep_recheck_and_the_web_verdict_read_the_last_pull() -> None:
    rule = RetentionRule("hub/**", not_pulled_for="30d", keep_tags="latest")
    stale = _used("a", 60, 40)
    assert policy.still_expired(rule, stale, NOW)
    # pulled again after the plan (the sweep re-reads pulled_on under the tag's lock): kept
    assert not policy.still_expired(rule, _used("a", 60, 0), NOW)
    assert not policy.still_expired(rule, _used("latest", 60, 40), NOW)
    assert not policy.still_expired(None, stale, NOW)
    fate = policy.tag_fate(rule, "a", stale.updated_at, NOW, recent=False, promoted=False,
                           pulled_on=stale.pulled_on)
    assert (fate.kept, fate.reason) == (False, "not pulled for 30d (last pulled 2025-12-01)")
    fresh = _used("b", 60, 3)
    fate = policy.tag_fate(rule, "b", fresh.updated_at, NOW, recent=False, promoted=False,
                           pulled_on=fresh.pulled_on)
    assert fate.kept and fate.reason == "until not pulled for 30d (last pulled 2026-01-07)"
    assert fate.until == datetime(2026, 2, 7, tzinfo=UTC)  # the end of that day + 30 days
    both = RetentionRule("hub/**", expire_after="70d", not_pulled_for="30d")
    fate = policy.tag_fate(both, "b", fresh.updated_at, NOW, recent=False, promoted=False,
                           pulled_on=fresh.pulled_on)  # pushed 60 days ago: 70d comes first
    assert fate.kept and fate.reason == "until older than 70d"
    assert fate.until == NOW + timedelta(days=10)


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
                          ('repository = "a"\nnot_pulled_for = "a month"',
                           "retention.0.not_pulled_for"),
                          ('repository = "a"\nnot_pulled_for = "0"', "retention.0.not_pulled_for"),
                          ('repository = "a"\nkeep_last = -1', "retention.0.keep_last")):
        path = tmp_path / "hareg.toml"
        path.write_text(f"[[retention]]\n{rule}\n")
        with pytest.raises(ConfigError, match=problem):
            load_config(path, env={})


def test_gc_settings_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "hareg.toml"
    path.write_text('[gc]\ngrace_period = "15m"\n[[retention]]\nrepository = "dev/**"\n'
                    'keep_last = 3\n[[retention]]\nrepository = "hub/**"\n'
                    'not_pulled_for = "30d"\n')
    config = load_config(path, env={"HAREG_GC_SCHEDULE": "6h", "HAREG_GC_KEEP_REFERRERS": "no"})
    assert config.gc.grace_seconds == 900 and config.gc.schedule_seconds == 6 * 3600
    assert config.gc.keep_referrers is False and config.gc.upload_max_age_seconds == 86400
    assert config.retention == (RetentionRule("dev/**", keep_last=3),
                                RetentionRule("hub/**", not_pulled_for="30d"))
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
