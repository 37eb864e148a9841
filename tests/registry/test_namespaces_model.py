# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The namespace model (hareg.registry.namespaces): routing, resolution order, validation."""

from __future__ import annotations

import pytest

from hareg.registry.namespaces import (
    Kind,
    Member,
    NamespaceInvalid,
    Namespaces,
    Remote,
    Virtual,
    from_dict,
    validate,
)

HUB = Remote("hub", "https://registry-1.docker.io", username="u", password="secret")
QUAY = Remote("quay", "https://quay.io")


def test_route_splits_the_namespace_off_defined_names_only() -> None:
    ns = Namespaces([HUB, Virtual("docker", ("dev", "release"), deploy="dev")])
    hub = ns.route("hub/library/alpine")
    assert (hub.kind, hub.definition, hub.path) == (Kind.REMOTE, HUB, "library/alpine")
    docker = ns.route("docker/team/app")
    assert (docker.kind, docker.path) == (Kind.VIRTUAL, "team/app")
    local = ns.route("dev/team/app")
    assert (local.kind, local.definition, local.path) == (Kind.LOCAL, None, "dev/team/app")
    # A one-component name has no path: it stays a local repository.
    assert ns.route("hub").kind == Kind.LOCAL


def test_members_put_locals_first_then_remotes_and_flatten_nesting() -> None:
    inner = Virtual("inner", ("quay", "release"))
    outer = Virtual("docker", ("hub", "dev", "inner", "release"), deploy="dev")
    ns = Namespaces([HUB, QUAY, inner, outer])
    members = ns.members(outer)
    assert [m.namespace for m in members] == ["dev", "release", "hub", "quay"]
    assert [m.kind for m in members] == [Kind.LOCAL, Kind.LOCAL, Kind.REMOTE, Kind.REMOTE]
    assert members[2] == Member("hub", HUB)
    assert members[0].repository("team/app") == "dev/team/app"


def test_members_are_computed_once_per_snapshot_and_follow_a_changed_definition() -> None:
    docker = Virtual("docker", ("hub", "dev"))
    ns = Namespaces([HUB, docker])
    assert ns.members(docker) is ns.members(docker)  # every pull asks: answered from memory
    # A definition of the same name that is not this snapshot's (being validated, say) gets
    # its own answer, not the remembered one.
    assert [m.namespace for m in ns.members(Virtual("docker", ("release",)))] == ["release"]
    replaced = Virtual("docker", ("dev",))
    changed = ns.with_definition(replaced)
    assert changed.get("docker") is replaced
    assert [m.namespace for m in changed.members(replaced)] == ["dev"]
    assert [m.namespace for m in ns.members(docker)] == ["dev", "hub"]


def test_definitions_round_trip_through_their_stored_form() -> None:
    virtual = Virtual("docker", ("dev", "hub"), deploy="dev")
    for definition in (HUB, virtual, Remote("r", "http://127.0.0.1:5000", allow=("a/*",))):
        assert from_dict(definition.to_dict()) == definition
    assert "secret" not in repr(HUB)


@pytest.mark.parametrize("data", [{"kind": "mirror", "name": "x"},
                                  {"kind": "remote", "name": "x"},  # no url
                                  {"kind": "virtual", "name": "x", "colour": "red"}])
def test_unreadable_stored_forms_are_refused(data: dict) -> None:
    with pytest.raises(NamespaceInvalid):
        from_dict(data)


@pytest.mark.parametrize(("definitions", "local", "message"), [
    ([Virtual("docker", ("dev",), deploy="dev"), Virtual("dev", ("docker",))], ["dev"],
     "holds local repositories"),
    ([Virtual("a", ("b",)), Virtual("b", ("c",)), Virtual("c", ("a",))], [], "cycle: "),
    ([Virtual("a", ("a",))], [], "cycle"),
    ([Virtual("docker", ("dev",), deploy="release")], ["dev", "release"], "not one of its"),
    ([HUB, Virtual("docker", ("hub",), deploy="hub")], [], "must be a local namespace"),
    ([Virtual("docker", ("nosuch",))], [], "unknown member 'nosuch'"),
    ([Virtual("docker", ())], [], "at least one member"),
    ([Virtual("docker", ("dev", "dev"))], ["dev"], "twice"),
    ([Remote("hub", "ftp://example.org")], [], "url must be"),
    ([Remote("hub", "http://registry.example.org")], [], "only for loopback"),
    ([Remote("hub", "https://user:pw@registry.example.org")], [], "takes no credentials"),
    ([Remote("Hub", "https://registry.example.org")], [], "lowercase"),
    ([Remote("hub", "https://r.example.org", tag_ttl=-1)], [], "tag_ttl"),
    ([Remote("hub", "https://r.example.org")], ["hub"], "holds local repositories"),
])
def test_invalid_sets_are_refused_with_the_reason(definitions: list, local: list[str],
                                                  message: str) -> None:
    with pytest.raises(NamespaceInvalid, match=message):
        validate(Namespaces(definitions), local)


def test_a_valid_set_passes_and_a_deploy_member_may_be_a_new_local_namespace() -> None:
    validate(Namespaces([HUB, QUAY, Virtual("inner", ("quay",)),
                         Virtual("docker", ("dev", "inner", "hub"), deploy="dev")]), [])
    validate(Namespaces([Remote("local", "http://127.0.0.1:5000"),
                         Remote("six", "http://localhost:5001")]), [])
