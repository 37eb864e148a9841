# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Blob uploads: end-4a/4b/4c (POST), end-11 (mount), end-5 (PATCH), end-6 (PUT),
end-13 (status) and end-14 (cancel)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..auth.web import pullable
from ..registry import blobs, uploads
from ..registry.names import parse_digest
from ..registry.uploads import UploadSession
from .http import body_chunks, registry, upload_location

bp = Blueprint("uploads", __name__)


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
    reg = registry()
    args = request.args
    mount = args.get("mount")
    if mount:
        if blobs.mount_blob(reg, name, mount, args.get("from") or None, visible=pullable()):
            return _created(name, str(parse_digest(mount)))
    elif "digest" in args:
        digest = uploads.upload_whole(reg, name, args["digest"], body_chunks(),
                                      request.content_length)
        return _created(name, digest)
    session = uploads.start_upload(reg, name, args.get("digest-algorithm") or "sha256")
    return Response(status=202, headers=_session_headers(name, session))


@bp.patch("/v2/<path:name>/blobs/uploads/<upload_id>")
def patch_upload(name: str, upload_id: str) -> Response:
    session = uploads.append_chunk(registry(), name, upload_id, body_chunks(),
                                   request.content_length, request.headers.get("Content-Range"))
    return Response(status=202, headers=_session_headers(name, session))


@bp.put("/v2/<path:name>/blobs/uploads/<upload_id>")
def finish_upload(name: str, upload_id: str) -> Response:
    digest = uploads.finish_upload(registry(), name, upload_id, request.args.get("digest"),
                                   body_chunks(), request.content_length,
                                   request.headers.get("Content-Range"))
    return _created(name, digest)


@bp.get("/v2/<path:name>/blobs/uploads/<upload_id>")
def upload_status(name: str, upload_id: str) -> Response:
    session = uploads.get_upload(registry(), name, upload_id)
    return Response(status=204, headers=_session_headers(name, session))


@bp.delete("/v2/<path:name>/blobs/uploads/<upload_id>")
def cancel_upload(name: str, upload_id: str) -> Response:
    uploads.cancel_upload(registry(), name, upload_id)
    return Response(status=204)
