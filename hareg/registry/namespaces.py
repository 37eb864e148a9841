# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Namespaces: the first component of a repository name, and what it means.

A namespace is local unless it is defined (docs/virtual-remote.rst):

- :class:`Remote`: a pull-through cache of an upstream registry; ``hub/library/alpine`` is
  upstream ``library/alpine``, cached in the local repository of the same name.
- :class:`Virtual`: an ordered list of member namespaces (local, remote or virtual) that one
  name resolves across, and an optional local deploy member that pushes land in.

:class:`Namespaces` is an immutable snapshot of every definition; :meth:`Namespaces.route`
tells a request where its name goes, :meth:`Namespaces.members` flattens a virtual namespace in
resolution order, and :func:`validate` refuses a set of definitions that could not be served.
Pure: no database, no storage, no HTTP.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ..grammar import NAME_COMPONENT
from .errors import RegistryError

NAMESPACE_RE = re.compile(rf"\A{NAME_COMPONENT}\Z")
#: How long a cached tag -> digest answer of a remote is trusted before hareg asks upstream.
DEFAULT_TAG_TTL = 300.0
#: The longest hareg waits on an upstream registry for one step (connect, a header, a read).
DEFAULT_UPSTREAM_TIMEOUT = 20.0
_LOOPBACK_HOSTS = ("localhost", "::1")


class NamespaceInvalid(RegistryError):
    """A definition that cannot be served; nothing was changed."""

    code, status, message = "NAMESPACE_INVALID", 400, "invalid namespace definition"


class Kind(enum.StrEnum):
    LOCAL = "local"
    REMOTE = "remote"
    VIRTUAL = "virtual"


@dataclass(frozen=True)
class Remote:
    """A pull-through cache of ``url`` (``https://registry-1.docker.io``, any OCI registry)."""

    name: str
    url: str
    username: str = ""
    password: str = field(default="", repr=False)  # or a token; never logged
    tag_ttl: float = DEFAULT_TAG_TTL
    timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    #: Glob patterns of upstream paths (``library/*``); empty allow means everything.
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    kind = Kind.REMOTE

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": str(self.kind), "allow": list(self.allow),
                "deny": list(self.deny)}


@dataclass(frozen=True)
class Virtual:
    """One name over ``members`` (namespace names, in resolution order); pushes go to
    ``deploy`` (a local member) when set."""

    name: str
    members: tuple[str, ...]
    deploy: str | None = None

    kind = Kind.VIRTUAL

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": str(self.kind), "members": list(self.members)}


Definition = Remote | Virtual


def from_dict(data: Mapping[str, Any]) -> Definition:
    """A definition from its stored form (the ``namespaces`` row, the bucket's JSON object).
    Raises NamespaceInvalid for a form this version cannot read."""
    values = {k: v for k, v in data.items() if k != "kind"}
    try:
        if data.get("kind") == Kind.REMOTE:
            return Remote(**{**values, "allow": tuple(values.get("allow", ())),
                             "deny": tuple(values.get("deny", ())),
                             "tag_ttl": float(values.get("tag_ttl", DEFAULT_TAG_TTL)),
                             "timeout": float(values.get("timeout",
                                                         DEFAULT_UPSTREAM_TIMEOUT))})
        if data.get("kind") == Kind.VIRTUAL:
            return Virtual(**{**values, "members": tuple(values.get("members", ()))})
    except TypeError as exc:  # an unknown or missing field
        raise NamespaceInvalid(f"unreadable namespace definition: {exc}") from None
    raise NamespaceInvalid(f"unknown namespace kind {data.get('kind')!r}")


@dataclass(frozen=True)
class Route:
    """Where a repository name goes: ``namespace`` (None: local) and the rest of the name."""

    name: str
    definition: Definition | None
    path: str  # the name without its namespace ("" for a one-component name)

    @property
    def kind(self) -> Kind:
        return self.definition.kind if self.definition else Kind.LOCAL


@dataclass(frozen=True)
class Member:
    """One member of a flattened virtual namespace: a local namespace or a remote one."""

    namespace: str
    remote: Remote | None = None

    @property
    def kind(self) -> Kind:
        return Kind.REMOTE if self.remote else Kind.LOCAL

    def repository(self, path: str) -> str:
        """The member's repository for ``path`` (a remote caches under its own name)."""
        return f"{self.namespace}/{path}"


