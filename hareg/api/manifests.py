# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-3 (GET/HEAD), end-7 and end-7b (PUT, with ?tag=), end-9 (DELETE)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..registry import manifests
from ..registry.errors import ManifestTooLarge
from ..remote import pull
from ..virtual import pull as virtual_pull
from ..virtual import push as virtual_push
from .http import push_target, read_body, refuse_virtual_delete, registry, through_virtual
from .remote import refuse_writes, remote_target

bp = Blueprint("manifests", __name__)


def _accept() -> list[str]:
    """The client's Accept header, for an upstream (hareg.remote.pull.upstream_accept). The
    WSGI server joins repeated headers into one value; reading that one value is cheaper than
    ``getlist``, which walks every header of the request."""
    value = request.headers.get("Accept")
    return [value] if value else []


@bp.route("/v2/<path:name>/manifests/<reference>", methods=["GET", "HEAD"])
def get_manifest(name: str, reference: str) -> Response:
    head = request.method == "HEAD"
    via = through_virtual(name)
    target = remote_target(name) if via is None else None
    warning = None
    found: manifests.StoredManifest | virtual_pull.Resolved | pull.CachedManifest
    if via is not None:
        resolved = virtual_pull.get_manifest(registry(), via, reference, _accept(), head=head)
        found, warning = resolved, resolved.warning
    elif target is not None:
        remote, path = target
        cached = pull.get_manifest(registry(), remote, path, reference, _accept(), head=head)
        found, warning = cached, cached.warning
    else:
        found = manifests.get_manifest(registry(), name, reference, with_payload=not head)
    headers = {
        "Content-Type": found.media_type,
        "Docker-Content-Digest": found.digest,
        "Content-Length": str(found.size),
        "ETag": f'"{found.digest}"',
    }
    if warning:
        headers["Warning"] = warning
    return Response(None if head else found.payload, status=200, headers=headers)


@bp.put("/v2/<path:name>/manifests/<reference>")
def put_manifest(name: str, reference: str) -> Response:
    refuse_writes(name)
    reg = registry()
    limit = reg.settings.max_manifest_size
    if (request.content_length or 0) > limit:
        raise ManifestTooLarge(detail={"limit": limit})
    target, via = push_target(name)
    payload = read_body(limit)
    content_type = request.headers.get("Content-Type", "")
    if via is not None:
        virtual_push.link_from_members(reg, via, target, payload, content_type)
    result = manifests.put_manifest(reg, target, reference, payload, content_type,
                                    request.args.getlist("tag"))
    headers = {
        "Location": f"/v2/{name}/manifests/{result.digest}",
        "Docker-Content-Digest": result.digest,
        "Content-Length": "0",
    }
    if result.subject:
        headers["OCI-Subject"] = result.subject
    if request.args.getlist("tag"):
        headers["OCI-Tag"] = ", ".join(result.tags)
    return Response(status=201, headers=headers)


@bp.delete("/v2/<path:name>/manifests/<reference>")
def delete_manifest(name: str, reference: str) -> Response:
    refuse_writes(name)
    refuse_virtual_delete(name)
    manifests.delete_manifest(registry(), name, reference)
    return Response(status=202, headers={"Content-Length": "0"})
