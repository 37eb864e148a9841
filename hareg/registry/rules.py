# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Which ``[[retention]]`` rule applies to a repository, and which tags it makes immutable.

The first rule whose ``repository`` glob matches applies. Globs are those of
``[[auth.rules]]`` (hareg.auth.globs): ``*`` stays within one path component, ``**`` crosses
``/``. Tag patterns are regular expressions that must match the WHOLE tag. The registry
refuses to move an immutable tag; garbage collection (hareg.gc.policy) reads the same rules
for retention.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from ..auth.globs import compile_glob
from ..config import RetentionRule


def rule_for(rules: Iterable[RetentionRule], repository: str) -> RetentionRule | None:
    """The first rule whose glob matches ``repository``."""
    for rule in rules:
        if _glob(rule.repository).match(repository):
            return rule
    return None


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    return compile_glob(pattern)


def tag_matches(pattern: str, tag: str) -> bool:
    return bool(pattern) and re.fullmatch(pattern, tag) is not None


def is_immutable(rules: Sequence[RetentionRule], repository: str, tag: str) -> bool:
    """Whether pushes may not move ``repository:tag`` to another manifest."""
    rule = rule_for(rules, repository)
    return rule is not None and tag_matches(rule.immutable_tags, tag)
