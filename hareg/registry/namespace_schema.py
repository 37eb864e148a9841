# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A namespace definition as an operator writes it: a table of ``hareg namespace apply``'s
TOML file or the JSON body of ``PUT /api/v1/namespaces/<name>`` (docs/virtual-remote.rst).

Both forms are the same mapping, checked here once with marshmallow: ``kind`` (``remote`` or
``virtual``), then the kind's fields. Durations are seconds or strings such as ``"5m"``. A
remote's ``password`` that is absent keeps the one stored (so that an exported file, which
leaves secrets out, applies without erasing them); an empty one clears it. The checks that
need the other definitions (members, cycles, deploy) are :func:`namespaces.validate`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..durations import parse_duration
from .namespaces import (
    DEFAULT_TAG_TTL,
    DEFAULT_UPSTREAM_TIMEOUT,
    Definition,
    Kind,
    NamespaceInvalid,
    Remote,
    Virtual,
)

#: The longest tag TTL or upstream timeout a definition may set.
MAX_DURATION = 365 * 86400


@dataclass(frozen=True)
class Put:
    """Add or replace ``definition``; with ``keep_password``, a remote keeps the password
    stored for it (none when it is new)."""

    definition: Definition
    keep_password: bool = False


class Duration(fields.Field):
    """Seconds (a number) or a duration string (``"30s"``, ``"5m"``, ``"1h"``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError("expected seconds or a duration such as \"5m\"")
        try:
            seconds = float(parse_duration(value)) if isinstance(value, str) else float(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if not 0 <= seconds <= MAX_DURATION:
            raise ValidationError(f"must be between 0 and {MAX_DURATION} seconds")
        return seconds


def _pattern(value: str) -> None:
    if not value or len(value) > 255 or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError(f"{value[:80]!r}: a glob over upstream paths (library/*), no"
                              " spaces, at most 255 characters")


class _RemoteSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.Equal(str(Kind.REMOTE)))
    url = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    username = fields.String(load_default="", validate=validate.Length(max=255))
    password = fields.String(validate=validate.Length(max=8192))
    tag_ttl = Duration(load_default=DEFAULT_TAG_TTL)
    timeout = Duration(load_default=DEFAULT_UPSTREAM_TIMEOUT)
    allow = fields.List(fields.String(validate=_pattern), load_default=list,
                        validate=validate.Length(max=100))
    deny = fields.List(fields.String(validate=_pattern), load_default=list,
                       validate=validate.Length(max=100))


class _VirtualSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.Equal(str(Kind.VIRTUAL)))
    members = fields.List(fields.String(validate=validate.Length(min=1, max=255)),
                          required=True, validate=validate.Length(min=1, max=100))
    deploy = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(min=1, max=255))


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, Mapping):
        return [line for key, value in messages.items()
                for line in _flatten(value, f"{prefix}{key}: " if key != "_schema" else prefix)]
    if isinstance(messages, list):
        return [line for value in messages for line in _flatten(value, prefix)]
    return [f"{prefix}{messages}"]


def load_definition(name: str, data: Any) -> Put:
    """The :class:`Put` that ``data`` (a TOML table or a JSON object) asks for ``name``.
    Raises NamespaceInvalid naming every problem."""
    if not isinstance(data, Mapping):
        raise NamespaceInvalid(f"namespace {name!r}: expected a table of fields")
    kind = data.get("kind")
    if kind not in (Kind.REMOTE, Kind.VIRTUAL):
        raise NamespaceInvalid(f"namespace {name!r}: kind must be \"remote\" or \"virtual\""
                               f" (got {kind!r})")
    schema = _RemoteSchema() if kind == Kind.REMOTE else _VirtualSchema()
    try:
        values = schema.load(dict(data))
    except ValidationError as exc:
        raise NamespaceInvalid(f"namespace {name!r}: " + "; ".join(_flatten(exc.messages)),
                               detail=exc.messages) from None
    values.pop("kind")
    if kind == Kind.VIRTUAL:
        return Put(Virtual(name, tuple(values["members"]), values["deploy"]))
    password = values.pop("password", None)
    return Put(Remote(name=name, password=password or "", allow=tuple(values.pop("allow")),
                      deny=tuple(values.pop("deny")), **values),
               keep_password=password is None)


def public_dict(definition: Definition, with_secrets: bool = False) -> dict[str, Any]:
    """The JSON form shown to operators: a remote's password replaced by ``password_set``
    unless ``with_secrets``."""
    data = definition.to_dict()
    if isinstance(definition, Remote) and not with_secrets:
        data.pop("password")
        data["password_set"] = bool(definition.password)
    return data
