# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The decision for one request: allow, challenge (401) or deny (403).

It depends only on the configuration, the credentials and the route (the action it needs and
the repository named in its path), never on the database: whether a repository exists cannot
change the answer, nor its timing.

Basic mode: the user's actions are the policy's. Token mode: the token's ``access`` claim.
A valid token that lacks the action gets 403 with a challenge carrying
``error="insufficient_scope"`` when the policy would grant it (RFC 6750 3.1: the client fetches
a new token for that scope), plain 403 when not, and 401 when it is anonymous (log in first).
Anything anonymous callers may do needs no token.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..grammar import is_name
from ..registry.visibility import RepositoryFilter
from .globs import glob_to_regex
from .policy import Policy
from .scopes import ADMIN_SCOPE, CATALOG, REGISTRY, REPOSITORY, Scope
from .tokens import TokenGrant


class Need(enum.StrEnum):
    """What a route needs (hareg.auth.routes maps every endpoint to one)."""

    PUBLIC = "public"      # health, readiness, metrics: no authentication
    TOKEN = "token"        # the realm endpoint authenticates by itself
    LOGIN = "login"        # GET /v2/: any valid credentials
    CATALOG = "catalog"    # listed repositories are filtered by pull permission
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    PROMOTE = "promote"    # the repositories are in the body: views call require_access too
    ADMIN = "admin"        # registry-wide: the admin API (namespace definitions)


REPOSITORY_NEEDS = frozenset({Need.PULL, Need.PUSH, Need.DELETE, Need.PROMOTE})


class Outcome(enum.Enum):
    ALLOW = "allow"
    CHALLENGE = "challenge"  # 401
    DENY = "deny"            # 403


@dataclass(frozen=True)
class Caller:
    subject: str | None = None         # None: anonymous
    token: TokenGrant | None = None    # token mode, a verified token
    error: str | None = None           # credentials were given but are invalid (why)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    scope: Scope | None = None         # what to ask for in the challenge
    insufficient_scope: bool = False   # 403 that a new token would fix


ALLOW = Decision(Outcome.ALLOW)


def challenge_scope(need: Need, repository: str | None) -> Scope | None:
    """The scope a client must ask the token endpoint for, for this route."""
    if need == Need.CATALOG:
        return Scope(REGISTRY, CATALOG, ("*",))
    if need == Need.ADMIN:
        return ADMIN_SCOPE
    if repository is None or need not in REPOSITORY_NEEDS:
        return None
    actions = ("pull", "push") if need == Need.PUSH else (str(need),)
    return Scope(REPOSITORY, repository, actions)


def _token_has(token: TokenGrant, need: Need, repository: str | None) -> bool:
    if need == Need.LOGIN:
        return True
    if need == Need.CATALOG:
        return any(token.allows(REGISTRY, CATALOG, a) for a in ("*", "list"))
    if need == Need.ADMIN:
        return token.allows(ADMIN_SCOPE.type, ADMIN_SCOPE.name, ADMIN_SCOPE.actions[0])
    if need == Need.PROMOTE and repository is None:
        return any(rtype == REPOSITORY and ("promote" in acts or "*" in acts)
                   for (rtype, _), acts in token.access.items())
    return repository is not None and token.allows(REPOSITORY, repository, str(need))


def _policy_has(policy: Policy, subject: str | None, need: Need,
                repository: str | None) -> bool:
    if need == Need.LOGIN:
        return subject is not None
    if need == Need.CATALOG:
        return policy.may_list_catalog(subject)
    if need == Need.ADMIN:
        return policy.may_administer(subject)
    if need == Need.PROMOTE and repository is None:
        return policy.may_promote_somewhere(subject)
    return repository is not None and policy.allows(subject, repository, str(need))


def decide(policy: Policy, mode: str, caller: Caller, need: Need,
           repository: str | None) -> Decision:
    """Allow, challenge or deny ``caller`` for a route needing ``need`` on ``repository``."""
    if need in (Need.PUBLIC, Need.TOKEN) or mode == "none":
        return ALLOW
    scope = challenge_scope(need, repository)
    if caller.error is not None:
        return Decision(Outcome.CHALLENGE, scope)
    if need != Need.LOGIN and _policy_has(policy, None, need, repository):
        return ALLOW  # what anonymous callers may do, everyone may
    if mode == "basic":
        if caller.subject is None:
            return Decision(Outcome.CHALLENGE, scope)
        if _policy_has(policy, caller.subject, need, repository):
            return ALLOW
        return Decision(Outcome.DENY)
    token = caller.token
    if token is None:
        return Decision(Outcome.CHALLENGE, scope)
    if _token_has(token, need, repository):
        return ALLOW
    if token.subject is None:
        return Decision(Outcome.CHALLENGE, scope)
    if _policy_has(policy, token.subject, need, repository):
        return Decision(Outcome.DENY, scope, insufficient_scope=True)
    return Decision(Outcome.DENY)


def pull_filter(policy: Policy, mode: str, caller: Caller) -> RepositoryFilter:
    """The repositories ``caller`` may see (catalog) and mount from: those it may pull.

    Basic mode: the policy's rules for the user. Token mode: what anonymous callers may pull,
    plus the repositories the token grants ``pull`` (or ``*``) on by name; the rules of the
    token's subject do not widen it (a token scoped to ``dev/app`` sees ``dev/app``, not all
    of ``dev/**``), just as :func:`decide` reads the token, not the rules.
    """
    if mode != "token":
        return policy.pull_filter(caller.subject)
    anonymous = policy.pull_filter(None)
    if caller.token is None or anonymous.everything:
        return anonymous
    granted = sorted(name for (rtype, name), actions in caller.token.access.items()
                     if rtype == REPOSITORY and ("pull" in actions or "*" in actions)
                     and is_name(name))
    regexes = tuple(dict.fromkeys([*(anonymous.regexes or ()),
                                   *(glob_to_regex(name) for name in granted)]))
    return RepositoryFilter(regexes) if regexes else RepositoryFilter(())


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge_header(mode: str, realm: str, service: str, scope: Scope | None,
                     error: str | None = None) -> str:
    """The WWW-Authenticate value for a 401 (or a 403 with insufficient_scope)."""
    if mode == "basic":
        return 'Basic realm="hareg"'
    parts = [f"realm={_quoted(realm)}", f"service={_quoted(service)}"]
    if scope is not None:
        parts.append(f"scope={_quoted(str(scope))}")
    if error:
        parts.append(f"error={_quoted(error)}")
    return "Bearer " + ",".join(parts)
