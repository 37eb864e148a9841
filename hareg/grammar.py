# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The distribution spec's grammar: repository names, tags, references and digests.

One home for these facts because two layers check them: :mod:`hareg.registry` refuses bad
requests with them (``NAME_INVALID``, ``DIGEST_INVALID``, ...), and :mod:`hareg.storage`
refuses to join a bad name or digest into a key. Storage must not import the registry (the
registry is built on storage), so the grammar lives here, at the top of the package, and
imports nothing from hareg: any layer may use it.

Every pattern is anchored with ``\\A`` and ``\\Z``, never ``^`` and ``$``: ``$`` also matches
just before a final newline, so ``"latest\\n"`` would pass for a tag. Anchored this way a
pattern checks the whole string whichever of ``match``, ``fullmatch`` or marshmallow's
``validate.Regexp`` is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

#: One path component of a repository name: lowercase alphanumerics joined by ``.``, ``_``,
#: ``__`` or dashes. No component starts with ``_`` or ``.``, which keeps distribution's
#: reserved ``_layers``, ``_manifests`` and ``_uploads`` directories unambiguous.
NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
#: The shape of a repository name (``/``-separated components); the length is separate.
NAME_RE = re.compile(rf"\A{NAME_COMPONENT}(?:/{NAME_COMPONENT})*\Z")
MAX_NAME_LENGTH = 255

MAX_TAG_LENGTH = 128
TAG_RE = re.compile(rf"\A[a-zA-Z0-9_][a-zA-Z0-9._-]{{0,{MAX_TAG_LENGTH - 1}}}\Z")

#: The spec's general digest grammar ``algorithm:encoded``; groups are the two parts. It
#: admits algorithms hareg cannot verify: see :data:`SUPPORTED_ALGORITHMS`.
DIGEST_RE = re.compile(r"\A([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)\Z")

#: Digest algorithms hareg verifies and stores, with the length of their hex encoding.
HEX_LENGTHS: Mapping[str, int] = MappingProxyType({"sha256": 64, "sha512": 128})
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(HEX_LENGTHS)
_LOWER_HEX_RE = re.compile(r"\A[0-9a-f]+\Z")


def is_name(value: object) -> bool:
    """Whether ``value`` is a valid repository name: the grammar and at most 255 characters."""
    return (isinstance(value, str) and len(value) <= MAX_NAME_LENGTH
            and NAME_RE.match(value) is not None)


def is_tag(value: object) -> bool:
    """Whether ``value`` is a valid tag (at most 128 characters)."""
    return isinstance(value, str) and TAG_RE.match(value) is not None


def is_digest_reference(reference: str) -> bool:
    """Whether a manifest reference is meant as a digest: tags never hold a colon."""
    return ":" in reference


def is_encoded(algorithm: str, encoded: str) -> bool:
    """Whether ``encoded`` is the lowercase hex of the right length for a supported
    ``algorithm`` (False for an unsupported one)."""
    length = HEX_LENGTHS.get(algorithm)
    return length is not None and len(encoded) == length and bool(_LOWER_HEX_RE.match(encoded))
