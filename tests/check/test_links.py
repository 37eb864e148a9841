# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg check reads tag and revision links and reports those that disagree with the rows.

Each disagreement is one that ``hareg rebuild-db`` would turn into different rows: a tag link
naming another manifest moves the tag, a link without a row is adopted. Links are written by
hand with hareg.storage.layout, as a crash or a failed request would leave them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from click.testing import CliRunner

from hareg.check.links import (
    BAD_REVISION_LINK,
    BAD_TAG_LINK,
    LAYER_LINK_WITHOUT_ROW,
    REVISION_LINK_WITHOUT_MANIFEST,
    TAG_LINK_NAMES_OTHER,
    TAG_LINK_WITHOUT_TAG,
    Disagreement,
)
from hareg.check.objects import LAYER, REVISION, TAG, CheckReport, check_storage, to_json
from hareg.db import locks
from hareg.registry import manifests
from hareg.registry.context import Registry
from hareg.storage import layout
from hareg_cli.main import cli
from tests.check.conftest import push
from tests.fixtures.server import to_toml
from tests.oci import random_blob


def _cli(reg: Registry, tmp_path: Path, *args: str) -> Any:
    config = tmp_path / "hareg.toml"
    config.write_text(to_toml({
        "database": {"url": reg.db.url},
        "storage": {"driver": "filesystem", "root": str(reg.storage.root)},
        # Links these tests write by hand are seconds old: judge them all, not as pending.
        "gc": {"grace_period": "0"}}))
    return CliRunner().invoke(cli, ["check", "--config", str(config), "--no-progress", *args])


def test_a_tag_link_naming_another_manifest_is_reported(reg: Registry, tmp_path: Path) -> None:
    """The finding of issue 14: the tag's row names A, its current link names B."""
    a = push(reg, "a/b", "v1")
    b = push(reg, "a/b", "")
    key = layout.tag_current_link("a/b", "v1")
    reg.storage.put_bytes(key, layout.link_content(b.digest))

    report = check_storage(reg)
    assert not report.ok and report.missing == []
    assert report.disagreements == [
        Disagreement(TAG_LINK_NAMES_OTHER, TAG, "a/b:v1", key, b.digest, a.digest)]
    assert report.in_flight == []

    out = _cli(reg, tmp_path)
    assert out.exit_code == 1, out.output
    lines = out.stdout.splitlines()
    assert f"  a/b:v1: tag link names {b.digest}, row names {a.digest} ({key})" in lines
    assert lines[-1] == "problems: 1 link disagrees with the database"


def test_a_revision_link_without_manifest_is_reported(reg: Registry) -> None:
    push(reg, "a/b", "v1")
    stray = random_blob(64)
    key = layout.revision_link("a/b", stray.digest)
    reg.storage.put_bytes(key, layout.link_content(stray.digest))

    report = check_storage(reg)
    assert not report.ok
    assert report.disagreements == [
        Disagreement(REVISION_LINK_WITHOUT_MANIFEST, REVISION, f"a/b@{stray.digest}", key,
                     stray.digest, None)]


