# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The terminal side of hareg.progress: one tqdm bar per phase on stderr."""

from __future__ import annotations

import sys
from typing import Any

from hareg.progress import NoProgress, Progress


class TqdmProgress:
    """A tqdm bar per phase (counts and rate) on stderr."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.bar: Any = None

    def phase(self, name: str, total: int | None) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=f"{self.prefix}{name}", unit=" items",
                        file=sys.stderr, leave=False, dynamic_ncols=True)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def terminal_progress(wanted: bool | None, prefix: str = "") -> Progress:
    """A bar when asked for, or by default when stderr is a terminal; else nothing."""
    show = sys.stderr.isatty() if wanted is None else wanted
    return TqdmProgress(prefix) if show else NoProgress()