class Namespaces:
    """An immutable snapshot of every definition, by name."""

    def __init__(self, definitions: Iterable[Definition] = ()) -> None:
        self._by_name: Mapping[str, Definition] = MappingProxyType(
            {d.name: d for d in definitions})
        self._members: dict[str, tuple[Virtual, tuple[Member, ...]]] = {}  # members()' answers

    def __iter__(self) -> Any:
        return iter(sorted(self._by_name.values(), key=lambda d: d.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, namespace: str) -> Definition | None:
        return self._by_name.get(namespace)

    def kind(self, namespace: str) -> Kind:
        found = self._by_name.get(namespace)
        return found.kind if found else Kind.LOCAL

    def route(self, name: str) -> Route:
        """Where the repository ``name`` goes. A name with only one component is local even
        if a namespace of that name is defined (it would have no path)."""
        namespace, sep, path = name.partition("/")
        definition = self._by_name.get(namespace) if sep else None
        return Route(name, definition, path if definition else name)

    def members(self, virtual: Virtual) -> tuple[Member, ...]:
        """The members of ``virtual`` in resolution order: local members first, then remote
        ones, each group in listed order with nested virtual namespaces flattened in place;
        each namespace once. The set must be valid (no cycle). Computed once per virtual
        namespace of this snapshot: every pull through a virtual name asks."""
        cached = self._members.get(virtual.name)
        if cached is not None and cached[0] is virtual:
            return cached[1]
        order: list[str] = []

        def walk(v: Virtual) -> None:
            for name in v.members:
                found = self._by_name.get(name)
                if isinstance(found, Virtual):
                    walk(found)
                elif name not in order:
                    order.append(name)

        walk(virtual)
        locals_ = [Member(n) for n in order if not isinstance(self._by_name.get(n), Remote)]
        remotes = [Member(n, d) for n in order if isinstance(d := self._by_name.get(n), Remote)]
        members = (*locals_, *remotes)
        self._members[virtual.name] = (virtual, members)
        return members

    def with_definition(self, definition: Definition) -> Namespaces:
        """A copy with ``definition`` added or replaced."""
        return Namespaces([*(d for d in self if d.name != definition.name), definition])

    def without(self, name: str) -> Namespaces:
        return Namespaces(d for d in self if d.name != name)


def _check_url(remote: Remote) -> None:
    parts = urlsplit(remote.url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise NamespaceInvalid(f"remote {remote.name!r}: url must be https://HOST[:PORT]"
                               f" (got {remote.url!r})")
    host = parts.hostname
    if parts.scheme == "http" and not (host in _LOOPBACK_HOSTS or host.startswith("127.")):
        raise NamespaceInvalid(f"remote {remote.name!r}: plain http is allowed only for"
                               f" loopback upstreams; use https://{parts.netloc}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise NamespaceInvalid(f"remote {remote.name!r}: url takes no credentials, query or"
                               " fragment (use --username/--password-stdin)")


def _check_one(definition: Definition, namespaces: Namespaces) -> None:
    if not NAMESPACE_RE.match(definition.name):
        raise NamespaceInvalid(f"namespace name {definition.name!r} is not one lowercase path"
                               " component (letters, digits, '.', '_', '-')")
    if isinstance(definition, Remote):
        _check_url(definition)
        if definition.tag_ttl < 0 or definition.timeout <= 0:
            raise NamespaceInvalid(f"remote {definition.name!r}: tag_ttl must be >= 0 and"
                                   " timeout > 0")
        return
    if not definition.members:
        raise NamespaceInvalid(f"virtual {definition.name!r} needs at least one member")
    if len(set(definition.members)) != len(definition.members):
        raise NamespaceInvalid(f"virtual {definition.name!r} lists a member twice")
    for member in definition.members:
        if not NAMESPACE_RE.match(member):
            raise NamespaceInvalid(f"virtual {definition.name!r}: member {member!r} is not a"
                                   " namespace name")
    if definition.deploy is not None:
        if definition.deploy not in definition.members:
            raise NamespaceInvalid(f"virtual {definition.name!r}: deploy member"
                                   f" {definition.deploy!r} is not one of its members")
        if namespaces.kind(definition.deploy) != Kind.LOCAL:
            raise NamespaceInvalid(f"virtual {definition.name!r}: deploy member"
                                   f" {definition.deploy!r} must be a local namespace, not"
                                   f" {namespaces.kind(definition.deploy)}")


def _check_cycles(namespaces: Namespaces) -> None:
    done: set[str] = set()

    def visit(v: Virtual, path: tuple[str, ...]) -> None:
        if v.name in path:
            cycle = " -> ".join((*path[path.index(v.name):], v.name))
            raise NamespaceInvalid(f"virtual namespaces form a cycle: {cycle}")
        if v.name in done:
            return
        for member in v.members:
            found = namespaces.get(member)
            if isinstance(found, Virtual):
                visit(found, (*path, v.name))
        done.add(v.name)

    for definition in namespaces:
        if isinstance(definition, Virtual):
            visit(definition, ())


def validate(namespaces: Namespaces, local_namespaces: Iterable[str] = ()) -> None:
    """Raise NamespaceInvalid unless every definition can be served.

    ``local_namespaces``: the namespaces that local repositories already use and that are
    not defined yet; a new definition may not take one of them over (its repositories would
    disappear behind it). A virtual
    namespace's members may be any namespace, defined or not (an undefined one is local), but
    a member that is neither defined nor holds repositories is most likely a typo: refused.
    """
    in_use = set(local_namespaces)
    for definition in namespaces:
        _check_one(definition, namespaces)
        if definition.name in in_use:
            raise NamespaceInvalid(
                f"namespace {definition.name!r} holds local repositories; a {definition.kind}"
                " namespace cannot take it over (delete them first, or pick another name)")
        if isinstance(definition, Virtual):
            for member in definition.members:
                if namespaces.get(member) is None and member not in in_use \
                        and member != definition.deploy:
                    raise NamespaceInvalid(
                        f"virtual {definition.name!r}: unknown member {member!r} (neither a"
                        " defined namespace nor one holding repositories)")
    _check_cycles(namespaces)


EMPTY = Namespaces()
