# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A push or promotion whose transaction fails after its storage writes takes them back; a
failed delete puts back the links its rows still name.

A failure is injected (a database function raises) after the payload, revision and tag links
were written and before COMMIT. Afterwards storage must agree with the committed rows: the tag
link names what the ``tags`` row names, and no revision link or payload is left that
``hareg rebuild-db`` would adopt. Each test then rebuilds a fresh database from the same
storage and compares its manifests and tags with the live database's. Both storage drivers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hareg.db import manifests as manifest_rows
from hareg.db import promotions as promotion_rows
from hareg.db import tags as tag_rows
from hareg.db.migrate import apply_migrations
from hareg.db.pool import Database
from hareg.rebuild import RebuildOptions, rebuild
from hareg.registry import manifests
from hareg.registry.promotion import promote
from hareg.storage import layout
from tests import oci
from tests.gc.conftest import Env


class Injected(RuntimeError):
    """The failure a test injects between the storage writes and COMMIT."""


def _after(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func``, then the injected failure: the statement ran, the transaction cannot commit."""

    def failing(*args: Any, **kwargs: Any) -> Any:
        func(*args, **kwargs)
        raise Injected(func.__name__)

    return failing


def _state(db_query: Callable[..., list[tuple]]) -> tuple[set[tuple], set[tuple]]:
    manifests_ = set(db_query("SELECT r.name, m.digest FROM manifests m"
                              " JOIN repositories r ON r.id = m.repository_id"))
    tags = set(db_query("SELECT r.name, t.name, m.digest FROM tags t"
                        " JOIN repositories r ON r.id = t.repository_id"
                        " JOIN manifests m ON m.id = t.manifest_id"))
    return manifests_, tags


def _assert_rebuild_agrees(env: Env, pg: Any) -> None:
    """A database rebuilt from the storage alone has the live database's manifests and tags."""
    url = pg.fresh_database("hareg_rebuilt")
    apply_migrations(url)
    db = Database(url, size=4)
    try:
        summary = rebuild(db, env.storage, RebuildOptions(jobs=2))
        assert not summary.get("errors"), summary

        def query(sql: str) -> list[tuple]:
            with db.read() as cur:
                cur.execute(sql)
                return cur.fetchall()

        assert _state(query) == _state(env.query)
    finally:
        db.close()


def _current(env: Env, repo: str, tag: str) -> str:
    return layout.parse_link(env.storage.get_bytes(layout.tag_current_link(repo, tag)))


@pytest.mark.parametrize("where", ["after-manifest-rows", "after-tag-links"])
def test_a_failed_push_takes_back_its_payload_revision_and_tag_links(
        any_env: Env, pg: Any, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    env, repo = any_env, "app/web"
    old, new = oci.image_manifest(), oci.image_manifest()
    env.push_image(repo, old, "latest")
    for blob in new.blobs:
        env.push_blob(repo, blob)
    if where == "after-manifest-rows":
        monkeypatch.setattr(manifest_rows, "insert_child_references",
                            _after(manifest_rows.insert_child_references))
    else:
        monkeypatch.setattr(tag_rows, "upsert_tag", _after(tag_rows.upsert_tag))
    with pytest.raises(Injected):
        manifests.put_manifest(env.reg, repo, new.digest, new.data, new.media_type,
                               ["latest", "fresh"])
    monkeypatch.undo()

    assert _current(env, repo, "latest") == old.digest
    assert not env.exists(layout.tag_index_link(repo, "latest", new.digest))
    assert not env.exists(layout.tag_current_link(repo, "fresh"))
    assert not env.exists(layout.revision_link(repo, new.digest))
    assert not env.exists(layout.blob_data(new.digest))
    assert env.exists(layout.revision_link(repo, old.digest))
    assert env.tags(repo) == ["latest"] and not env.has_manifest(repo, new.digest)
    _assert_rebuild_agrees(env, pg)

    # The registry still works for the same request afterwards.
    manifests.put_manifest(env.reg, repo, new.digest, new.data, new.media_type, ["latest"])
    assert _current(env, repo, "latest") == new.digest
    _assert_rebuild_agrees(env, pg)


def test_a_failed_new_tag_on_an_existing_manifest_keeps_the_manifest(
        any_env: Env, pg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env, repo = any_env, "app/api"
    image = oci.image_manifest()
    env.push_image(repo, image, "a")
    monkeypatch.setattr(tag_rows, "upsert_tag", _after(tag_rows.upsert_tag))
    with pytest.raises(Injected):
        manifests.put_manifest(env.reg, repo, "b", image.data, image.media_type)
    monkeypatch.undo()
    # The row vouches for the payload and revision link: they stay. The new tag goes.
    assert env.exists(layout.revision_link(repo, image.digest))
    assert env.exists(layout.blob_data(image.digest))
    assert _current(env, repo, "a") == image.digest
    assert not env.exists(layout.tag_current_link(repo, "b"))
    _assert_rebuild_agrees(env, pg)


def test_a_failed_promotion_takes_back_its_links(
        any_env: Env, pg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env = any_env
    first = oci.image_manifest()
    children = [oci.image_manifest(), oci.image_manifest()]
    index = oci.image_index(children)
    env.push_image("dev/app", first, "1.0")
    env.push_image("dev/app", index, "2.0")
    promote(env.reg, "dev/app:1.0", "release/app:stable")
    monkeypatch.setattr(promotion_rows, "insert_promotion",
                        _after(promotion_rows.insert_promotion))
    with pytest.raises(Injected):
        promote(env.reg, "dev/app:2.0", "release/app:stable")
    monkeypatch.undo()

    assert _current(env, "release/app", "stable") == first.digest
    for m in (index, *children):
        assert not env.exists(layout.revision_link("release/app", m.digest))
        assert env.exists(layout.blob_data(m.digest))  # the source's payloads stay
        for blob in m.blobs:
            assert not env.exists(layout.layer_link("release/app", blob.digest))
    for blob in first.blobs:
        assert env.exists(layout.layer_link("release/app", blob.digest))
    _assert_rebuild_agrees(env, pg)


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_a_failed_delete_puts_back_the_links_its_rows_still_name(
        any_env: Env, pg: Any, monkeypatch: pytest.MonkeyPatch, by: str) -> None:
    """The failure comes after the links were removed, before COMMIT: the rows stay, and so
    must the links, or ``hareg rebuild-db`` would drop a manifest the API still serves."""
    env, repo = any_env, "app/gone"
    image = oci.image_manifest()
    env.push_image(repo, image, "latest")
    env.push_image(repo, image, "v1")
    storage = env.reg.storage
    if by == "tag":
        monkeypatch.setattr(storage, "delete_prefix", _after(storage.delete_prefix))
        reference = "latest"
    else:
        monkeypatch.setattr(storage, "delete", _after(storage.delete))
        reference = image.digest
    with pytest.raises(Injected):
        manifests.delete_manifest(env.reg, repo, reference)
    monkeypatch.undo()

    assert env.tags(repo) == ["latest", "v1"] and env.has_manifest(repo, image.digest)
    for tag in ("latest", "v1"):
        assert _current(env, repo, tag) == image.digest
        assert env.exists(layout.tag_index_link(repo, tag, image.digest))
    assert env.exists(layout.revision_link(repo, image.digest))
    _assert_rebuild_agrees(env, pg)

    # The same delete succeeds afterwards, and storage follows.
    manifests.delete_manifest(env.reg, repo, reference)
    assert not env.exists(layout.tag_current_link(repo, "latest"))
    _assert_rebuild_agrees(env, pg)
