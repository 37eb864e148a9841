# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Invariant 3 on the filesystem: when put_bytes returns, the file, its name and the name of
every directory it created are durable (fsynced), whatever order the fsyncs came in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hareg.storage import filesystem
from hareg.storage.filesystem import FilesystemDriver


def test_put_bytes_fsyncs_the_file_and_every_directory_entry_it_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    driver = FilesystemDriver(str(tmp_path))
    (tmp_path / "repositories").mkdir()
    synced_dirs: list[str] = []
    synced_fds: list[int] = []
    real_fsync_dir = filesystem._fsync_dir
    monkeypatch.setattr(filesystem, "_fsync_dir",
                        lambda path: (synced_dirs.append(path), real_fsync_dir(path))[1])
    monkeypatch.setattr(filesystem, "_fsync", lambda fd: (synced_fds.append(fd), os.fsync(fd))[1])

    driver.put_bytes("repositories/r/_manifests/tags/t/current/link", b"x")

    made = ["r", "r/_manifests", "r/_manifests/tags", "r/_manifests/tags/t",
            "r/_manifests/tags/t/current"]
    parents = {str(tmp_path / "repositories" / m).rsplit("/", 1)[0] for m in made}
    file_dir = str(tmp_path / "repositories/r/_manifests/tags/t/current")
    assert set(synced_dirs) == parents | {file_dir}
    assert synced_dirs[0] == file_dir  # the file's own name first: its commit carries the rest
    assert len(synced_fds) == len(synced_dirs) + 1  # and the file itself, before its rename
    assert (tmp_path / "repositories/r/_manifests/tags/t/current/link").read_bytes() == b"x"

    synced_dirs.clear()
    driver.put_bytes("repositories/r/_manifests/tags/t/current/link", b"y")  # no new directory
    assert synced_dirs == [file_dir]
