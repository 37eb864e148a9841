# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Counts in words for the operator: ``1 blob``, ``2 blobs``, ``1 repository``, ``3 repositories``.

Every message that prints a count goes through :func:`counted`, so no output says
``1 blobs``, ``6 layer link`` or ``repositor(y/ies)``.
"""

from __future__ import annotations

_VOWELS = frozenset("aeiou")


def plural_of(noun: str) -> str:
    """The English plural of ``noun`` (its last word), for the nouns hareg prints."""
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in _VOWELS:
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1 (``plural`` for irregular nouns)."""
    return f"{n} {noun if n == 1 else plural or plural_of(noun)}"
