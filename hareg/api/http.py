# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Small HTTP helpers shared by the blueprints."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

from flask import current_app, request

from ..registry.context import Registry

READ_SIZE = 1024 * 1024


def registry() -> Registry:
    return current_app.extensions["hareg"]


def body_chunks(limit: int | None = None) -> Iterator[bytes]:
    """The request body as a stream of chunks (Content-Length or chunked transfer)."""
    stream = request.stream
    remaining = limit
    while True:
        size = READ_SIZE if remaining is None else min(READ_SIZE, remaining)
        if size == 0:
            return
        chunk = stream.read(size)
        if not chunk:
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


def read_body(max_size: int) -> bytes:
    """Read a bounded body (manifests): at most ``max_size + 1`` bytes are ever held."""
    return b"".join(body_chunks(max_size + 1))


def next_link(path: str, n: int | None, last: str) -> str:
    query = urlencode({"n": n, "last": last} if n is not None else {"last": last})
    return f'<{path}?{query}>; rel="next"'


def upload_location(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"
