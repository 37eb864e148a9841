# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Zero-copy blob pulls under gevent.

gunicorn sends a ``wsgi.file_wrapper`` response with ``socket.sendfile``; gevent's socket
implements that as an 8 KiB read-and-send loop in Python (benchmarks/README: 91% of a
worker's time on large filesystem pulls). This replaces it with ``os.sendfile`` on the
non-blocking socket, waiting on gevent's write event whenever the kernel's buffer is full,
so other greenlets run meanwhile and the bytes never enter Python.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

_CHUNK = 1 << 30


def gevent_sendfile(sock: Any, file: BinaryIO, offset: int = 0, count: int | None = None) -> int:
    """``socket.sendfile`` semantics: returns bytes sent, leaves the file after them."""
    in_fd, out_fd = file.fileno(), sock.fileno()
    if count is None:
        count = max(os.fstat(in_fd).st_size - offset, 0)
    sent_total = 0
    position = offset
    try:
        while sent_total < count:
            try:
                sent = os.sendfile(out_fd, in_fd, position, min(count - sent_total, _CHUNK))
            except BlockingIOError:
                sock._wait(sock._write_event)
                continue
            if sent == 0:  # end of file
                break
            position += sent
            sent_total += sent
    finally:
        file.seek(position)
    return sent_total


def install() -> None:
    """Use :func:`gevent_sendfile` for every gevent socket in this process."""
    from gevent import _socket3

    if hasattr(os, "sendfile"):
        _socket3.socket.sendfile = gevent_sendfile
