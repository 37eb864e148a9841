# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The TOML file of ``hareg namespace apply`` and ``export``: one ``[namespaces.NAME]`` table
per definition, the fields of hareg.registry.namespace_schema::

    [namespaces.hub]
    kind = "remote"
    url = "https://registry-1.docker.io"
    username = "ci"
    password = "..."          # absent: keep the stored one; "" clears it
    tag_ttl = "5m"
    allow = ["library/*"]

    [namespaces.docker]
    kind = "virtual"
    members = ["dev", "release", "hub"]
    deploy = "dev"

``export`` writes what ``apply`` reads, without passwords unless asked (a comment says one is
set; ``apply`` keeps it).
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from .namespace_schema import Put, load_definition
from .namespaces import NamespaceInvalid, Namespaces, Remote

_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse(text: str) -> list[Put]:
    """The definitions of a file. Raises NamespaceInvalid (a TOML error names the line)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NamespaceInvalid(f"not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"namespaces"})
    if unknown:
        raise NamespaceInvalid(f"unknown top-level key {unknown[0]!r}: the file holds"
                               " [namespaces.NAME] tables")
    tables = document.get("namespaces", {})
    if not isinstance(tables, dict):
        raise NamespaceInvalid("namespaces must be a table of [namespaces.NAME] tables")
    return [load_definition(name, data) for name, data in tables.items()]


def format_duration(seconds: float) -> str | float:
    """``300`` -> ``"5m"``, ``5400`` -> ``"1h30m"``; a fraction of a second stays a number."""
    if seconds != int(seconds):
        return seconds
    left, parts = int(seconds), []
    for unit, size in _UNITS:
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def render(namespaces: Namespaces, with_secrets: bool = False) -> str:
    """The file that ``apply`` turns into ``namespaces``."""
    lines = ["# hareg namespace definitions: hareg namespace apply FILE (docs/virtual-remote.rst)"]
    for definition in namespaces:
        lines += ["", f"[namespaces.{definition.name}]", f"kind = {_value(str(definition.kind))}"]
        data = definition.to_dict()
        for key in ("kind", "name"):
            data.pop(key)
        if isinstance(definition, Remote):
            password = data.pop("password")
            for key in ("tag_ttl", "timeout"):
                data[key] = format_duration(data[key])
            if with_secrets:
                data["password"] = password
            elif password:
                lines.append("# password: set (not exported; apply keeps it)")
        for key, value in data.items():
            if value is not None and value != []:
                lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"
