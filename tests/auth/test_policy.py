# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Patterns, rules and the per-request decision, without a server."""

from __future__ import annotations

import re

import pytest

from hareg.auth.access import Caller, Need, Outcome, decide
from hareg.auth.globs import glob_error, glob_to_regex
from hareg.auth.policy import Policy
from hareg.auth.settings import AuthConfig, AuthConfigSchema
from hareg.auth.tokens import TokenGrant
from tests.auth.helpers import ANONYMOUS_PULL, GROUPS, RULES


def policy(**overrides: object) -> Policy:
    raw = {"mode": "basic", "htpasswd": "/x", "anonymous_pull": ANONYMOUS_PULL,
           "groups": GROUPS, "rules": RULES, **overrides}
    config: AuthConfig = AuthConfigSchema().load(raw)
    return Policy(config)


@pytest.mark.parametrize(("pattern", "name", "hit"), [
    ("team/*", "team/app", True),
    ("team/*", "team/app/db", False),
    ("team/**", "team/app/db", True),
    ("team/**", "team", False),
    ("**", "anything/at/all", True),
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    ("my.app", "myxapp", False),
    ("my.app", "my.app", True),
    ("*-dev", "web-dev", True),
])
def test_globs(pattern: str, name: str, hit: bool) -> None:
    assert bool(re.match(glob_to_regex(pattern), name)) is hit


@pytest.mark.parametrize("pattern", ["", "Team/*", "a b", "a[bc]", "x{1,2}", "a\\b", "é"])
def test_invalid_globs(pattern: str) -> None:
    assert glob_error(pattern)


def test_rules_groups_and_anonymous() -> None:
    p = policy()
    assert p.actions("alice", "team/x") == {"pull", "push", "delete", "promote"}
    assert p.actions("bob", "team/x") == {"pull"}
    assert p.actions("bob", "bob/x") == {"pull", "push"}
    assert p.actions("carol", "ci/x") == {"pull", "push", "delete"}
    assert p.actions("carol", "ci/x/y") == set()
    assert p.actions("dave", "team/x") == set()
    assert p.actions("dave", "public/x") == {"pull"}
    assert p.actions(None, "public/x") == {"pull"}
    assert p.actions(None, "team/x") == set()
    assert p.pull_filter(None).allows("public/a") and not p.pull_filter(None).allows("team/a")
    assert p.pull_filter("bob").allows("team/a") and p.pull_filter("bob").allows("bob/a")
    assert not p.pull_filter("bob").allows("secret/a")
    assert p.may_promote_somewhere("alice") and not p.may_promote_somewhere("bob")


def test_no_rules_grants_every_user_pull_push_delete() -> None:
    p = policy(rules=[], anonymous_pull=[])
    assert p.actions("anyone", "x/y") == {"pull", "push", "delete"}
    assert p.actions(None, "x/y") == set()
    assert p.pull_filter("anyone").everything
    assert p.pull_filter(None).regexes == ()
    assert not p.may_list_catalog(None)


def test_any_user_subject() -> None:
    p = policy(rules=[{"subjects": ["*"], "repositories": ["shared/*"], "actions": ["pull"]}])
    assert p.actions("whoever", "shared/a") == {"pull"}
    assert p.actions(None, "shared/a") == set()


def grant(subject: str | None, *entries: tuple[str, str, str]) -> Caller:
    access: dict[tuple[str, str], frozenset[str]] = {}
    for rtype, name, action in entries:
        access[(rtype, name)] = access.get((rtype, name), frozenset()) | {action}
    return Caller(subject=subject, token=TokenGrant(subject, access, "j"))


def test_decisions_in_token_mode() -> None:
    p = policy(anonymous_pull=[])
    d = decide(p, "token", Caller(), Need.PULL, "team/a")
    assert d.outcome == Outcome.CHALLENGE and str(d.scope) == "repository:team/a:pull"
    d = decide(p, "token", Caller(), Need.CATALOG, None)
    assert d.outcome == Outcome.CHALLENGE and str(d.scope) == "registry:catalog:*"
    d = decide(p, "token", grant("bob"), Need.CATALOG, None)
    assert d.outcome == Outcome.DENY and d.insufficient_scope
    assert decide(p, "token", grant("bob", ("registry", "catalog", "*")), Need.CATALOG,
                  None).outcome == Outcome.ALLOW
    assert decide(p, "token", grant("bob", ("repository", "team/a", "pull")), Need.PULL,
                  "team/a").outcome == Outcome.ALLOW
    d = decide(p, "token", grant("bob", ("repository", "team/a", "pull")), Need.PUSH, "team/a")
    assert d.outcome == Outcome.DENY and not d.insufficient_scope
    d = decide(p, "token", grant("alice", ("repository", "team/a", "pull")), Need.PUSH,
               "team/a")
    assert d.outcome == Outcome.DENY and d.insufficient_scope
    assert str(d.scope) == "repository:team/a:pull,push"
    assert decide(p, "token", grant(None), Need.PULL, "team/a").outcome == Outcome.CHALLENGE
    assert decide(p, "token", grant(None), Need.LOGIN, None).outcome == Outcome.ALLOW
    assert decide(p, "token", Caller(error="expired"), Need.LOGIN,
                  None).outcome == Outcome.CHALLENGE
    assert decide(p, "token", grant("alice", ("repository", "x/y", "*")), Need.DELETE,
                  "x/y").outcome == Outcome.ALLOW
    # promotion: the hook only checks that the caller may promote somewhere
    assert decide(p, "token", grant("alice", ("repository", "team/a", "promote")),
                  Need.PROMOTE, None).outcome == Outcome.ALLOW
    assert decide(p, "basic", Caller("bob"), Need.PROMOTE, None).outcome == Outcome.DENY
    assert decide(p, "basic", Caller("alice"), Need.PROMOTE, None).outcome == Outcome.ALLOW


def test_decisions_in_basic_mode() -> None:
    p = policy()
    assert decide(p, "basic", Caller(), Need.PULL, "public/a").outcome == Outcome.ALLOW
    assert decide(p, "basic", Caller(), Need.PULL, "team/a").outcome == Outcome.CHALLENGE
    assert decide(p, "basic", Caller(), Need.LOGIN, None).outcome == Outcome.CHALLENGE
    assert decide(p, "basic", Caller("bob"), Need.PUSH, "team/a").outcome == Outcome.DENY
    assert decide(p, "basic", Caller(error="bad"), Need.PULL,
                  "public/a").outcome == Outcome.CHALLENGE
    assert decide(p, "none", Caller(), Need.DELETE, "x").outcome == Outcome.ALLOW
