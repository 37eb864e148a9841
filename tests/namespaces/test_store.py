# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The namespace store against real PostgreSQL and real storage (filesystem and moto S3):
a change writes the bucket object and the row; a bad one changes neither."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hareg.registry import namespace_store as store
from hareg.registry.context import Registry
from hareg.registry.namespace_schema import Put
from hareg.registry.namespaces import NamespaceInvalid, Remote, Virtual
from hareg.storage import layout
from tests.namespaces.conftest import push, state

HUB = Remote(name="hub", url="https://registry-1.docker.io", username="ci",
             password="tok-secret", tag_ttl=60.0, allow=("library/*",))
DOCKER = Virtual("docker", ("dev", "release", "hub"), deploy="dev")


def _setup(reg: Registry) -> None:
    push(reg, "dev/app")
    push(reg, "release/app")
    store.add(reg, HUB)
    store.add(reg, DOCKER)


def test_a_definition_goes_to_the_bucket_and_the_row(reg: Registry) -> None:
    _setup(reg)
    rows, objects = state(reg)
    assert [r["name"] for r in rows] == ["docker", "hub"]
    assert objects[layout.namespace_definition("hub")] == HUB.to_dict()
    assert objects[layout.namespace_definition("docker")] == DOCKER.to_dict()
    assert store.list_definitions(reg).get("hub") == HUB  # password included
    assert reg.namespaces.current().get("docker") == DOCKER  # this process sees it at once


BAD: dict[str, tuple[Callable[[Registry], Any], str]] = {
    "unknown member": (lambda reg: store.add(reg, Virtual("v", ("dev", "nope"))),
                       "unknown member 'nope'"),
    "cycle": (lambda reg: store.apply(reg, [Put(Virtual("a", ("b",))), Put(Virtual("b", ("a",))),
                                            Put(HUB), Put(DOCKER)]),
              "cycle: a -> b -> a"),
    "deploy not a member": (lambda reg: store.add(reg, Virtual("v", ("dev",), deploy="release")),
                            "is not one of its members"),
    "remote as deploy": (lambda reg: store.add(reg, Virtual("v", ("hub", "dev"), deploy="hub")),
                         "must be a local namespace"),
    "invalid url": (lambda reg: store.add(reg, Remote(name="r", url="ftp://example.com")),
                    "url must be https://"),
    "plain http off loopback": (lambda reg: store.add(reg, Remote(name="r",
                                                                  url="http://example.com")),
                                "plain http is allowed only for loopback"),
    "name of local repositories": (
        lambda reg: store.add(reg, Remote(name="dev", url="https://example.com")),
        "holds local repositories"),
    "virtual over local repositories": (
        lambda reg: store.add(reg, Virtual("release", ("dev",))), "holds local repositories"),
    "remove a member": (lambda reg: store.remove(reg, "hub"),
                        "member of virtual namespace 'docker'"),
    "replace a member by a cycle": (
        lambda reg: store.replace(reg, Put(Virtual("hub", ("docker",)))), "cycle"),
    "bad name": (lambda reg: store.add(reg, Remote(name="Hub", url="https://example.com")),
                 "is not one lowercase path component"),
    "apply with prune drops a member": (
        lambda reg: store.apply(reg, [Put(DOCKER)], prune=True), "member of virtual"),
    "update a field the kind lacks": (lambda reg: store.update(reg, "hub", {"members": ("x",)}),
                                      "it has no members"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_definition_changes_nothing(reg: Registry, case: str) -> None:
    _setup(reg)
    before = state(reg)
    change, message = BAD[case]
    with pytest.raises(NamespaceInvalid) as raised:
        change(reg)
    assert message in raised.value.message
    assert state(reg) == before


def test_add_refuses_a_defined_name_and_remove_an_undefined_one(reg: Registry) -> None:
    _setup(reg)
    before = state(reg)
    with pytest.raises(store.NamespaceExists):
        store.add(reg, Remote(name="hub", url="https://example.com"))
    with pytest.raises(store.NamespaceNotFound):
        store.remove(reg, "nothing")
    assert state(reg) == before


def test_remove_deletes_the_row_and_the_object(reg: Registry) -> None:
    _setup(reg)
    store.remove(reg, "docker")
    store.remove(reg, "hub")
    assert state(reg) == ([], {})
    assert len(reg.namespaces.current()) == 0


def test_apply_adds_replaces_and_prunes_only_when_asked(reg: Registry) -> None:
    _setup(reg)
    quay = Remote(name="quay", url="https://quay.io")
    changed = Virtual("docker", ("dev", "hub"), deploy="dev")
    outcome = store.apply(reg, [Put(changed), Put(quay)])
    assert outcome.to_dict() == {"added": ["quay"], "replaced": ["docker"], "removed": [],
                                 "unchanged": []}
    assert [r["name"] for r in state(reg)[0]] == ["docker", "hub", "quay"]
    # hub without a password in the file keeps its password; pruning removes quay
    keep = Put(Remote(name="hub", url=HUB.url, username="ci", tag_ttl=60.0,
                      allow=("library/*",)), keep_password=True)
    outcome = store.apply(reg, [Put(changed), keep], prune=True)
    assert outcome.to_dict() == {"added": [], "replaced": [], "removed": ["quay"],
                                 "unchanged": ["docker", "hub"]}
    rows, objects = state(reg)
    assert [r["name"] for r in rows] == ["docker", "hub"]
    assert objects[layout.namespace_definition("hub")]["password"] == "tok-secret"


def test_update_changes_the_given_fields(reg: Registry) -> None:
    _setup(reg)
    store.update(reg, "hub", {"tag_ttl": 10.0}, password="new-secret")
    hub = store.get(reg, "hub")
    assert isinstance(hub, Remote)
    assert (hub.tag_ttl, hub.password, hub.url) == (10.0, "new-secret", HUB.url)
    store.update(reg, "docker", {"deploy": None})
    assert store.get(reg, "docker") == Virtual("docker", DOCKER.members)
    _, objects = state(reg)
    assert objects[layout.namespace_definition("hub")]["password"] == "new-secret"


def test_a_failed_bucket_write_leaves_no_row(reg: Registry, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    _setup(reg)
    before = state(reg)

    def fail(key: str, data: bytes) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(reg.storage, "put_bytes", fail)
    with pytest.raises(OSError):
        store.add(reg, Remote(name="quay", url="https://quay.io"))
    monkeypatch.undo()
    assert state(reg) == before


def test_the_rows_failing_after_the_bucket_write_put_the_objects_back(
        reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(reg)
    before = state(reg)

    def refuse(*args: Any) -> None:
        raise RuntimeError("database refused the row")

    monkeypatch.setattr(store.table, "save_definition", refuse)
    with pytest.raises(RuntimeError):
        store.replace(reg, Put(Remote(name="hub", url="https://other.example")))
    with pytest.raises(RuntimeError):
        store.add(reg, Remote(name="quay", url="https://quay.io"))
    monkeypatch.undo()
    assert state(reg) == before


def test_secrets_stay_out_of_public_forms_and_the_log(reg: Registry,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    _setup(reg)
    store.update(reg, "hub", {"tag_ttl": 5.0})
    shown = store.public_dict(store.get(reg, "hub"))
    assert shown["password_set"] is True and "password" not in shown
    assert "tok-secret" not in json.dumps(shown) + caplog.text + repr(store.get(reg, "hub"))
