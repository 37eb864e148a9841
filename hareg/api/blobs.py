# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-2 (GET/HEAD blob, with Range) and end-10 (DELETE blob)."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Blueprint, Response, request

from ..registry import blobs
from ..registry.blobs import BlobInfo
from ..registry.errors import RangeNotSatisfiable
from ..remote import pull
from ..virtual import pull as virtual_pull
from .http import refuse_virtual_delete, registry, through_virtual
from .remote import refuse_writes, remote_target

bp = Blueprint("blobs", __name__)

_RANGE = re.compile(r"\Abytes=(\d*)-(\d*)\Z")
#: Offsets beyond any blob: a longer number means "past the end" (int() of thousands of
#: digits would raise ValueError, and would cost CPU quadratic in its length).
_MAX_DIGITS = 19
_BEYOND = 10**_MAX_DIGITS


def _offset(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _BEYOND if len(digits) > _MAX_DIGITS else int(digits)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One byte range as (start, end inclusive); None means the whole blob.

    Multi-range and malformed headers are ignored (RFC 9110 lets a server send the whole
    representation); a syntactically valid range outside the blob is a 416.
    """
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):  # suffix range: the last N bytes
        length = _offset(m.group(2))
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        return max(size - length, 0), size - 1
    start = _offset(m.group(1))
    end = _offset(m.group(2)) if m.group(2) else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, min(end, size - 1)


def _headers(info: BlobInfo) -> dict[str, str]:
    return {
        "Docker-Content-Digest": info.digest,
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
        "ETag": f'"{info.digest}"',
    }


@bp.route("/v2/<path:name>/blobs/<digest>", methods=["GET", "HEAD"])
def get_blob(name: str, digest: str) -> Response:
    reg = registry()
    head = request.method == "HEAD"
    via = through_virtual(name)
    if via is not None:
        found = virtual_pull.stat_blob(reg, via, digest, head=head)
        return _answer(found, lambda: virtual_pull.stat_blob(reg, via, digest, head=True))
    target = remote_target(name)
    if target is None:
        return _send(blobs.stat_blob(reg, name, digest))
    remote, path = target
    found = pull.get_blob(reg, remote, path, digest, head=head)
    return _answer(found, lambda: blobs.stat_blob(reg, pull.cache_repository(remote, path),
                                                  digest))


def _answer(found: pull.RemoteBlob, cached: Callable[[], object]) -> Response:
    """A blob a remote namespace answered: cached (a BlobInfo), or streamed from its upstream
    while it is cached. A range of an uncached blob: the whole blob is cached first, then the
    range is served from the cache, which ``cached()`` finds (docs/virtual-remote.rst)."""
    if isinstance(found, BlobInfo):
        return _send(found)
    if found.chunks is not None and request.headers.get("Range"):
        found.drain()
        info = cached()
        assert isinstance(info, BlobInfo)
        return _send(info)
    headers = _headers(BlobInfo(found.digest, found.size or 0))
    if found.size is not None:
        headers["Content-Length"] = str(found.size)
    else:
        del headers["Accept-Ranges"]
    if found.chunks is None:
        return Response(status=200, headers=headers)
    return Response(found.chunks, status=200, headers=headers, direct_passthrough=True)


def _send(info: BlobInfo) -> Response:
    """A blob hareg stores (a local one, or cached by a remote namespace), ranges included;
    with ``[storage] redirect``, a GET is a 307 to the object's presigned URL instead."""
    reg = registry()
    if request.method == "GET":
        url = blobs.blob_redirect_url(reg, info)
        if url is not None:  # the client GETs (and ranges) from the bucket
            return Response(status=307, headers={
                "Location": url, "Docker-Content-Digest": info.digest, "Content-Length": "0",
                "Cache-Control": "no-store"})  # the URL expires: no cache may keep it
    headers = _headers(info)
    byte_range = _parse_range(request.headers.get("Range"), info.size)
    status, start, length = 200, 0, info.size
    if byte_range is not None:
        start, end = byte_range
        status, length = 206, end - start + 1
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status=status, headers=headers)
    path = blobs.blob_local_path(reg, info) if byte_range is None else None
    if path is not None:
        try:
            fh = open(path, "rb")  # noqa: SIM115 - the WSGI server closes it after sending
        except FileNotFoundError:
            path = None
        else:
            body = request.environ["wsgi.file_wrapper"](fh, 1024 * 1024) \
                if "wsgi.file_wrapper" in request.environ else iter(lambda: fh.read(1 << 20), b"")
            return Response(body, status=status, headers=headers, direct_passthrough=True)
    chunks = blobs.open_blob(reg, info, start, length)
    return Response(chunks, status=status, headers=headers, direct_passthrough=True)


@bp.delete("/v2/<path:name>/blobs/<digest>")
def delete_blob(name: str, digest: str) -> Response:
    refuse_writes(name)
    refuse_virtual_delete(name)
    blobs.delete_blob(registry(), name, digest)
    return Response(status=202, headers={"Content-Length": "0"})
