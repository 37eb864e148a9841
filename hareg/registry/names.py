# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Grammar of repository names, tags and digests, exactly as the distribution spec gives it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DigestInvalid, NameInvalid, TagInvalid
from .hashing import SUPPORTED_ALGORITHMS

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
MAX_NAME_LENGTH = 255
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")
_HEX_LENGTH = {"sha256": 64, "sha512": 128}


def validate_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not NAME_RE.match(name):
        raise NameInvalid(detail={"name": name[:300]})
    return name


def is_tag(reference: str) -> bool:
    return bool(TAG_RE.match(reference))


def validate_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise TagInvalid(f"invalid tag: {tag[:200]!r}", detail={"tag": tag[:200]})
    return tag


@dataclass(frozen=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def parse_digest(value: str) -> Digest:
    """Parse and check a digest; only algorithms hareg can verify are accepted."""
    m = DIGEST_RE.match(value or "")
    if not m:
        raise DigestInvalid(f"invalid digest: {value[:200]!r}", detail={"digest": value[:200]})
    algorithm, hexpart = m.groups()
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise DigestInvalid(f"unsupported digest algorithm: {algorithm}",
                            detail={"digest": value[:200]})
    if len(hexpart) != _HEX_LENGTH[algorithm] or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise DigestInvalid(f"invalid {algorithm} digest: {value[:200]!r}",
                            detail={"digest": value[:200]})
    return Digest(algorithm, hexpart)


def looks_like_digest(reference: str) -> bool:
    return ":" in reference
