# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Retention's ``not_pulled_for`` on a remote namespace's cache, through real sweeps: the
stale cached tag goes, the pulled ones stay, the sweep re-reads the last pull under the tag's
lock, and ``hareg gc --dry-run`` says why."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hareg.check.objects import find_missing_objects
from hareg.config import RetentionRule
from hareg.gc import collect
from hareg.registry import manifests
from hareg.remote.pull import record_pulled
from hareg.storage import layout
from hareg_cli.main import cli
from tests import oci
from tests.gc.conftest import Env

REPO = "hub/library/app"
RULE = RetentionRule("hub/**", not_pulled_for="30d")
LONG_AGO = "2020-01-01"


def _image() -> oci.Manifest:
    return oci.image_manifest(oci.config_blob(), [oci.random_blob(500)])


def _cache(env: Env, image: oci.Manifest, tag: str | None = None) -> None:
    """Store ``image`` as the pull-through cache does (``put_manifest(cache=True)``)."""
    for blob in image.blobs:
        env.push_blob(REPO, blob)
    for child in image.children:
        _cache(env, child)
    manifests.put_manifest(env.reg, REPO, tag or image.digest, image.data, image.media_type,
                           cache=True)


def _seed(env: Env) -> dict[str, oci.Manifest]:
    """Cached 100 days ago, all last pulled in 2020; then ``used`` and the platform manifest
    of ``multi`` (by digest only) are pulled today. ``dev/app`` is local: no rule matches."""
    child = _image()
    images = {"stale": _image(), "used": _image(), "multi": oci.image_index([child])}
    for tag, image in images.items():
        _cache(env, image, tag)
    env.push_image("dev/app", _image(), "old")
    env.query("UPDATE tags SET updated_at = now() - interval '100 days'")
    env.query("UPDATE manifests SET pulled_on = %s", LONG_AGO)
    record_pulled(env.reg, REPO, images["used"].digest)  # what a pull through hub/ records
    record_pulled(env.reg, REPO, child.digest)
    env.age()
    return images


def test_not_pulled_for_collects_only_the_cached_tags_nobody_pulls(env: Env) -> None:
    env = env.with_rules(RULE)
    images = _seed(env)
    (today,) = env.query("SELECT pulled_on FROM manifests WHERE digest = %s",
                         images["used"].digest)[0]
    assert str(today) != LONG_AGO

    plan = env.gc(dry_run=True).plan
    assert [(t.repository, t.tag, t.reason) for t in plan.tags] == [
        (REPO, "stale", f"not pulled for 30d (last pulled {LONG_AGO})")]
    assert [m.digest for m in plan.manifests] == [images["stale"].digest]

    counts = env.gc().summary.counts
    assert (counts.tags, counts.manifests, counts.skipped) == (1, 1, 0)
    assert env.tags(REPO) == ["multi", "used"]
    assert env.tags("dev/app") == ["old"]  # pulled_on NULL/old too, but no rule matches
    assert not env.has_manifest(REPO, images["stale"].digest)
    assert not env.exists(layout.tag_current_link(REPO, "stale"))
    for blob in images["stale"].blobs:
        assert not env.has_link(REPO, blob.digest)
    for tag in ("used", "multi"):
        assert env.has_manifest(REPO, images[tag].digest)
    assert env.has_manifest(REPO, images["multi"].children[0].digest)
    assert find_missing_objects(env.reg) == []
    assert env.gc().summary.counts.tags == 0  # nothing left to judge


def test_a_pull_after_the_plan_keeps_the_tag(env: Env, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """The plan dooms the stale tag; it is pulled before the sweep takes the tag's lock: the
    re-check reads the new ``pulled_on`` and keeps it."""
    env = env.with_rules(RULE)
    images = _seed(env)
    make_plan = collect.make_plan

    def plan_then_pull(*args: object) -> object:
        plan = make_plan(*args)  # type: ignore[arg-type]
        assert [t.tag for t in plan.tags] == ["stale"]
        record_pulled(env.reg, REPO, images["stale"].digest)
        return plan

    monkeypatch.setattr(collect, "make_plan", plan_then_pull)
    counts = env.gc().summary.counts
    assert counts.tags == 0 and counts.skipped >= 1
    assert env.tags(REPO) == ["multi", "stale", "used"]
    assert env.has_manifest(REPO, images["stale"].digest)
    assert find_missing_objects(env.reg) == []


def test_gc_dry_run_prints_the_stale_tag_with_its_reason(env: Env, tmp_path: Path) -> None:
    images = _seed(env)
    config = tmp_path / "hareg.toml"
    config.write_text(f'[database]\nurl = "{env.url}"\n'
                      f'[storage]\ndriver = "filesystem"\nroot = "{env.storage.root}"\n'
                      '[[retention]]\nrepository = "hub/**"\nnot_pulled_for = "30d"\n')
    out = CliRunner().invoke(cli, ["gc", "--dry-run", "--no-progress", "--config", str(config)])
    assert out.exit_code == 0, out.output
    assert "retention would delete 1 tag:" in out.output
    assert (f"  {REPO}:stale -> {images['stale'].digest}"
            f" (not pulled for 30d (last pulled {LONG_AGO}))") in out.output
    assert env.tags(REPO) == ["multi", "stale", "used"]
