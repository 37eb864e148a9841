# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Durations as operators write them in the config: ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"``.

Units: ``s``, ``m``, ``h``, ``d``, ``w``; several may follow each other (``"1h30m"``). A bare
``"0"`` means zero. Whitespace around the value is ignored.
"""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"^(?:\d+[smhdw])+$")


def parse_duration(text: str) -> int:
    """Seconds in ``text``; raise ValueError for anything else."""
    value = (text or "").strip().lower()
    if value == "0":
        return 0
    if not _WHOLE.match(value):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 15m, 1h, 7d or 1h30m")
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(value))
