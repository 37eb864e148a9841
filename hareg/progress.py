# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""How long admin operations (gc, check) report progress: the CLI shows a bar on a terminal,
the in-server scheduler and the tests nothing."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def phase(self, name: str, total: int | None) -> None:
        """A new phase begins with ``total`` items (None when unknown, e.g. a bucket listing)."""

    def advance(self, n: int = 1) -> None:
        """``n`` more items of the current phase are done."""

    def close(self) -> None:
        """The sweep is over."""


class NoProgress:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass
