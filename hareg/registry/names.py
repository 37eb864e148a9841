# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Checks of repository names, tags and digests that raise the spec's errors.

The grammar itself (patterns, lengths, supported algorithms) is in :mod:`hareg.grammar`, shared
with the storage layout; it is re-exported here for existing callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..grammar import (
    DIGEST_RE,
    MAX_NAME_LENGTH,
    NAME_RE,
    SUPPORTED_ALGORITHMS,
    TAG_RE,
    is_digest_reference,
    is_encoded,
    is_name,
    is_tag,
)
from .errors import DigestInvalid, NameInvalid, TagInvalid

__all__ = ["DIGEST_RE", "MAX_NAME_LENGTH", "NAME_RE", "SUPPORTED_ALGORITHMS", "TAG_RE", "Digest",
           "is_tag", "looks_like_digest", "parse_digest", "validate_name", "validate_tag"]


def validate_name(name: str) -> str:
    if not is_name(name):
        raise NameInvalid(detail={"name": name[:300]})
    return name


def validate_tag(tag: str) -> str:
    if not is_tag(tag):
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
    m = DIGEST_RE.fullmatch(value or "")
    if not m:
        raise DigestInvalid(f"invalid digest: {value[:200]!r}", detail={"digest": value[:200]})
    algorithm, hexpart = m.groups()
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise DigestInvalid(f"unsupported digest algorithm: {algorithm}",
                            detail={"digest": value[:200]})
    if not is_encoded(algorithm, hexpart):
        raise DigestInvalid(f"invalid {algorithm} digest: {value[:200]!r}",
                            detail={"digest": value[:200]})
    return Digest(algorithm, hexpart)


def looks_like_digest(reference: str) -> bool:
    return is_digest_reference(reference)