def test_a_young_link_without_row_is_pending_not_a_problem(reg: Registry,
                                                            tmp_path: Path) -> None:
    """A crash between a push's storage writes and its commit leaves links without rows
    (invariant 3 allows them): younger than the grace period they are pending, not problems;
    the orphans pass removes them once older."""
    push(reg, "a/b", "v1")
    stray = random_blob(64)
    key = layout.revision_link("a/b", stray.digest)
    reg.storage.put_bytes(key, layout.link_content(stray.digest))

    report = check_storage(reg, pending_age=timedelta(hours=1))
    assert report.ok and report.disagreements == []
    assert report.pending == [key]
    assert not check_storage(reg, pending_age=timedelta(0)).ok

    config = tmp_path / "default-grace.toml"  # hareg check passes [gc] grace_period (1h)
    config.write_text(to_toml({
        "database": {"url": reg.db.url},
        "storage": {"driver": "filesystem", "root": str(reg.storage.root)}}))
    out = CliRunner().invoke(cli, ["check", "--config", str(config), "--no-progress", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert (doc["pending_count"], doc["pending"]) == (1, [key])


def test_a_tag_link_without_tag_is_reported(reg: Registry) -> None:
    image = push(reg, "a/b", "v1")
    key = layout.tag_current_link("a/b", "ghost")
    reg.storage.put_bytes(key, layout.link_content(image.digest))

    report = check_storage(reg)
    assert not report.ok
    assert report.disagreements == [
        Disagreement(TAG_LINK_WITHOUT_TAG, TAG, "a/b:ghost", key, image.digest, None)]


def test_a_layer_link_without_row_is_reported(reg: Registry) -> None:
    push(reg, "a/b", "v1")
    stray = random_blob(64)
    reg.storage.put_bytes(layout.blob_data(stray.digest), stray.data)
    key = layout.layer_link("a/b", stray.digest)
    reg.storage.put_bytes(key, layout.link_content(stray.digest))

    report = check_storage(reg)
    assert not report.ok
    assert report.disagreements == [
        Disagreement(LAYER_LINK_WITHOUT_ROW, LAYER, f"a/b@{stray.digest}", key, None, None)]


def test_a_manifest_without_revision_link_is_reported_as_missing(reg: Registry) -> None:
    """One wording for a row whose object is gone: the missing-objects path."""
    image = push(reg, "a/b", "v1")
    key = layout.revision_link("a/b", image.digest)
    reg.storage.delete(key)

    report = check_storage(reg)
    assert not report.ok
    assert [(m.kind, m.row, m.key) for m in report.missing] == [
        (REVISION, f"a/b@{image.digest}", key)]
    assert report.disagreements == []


@pytest.mark.parametrize("content", [b"", b"not a digest", b"\xff\xfe", b"sha256:abc"])
def test_bad_links_are_reported(reg: Registry, content: bytes) -> None:
    image = push(reg, "a/b", "v1")
    revision = layout.revision_link("a/b", image.digest)
    tag = layout.tag_current_link("a/b", "v1")
    reg.storage.put_bytes(revision, content)
    reg.storage.put_bytes(tag, content)

    report = check_storage(reg)
    assert not report.ok
    assert report.disagreements == [
        Disagreement(BAD_REVISION_LINK, REVISION, f"a/b@{image.digest}", revision, None,
                     image.digest),
        Disagreement(BAD_TAG_LINK, TAG, "a/b:v1", tag, None, image.digest)]


def test_a_revision_link_naming_another_digest_than_its_key_is_bad(reg: Registry) -> None:
    image = push(reg, "a/b", "v1")
    other = random_blob(64).digest
    key = layout.revision_link("a/b", image.digest)
    reg.storage.put_bytes(key, layout.link_content(other))

    report = check_storage(reg)
    assert report.disagreements == [
        Disagreement(BAD_REVISION_LINK, REVISION, f"a/b@{image.digest}", key, other,
                     image.digest)]


def test_pushes_a_retag_and_deletes_leave_a_consistent_registry(
        reg: Registry, tmp_path: Path) -> None:
    push(reg, "a/b", "v1")
    push(reg, "a/b", "v2")
    push(reg, "a/b", "v1")  # retag: v1 moves to a new manifest
    old = push(reg, "c", "latest")
    push(reg, "c", "latest")
    push(reg, "c", "gone")
    manifests.delete_manifest(reg, "c", "gone")  # by tag
    manifests.delete_manifest(reg, "c", old.digest)  # by digest (no tag left on it)

    report = check_storage(reg)
    assert report.ok, (report.missing, report.disagreements)
    assert report.disagreements == [] and report.in_flight == []
    out = _cli(reg, tmp_path)
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[-1] == "ok: every row's object exists"


@pytest.fixture
def other_connection(reg: Registry) -> Iterator[Any]:
    conn = psycopg2.connect(reg.db.url)
    conn.autocommit = True
    yield conn
    conn.close()


def test_a_link_whose_writer_holds_the_lock_is_in_flight(
        reg: Registry, other_connection: Any, tmp_path: Path) -> None:
    a = push(reg, "a/b", "v1")
    b = push(reg, "a/b", "")
    key = layout.tag_current_link("a/b", "v1")
    reg.storage.put_bytes(key, layout.link_content(b.digest))
    with other_connection.cursor() as cur:  # as a tag move in progress would
        assert locks.try_session_lock(cur, locks.TAG, locks.tag_key("a/b", "v1"))

    report = check_storage(reg)
    assert report.ok and report.disagreements == []
    assert report.in_flight == [key]
    out = _cli(reg, tmp_path, "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert (doc["in_flight_count"], doc["in_flight"]) == (1, [key])

    with other_connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock_all()")
    report = check_storage(reg)
    assert report.disagreements == [
        Disagreement(TAG_LINK_NAMES_OTHER, TAG, "a/b:v1", key, b.digest, a.digest)]
    assert report.in_flight == []


def test_a_revision_link_whose_writer_holds_the_digest_is_in_flight(
        reg: Registry, other_connection: Any) -> None:
    """A push holds the digest's BLOB lock shared from its first write to its COMMIT."""
    push(reg, "a/b", "v1")
    stray = random_blob(64)
    key = layout.revision_link("a/b", stray.digest)
    reg.storage.put_bytes(key, layout.link_content(stray.digest))
    other_connection.autocommit = False
    with other_connection.cursor() as cur:
        locks.lock_blob_shared(cur, stray.digest)
    try:
        report = check_storage(reg)
    finally:
        other_connection.rollback()
    assert report.ok and report.in_flight == [key]


def test_a_tag_moved_during_the_check_is_not_reported(reg: Registry, monkeypatch: Any) -> None:
    """The snapshot has the old digest, the link the new one; the re-check sees the commit."""
    push(reg, "a/b", "v1")
    original = reg.storage.list_objects
    moved: list[str] = []

    def list_after_a_move(prefix: str) -> Iterator[Any]:
        if prefix == layout.repositories_root() and not moved:
            moved.append(push(reg, "a/b", "v1").digest)
        return original(prefix)

    monkeypatch.setattr(reg.storage, "list_objects", list_after_a_move)
    report = check_storage(reg)
    assert moved and report.ok and report.disagreements == [] and report.in_flight == []


def test_cli_json_lists_disagreements(reg: Registry, tmp_path: Path) -> None:
    a = push(reg, "a/b", "v1")
    b = push(reg, "a/b", "")
    key = layout.tag_current_link("a/b", "v1")
    reg.storage.put_bytes(key, layout.link_content(b.digest))
    ghost = layout.tag_current_link("a/b", "ghost")
    reg.storage.put_bytes(ghost, layout.link_content(a.digest))

    out = _cli(reg, tmp_path, "--json")
    assert out.exit_code == 1, out.output
    doc = json.loads(out.stdout)
    assert doc["status"] == "problems" and doc["ok"] is False
    assert doc["missing_count"] == 0
    assert doc["disagreement_count"] == 2
    assert doc["disagreements"] == [
        {"problem": TAG_LINK_WITHOUT_TAG, "kind": "tags", "row": "a/b:ghost", "key": ghost,
         "link": a.digest, "database": None},
        {"problem": TAG_LINK_NAMES_OTHER, "kind": "tags", "row": "a/b:v1", "key": key,
         "link": b.digest, "database": a.digest}]
    assert doc["disagreement_counts"] == {
        BAD_REVISION_LINK: 0, BAD_TAG_LINK: 0, LAYER_LINK_WITHOUT_ROW: 0,
        REVISION_LINK_WITHOUT_MANIFEST: 0, TAG_LINK_NAMES_OTHER: 1, TAG_LINK_WITHOUT_TAG: 1}
    assert doc["links_read"] == 3  # two revision links, the current link of v1 (a row)
    assert (doc["in_flight_count"], doc["in_flight"]) == (0, [])


def test_cli_verdict_counts_both_kinds_of_problem(reg: Registry, tmp_path: Path) -> None:
    image = push(reg, "a/b", "v1")
    reg.storage.delete(layout.blob_data(image.blobs[1].digest))
    ghost = layout.tag_current_link("a/b", "ghost")
    reg.storage.put_bytes(ghost, layout.link_content(image.digest))
    out = _cli(reg, tmp_path)
    assert out.exit_code == 1, out.output
    lines = out.stdout.splitlines()
    assert "links that disagree with the database (row: problem (key)):" in lines
    assert f"  a/b:ghost: tag link without tag ({ghost})" in lines
    assert lines[-1] == ("problems: 1 row points at an object that does not exist;"
                         " 1 link disagrees with the database")


def test_every_json_field_and_problem_is_documented() -> None:
    """docs/cli-json.rst lists every field of ``hareg check --json`` and every problem."""
    text = (Path(__file__).parents[2] / "docs" / "cli-json.rst").read_text()
    section = text.split("``hareg check --json``\n")[1].split("\n``hareg gc --json``")[0]
    documented = set(re.findall(r"^``(\w+)``", section, re.MULTILINE))
    doc = to_json(CheckReport())
    assert set(doc) <= documented, set(doc) - documented
    assert set(doc["disagreement_counts"]) <= documented
