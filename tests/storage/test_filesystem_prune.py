# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A delete prunes the directories it empties; a write into one of them at the same moment
must still succeed (the garbage collector deletes links while clients push into the same
repository). Found by tests/gc/test_stress.py as a 503 on an upload's completion."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hareg.storage.filesystem import FilesystemDriver

LINKS = "repositories/r/_layers/sha256"


def test_a_write_survives_its_parent_being_pruned_before_its_mkdir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = FilesystemDriver(str(tmp_path))
    driver.put_bytes(f"{LINKS}/aaaa/link", b"a")
    real_mkdir = os.mkdir
    pruned: list[str] = []

    def mkdir_after_a_prune(path: Any, *args: Any, **kwargs: Any) -> None:
        # The writer saw LINKS/ exist; the last link in it goes now, and with it LINKS/.
        if not pruned:
            driver.delete(f"{LINKS}/aaaa/link")
            pruned.append(str(path))
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir_after_a_prune)
    driver.put_bytes(f"{LINKS}/bbbb/link", b"b")

    assert pruned == [str(tmp_path / LINKS / "bbbb")]
    assert not (tmp_path / LINKS / "aaaa").exists()
    assert driver.get_bytes(f"{LINKS}/bbbb/link") == b"b"


def test_writes_and_pruning_deletes_in_one_directory_tree_from_two_threads(
        tmp_path: Path) -> None:
    """Bounded: 400 write/delete pairs per thread or 10 s."""
    driver = FilesystemDriver(str(tmp_path))
    errors: list[BaseException] = []
    deadline = time.monotonic() + 10

    def churn(name: str) -> None:
        try:
            for i in range(400):
                if time.monotonic() > deadline:
                    return
                key = f"{LINKS}/{name}{i}/link"
                driver.put_bytes(key, b"x")
                driver.delete(key)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[0]
    assert not (tmp_path / "repositories").exists()  # everything pruned in the end
