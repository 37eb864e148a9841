# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Promotion by reference, its protection from the source's retention, and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hareg.check.objects import find_missing_objects
from hareg.config import RetentionRule
from hareg.registry import manifests
from hareg.registry.errors import Denied, ManifestUnknown, NameInvalid, RequestInvalid
from hareg.registry.promotion import promote
from hareg.storage import layout
from hareg_cli.main import cli
from tests import oci
from tests.gc.conftest import Env


def _image() -> oci.Manifest:
    return oci.image_manifest(oci.config_blob(), [oci.random_blob(600), oci.random_blob(300)])


def _count(env: Env, table: str) -> int:
    return env.query(f"SELECT count(*) FROM {table}")[0][0]


def test_promotion_links_the_blobs_and_copies_no_bytes(env: Env) -> None:
    image = _image()
    env.push_image("dev/app", image, "1.0")
    blobs_before = _count(env, "blobs")
    files_before = {o.key for o in env.storage.list_objects(layout.blobs_root())}

    result = promote(env.reg, "dev/app:1.0", "release/app", "ci@example")
    assert (str(result.source), str(result.target)) == ("dev/app:1.0", "release/app:1.0")
    assert (result.digest, result.manifests, result.blobs_linked) == (image.digest, 1, 3)
    assert _count(env, "blobs") == blobs_before
    assert {o.key for o in env.storage.list_objects(layout.blobs_root())} == files_before
    assert env.tags("release/app") == ["1.0"]
    for blob in image.blobs:
        assert env.has_link("release/app", blob.digest)
        assert env.exists(layout.layer_link("release/app", blob.digest))
    assert env.exists(layout.revision_link("release/app", image.digest))
    link = env.storage.get_bytes(layout.tag_current_link("release/app", "1.0"))
    assert layout.parse_link(link) == image.digest
    (row,) = env.query("SELECT source_repository, source_tag, target_repository, target_tag,"
                       " digest, promoted_by FROM promotions")
    assert row == ("dev/app", "1.0", "release/app", "1.0", image.digest, "ci@example")

    again = promote(env.reg, "dev/app:1.0", "release/app:stable")  # idempotent links
    assert again.blobs_linked == 0 and env.tags("release/app") == ["1.0", "stable"]
    assert find_missing_objects(env.reg) == []


def test_promoting_an_index_copies_its_children(env: Env) -> None:
    a, b = _image(), _image()
    index = oci.image_index([a, b])
    env.push_image("dev/multi", index, "2.0")
    result = promote(env.reg, "dev/multi:2.0", "release/multi:2.0")
    assert result.manifests == 3
    for m in (index, a, b):
        assert env.has_manifest("release/multi", m.digest)
        assert env.exists(layout.revision_link("release/multi", m.digest))
    env.age()
    assert env.gc().summary.counts.manifests == 0
    assert find_missing_objects(env.reg) == []


def test_bad_promotions_fail_cleanly(env: Env) -> None:
    env.push_image("dev/app", _image(), "1.0")
    with pytest.raises(ManifestUnknown):
        promote(env.reg, "dev/app:nope", "release/app")
    with pytest.raises(RequestInvalid):
        promote(env.reg, "dev/app", "release/app")  # no tag
    with pytest.raises(RequestInvalid):
        promote(env.reg, "dev/app:1.0", "dev/app:copy")  # same repository
    with pytest.raises(NameInvalid):
        promote(env.reg, "dev/app:1.0", "Release/App")
    assert _count(env, "promotions") == 0


def test_promotion_to_an_immutable_tag_that_exists_elsewhere_is_denied(env: Env) -> None:
    env = env.with_rules(RetentionRule("release/*", immutable_tags=r"\d+\.\d+"))
    first, second = _image(), _image()
    env.push_image("dev/app", first, "1.0")
    promote(env.reg, "dev/app:1.0", "release/app")
    env.push_image("dev/app", second, "1.0")  # dev is mutable
    with pytest.raises(Denied):
        promote(env.reg, "dev/app:1.0", "release/app")
    assert _count(env, "promotions") == 1


def test_the_promoted_tag_is_protected_from_the_source_retention(env: Env) -> None:
    env = env.with_rules(RetentionRule("dev/*", keep_last=1))
    promoted, later = _image(), _image()
    env.push_image("dev/app", promoted, "1.0")
    env.query("UPDATE tags SET updated_at = now() - interval '1 day'")
    env.push_image("dev/app", later, "2.0")
    promote(env.reg, "dev/app:1.0", "release/app")
    env.age()

    assert env.gc().summary.counts.tags == 0  # 1.0 is beyond keep_last, but promoted
    assert env.tags("dev/app") == ["1.0", "2.0"]

    # Once the target lets go of the manifest the protection ends.
    manifests.delete_manifest(env.reg, "release/app", promoted.digest)
    result = env.gc()
    assert result.summary.counts.tags == 1 and env.tags("dev/app") == ["2.0"]
    assert not env.has_manifest("dev/app", promoted.digest)
    assert find_missing_objects(env.reg) == []


def test_the_source_manifest_stays_while_a_promotion_references_it(env: Env) -> None:
    image = _image()
    env.push_image("dev/app", image, "1.0")
    promote(env.reg, "dev/app:1.0", "release/app")
    manifests.delete_manifest(env.reg, "dev/app", "1.0")  # the source tag goes by hand
    env.age()
    assert env.gc().summary.counts.manifests == 0
    assert env.has_manifest("dev/app", image.digest)
    for blob in image.blobs:
        assert env.has_link("dev/app", blob.digest)


# ------------------------------------------------------------------------------- CLI


def _config_file(env: Env, tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "hareg.toml"
    path.write_text(f'[database]\nurl = "{env.url}"\n'
                    f'[storage]\ndriver = "filesystem"\nroot = "{env.storage.root}"\n'
                    f'[gc]\ngrace_period = "1h"\n{extra}')
    return str(path)


def test_hareg_promote_and_gc_commands(env: Env, tmp_path: Path) -> None:
    image = _image()
    env.push_image("dev/app", image, "1.0")
    env.push_image("dev/app", _image(), "1.0")  # the first image is now untagged
    config = _config_file(env, tmp_path, '[[retention]]\nrepository = "dev/*"\nkeep_last = 5\n')
    runner = CliRunner()

    out = runner.invoke(cli, ["promote", "--config", config, "--by", "tester",
                              "dev/app:1.0", "release/app:1.0"])
    assert out.exit_code == 0, out.output
    assert "promoted dev/app:1.0 -> release/app:1.0" in out.output
    out = runner.invoke(cli, ["promote", "--config", config, "dev/app:missing", "release/app"])
    assert out.exit_code == 2 and "MANIFEST_UNKNOWN" in out.output

    env.age()
    out = runner.invoke(cli, ["gc", "--config", config, "--dry-run", "--no-progress"])
    assert out.exit_code == 0, out.output
    assert f"dev/app@{image.digest}" in out.output
    assert "would delete 0 tags, 1 manifest, 3 links" in out.output
    assert env.has_manifest("dev/app", image.digest)

    out = runner.invoke(cli, ["gc", "--config", config, "--no-progress"])
    assert out.exit_code == 0, out.output
    assert "deleted 0 tags, 1 manifest, 3 links" in out.output
    assert not env.has_manifest("dev/app", image.digest)

    out = runner.invoke(cli, ["gc", "--config", config, "--history"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert "manif." in lines[0] and len(lines) >= 3 and "(* dry run" in lines[-1]
