# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Blob uploads: end-4a/4b/4c (POST), end-11 (mount), end-5 (PATCH), end-6 (PUT),
end-13 (status) and end-14 (cancel)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import ClientDisconnected

from ..auth.web import pullable
from ..registry import blobs, uploads
from ..registry.names import parse_digest
from ..registry.uploads import UploadIdle, UploadSession
from ..virtual.push import mount_source
from .http import body_chunks, push_target, read_timed_out, registry, upload_location
from .remote import refuse_writes

bp = Blueprint("uploads", __name__)


def _upload_body() -> Iterator[bytes]:
    """The body of a PATCH or PUT; a read that waited longer than the idle timeout raises
    UploadIdle (408, connection closed; the upload stays at its previous offset)."""
    try:
        yield from body_chunks()
    except (OSError, ClientDisconnected) as exc:
        if not read_timed_out(exc):
            raise
        sock = request.environ.get("gunicorn.socket")
        if sock is not None:
            # The rest of the body will not be read: end the connection after the answer
            # (gunicorn would otherwise wait for the body to drain before the next request).
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
        raise UploadIdle() from None


@contextmanager
def _idle_timeout() -> Iterator[None]:
    """Give every read of the client socket ``[server] upload_idle_timeout`` seconds.

    Under gunicorn the socket is in the environ; gevent sockets apply the timeout to each
    ``recv``, so a client that trickles bytes more slowly than that is cut, and one that sends
    steadily is not (gunicorn's own ``timeout`` is a worker heartbeat under gevent, not a read
    timeout). Without a socket (tests with a WSGI client) nothing is set.
    """
    sock = request.environ.get("gunicorn.socket")
    seconds = current_app.config["HAREG_CONFIG"].server.upload_idle_timeout
    if sock is None or not seconds:
        yield
        return
    previous = sock.gettimeout()
    sock.settimeout(seconds)
    try:
        yield
    finally:
        sock.settimeout(previous)


def _session_headers(name: str, session: UploadSession) -> dict[str, str]:
    return {
        "Location": upload_location(name, session.id),
        "Range": session.range_header,
        "Docker-Upload-UUID": session.id,
        "Content-Length": "0",
    }


def _created(name: str, digest: str) -> Response:
    return Response(status=201, headers={
        "Location": f"/v2/{name}/blobs/{digest}",
        "Docker-Content-Digest": digest,
        "Content-Length": "0",
    })


@bp.post("/v2/<path:name>/blobs/uploads/", strict_slashes=False)
def start_upload(name: str) -> Response:
    refuse_writes(name)
    reg = registry()
    target, _ = push_target(name)
    args = request.args
    mount = args.get("mount")
    if mount:
        source, sources = mount_source(reg.namespaces.current(), args.get("from") or None,
                                       pullable())
        if blobs.mount_blob(reg, target, mount, source, visible=sources):
            return _created(name, str(parse_digest(mount)))
    elif "digest" in args:
        digest = uploads.upload_whole(reg, target, args["digest"], body_chunks(),
                                      request.content_length)
        return _created(name, digest)
    session = uploads.start_upload(reg, target, args.get("digest-algorithm") or "sha256")
    return Response(status=202, headers=_session_headers(name, session))


@bp.patch("/v2/<path:name>/blobs/uploads/<upload_id>")
def patch_upload(name: str, upload_id: str) -> Response:
    refuse_writes(name)
    target, _ = push_target(name)
    with _idle_timeout():
        session = uploads.append_chunk(registry(), target, upload_id, _upload_body(),
                                       request.content_length,
                                       request.headers.get("Content-Range"))
    return Response(status=202, headers=_session_headers(name, session))


@bp.put("/v2/<path:name>/blobs/uploads/<upload_id>")
def finish_upload(name: str, upload_id: str) -> Response:
    refuse_writes(name)
    target, _ = push_target(name)
    with _idle_timeout():
        digest = uploads.finish_upload(registry(), target, upload_id, request.args.get("digest"),
                                       _upload_body(), request.content_length,
                                       request.headers.get("Content-Range"))
    return _created(name, digest)


@bp.get("/v2/<path:name>/blobs/uploads/<upload_id>")
def upload_status(name: str, upload_id: str) -> Response:
    refuse_writes(name)
    session = uploads.get_upload(registry(), push_target(name)[0], upload_id)
    return Response(status=204, headers=_session_headers(name, session))


@bp.delete("/v2/<path:name>/blobs/uploads/<upload_id>")
def cancel_upload(name: str, upload_id: str) -> Response:
    refuse_writes(name)
    uploads.cancel_upload(registry(), push_target(name)[0], upload_id)
    return Response(status=204)
