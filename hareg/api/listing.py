# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Content discovery: end-8a/8b (tags), the catalog, end-12a/12b (referrers)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..auth.web import pullable
from ..registry import listing
from ..registry.formats import OCI_INDEX
from ..registry.namespaces import Kind
from ..virtual import listing as virtual_listing
from .http import next_link, registry, through_virtual
from .remote import cache_name

tags_bp = Blueprint("tags", __name__)
catalog_bp = Blueprint("catalog", __name__)
referrers_bp = Blueprint("referrers", __name__)


def _paged(path: str, page: listing.Page, n: int | None, body: dict) -> Response:
    response = jsonify(body)
    if page.more and page.items:
        response.headers["Link"] = next_link(path, n, page.items[-1])
    return response


@tags_bp.get("/v2/<path:name>/tags/list")
def list_tags(name: str) -> Response:
    n = listing.parse_page_size(request.args.get("n"))
    last = listing.parse_last(request.args.get("last"))
    via = through_virtual(name)
    # A remote namespace lists the tags it has cached (docs/virtual-remote.rst).
    page = listing.list_tags(registry(), cache_name(name), n, last) if via is None \
        else virtual_listing.list_tags(registry(), via, n, last)
    return _paged(f"/v2/{name}/tags/list", page, n, {"name": name, "tags": page.items})


@catalog_bp.get("/v2/_catalog")
def catalog() -> Response:
    n = listing.parse_page_size(request.args.get("n"))
    last = listing.parse_last(request.args.get("last"))
    reg = registry()
    namespaces = reg.namespaces.current()
    if any(d.kind == Kind.VIRTUAL for d in namespaces):
        page = virtual_listing.list_repositories(reg, namespaces, n, last, visible=pullable())
    else:
        page = listing.list_repositories(reg, n, last, visible=pullable())
    return _paged("/v2/_catalog", page, n, {"repositories": page.items})


@referrers_bp.get("/v2/<path:name>/referrers/<digest>")
def referrers(name: str, digest: str) -> Response:
    artifact_type = listing.parse_artifact_type(request.args.get("artifactType"))
    via = through_virtual(name)
    descriptors = listing.list_referrers(registry(), cache_name(name), digest, artifact_type) \
        if via is None else virtual_listing.list_referrers(registry(), via, digest,
                                                           artifact_type)
    response = jsonify({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors})
    response.headers["Content-Type"] = OCI_INDEX
    if artifact_type:
        response.headers["OCI-Filters-Applied"] = "artifactType"
    return response
