# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""A varied set of content pushed over HTTP, and a snapshot of every API answer about it."""

from __future__ import annotations

import hashlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    RegistryError,
    artifact_manifest,
    get_all_pages,
    image_index,
    image_manifest,
    new_session,
    push_blob,
    push_image,
    random_blob,
)

ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))


@dataclass
class Pushed:
    """Everything pushed (deleted things included): what the snapshot asks about."""

    repos: list[str] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)
    manifests: set[str] = field(default_factory=set)
    blobs: set[str] = field(default_factory=set)


def push_varied(session: requests.Session, base: str) -> Pushed:
    """Nested names, OCI and Docker types, indexes, referrers, untagged, deleted tag/manifest."""
    run = uuid.uuid4().hex[:8]
    app, tools, plain = f"team-{run}/nested/app", f"team-{run}/tools", f"solo-{run}"
    out = Pushed(repos=[app, tools, plain, f"never-{run}"])

    def push(repo: str, manifest: Any, *tags: str) -> None:
        push_image(session, base, repo, manifest)
        for tag in tags:
            push_image(session, base, repo, manifest, tag)
            out.tags.setdefault(repo, []).append(tag)
        out.manifests.add(manifest.digest)
        out.manifests.update(c.digest for c in manifest.children)
        out.blobs.update(b.digest for b in manifest.blobs)
        for child in manifest.children:
            out.blobs.update(b.digest for b in child.blobs)

    image = image_manifest()
    push(app, image, "v1", "latest")
    push(app, image_manifest(media_type=DOCKER_MANIFEST), "docker")
    push(app, image_manifest())  # untagged
    push(app, image_index([image_manifest(), image_manifest()]), "multi")
    docker_list = image_index([image_manifest(media_type=DOCKER_MANIFEST)],
                              media_type=DOCKER_MANIFEST_LIST)
    push(app, docker_list, "dlist")
    push(app, artifact_manifest(image, annotations={"org.example.kind": "sbom"}))
    push(app, artifact_manifest(image, artifact_type="application/vnd.example.sig"))
    push(app, image_index([], subject=image, artifact_type="application/vnd.example.idx"))
    # a deleted tag (the manifest stays) and a deleted manifest
    push(app, image_manifest(), "temp")
    _delete(session, f"{base}/v2/{app}/manifests/temp")
    gone = image_manifest()
    push(app, gone, "gone")
    _delete(session, f"{base}/v2/{app}/manifests/{gone.digest}")

    push(tools, image_manifest(), "1.0", "1.1")
    lone = random_blob(300)
    push_blob(session, base, tools, lone.data)
    out.blobs.add(lone.digest)
    push_blob(session, base, tools, lone.data, algorithm="sha512")
    out.blobs.add(lone.sha512)
    unlinked = random_blob(50)
    push_blob(session, base, tools, unlinked.data)
    _delete(session, f"{base}/v2/{tools}/blobs/{unlinked.digest}")
    out.blobs.add(unlinked.digest)

    push(plain, image_manifest(media_type=DOCKER_MANIFEST), "latest")
    return out


def _delete(session: requests.Session, url: str) -> None:
    resp = session.delete(url)
    if resp.status_code != 202:
        raise RegistryError(f"DELETE {url}", resp)


SNAPSHOT_THREADS = 8


def snapshot(session: requests.Session, base: str, pushed: Pushed) -> dict[str, Any]:
    """Every API answer about ``pushed``: catalog, tag lists, manifests, blob HEADs, referrers.

    Referrers are compared as sets: the spec leaves their order open, and rebuild-db can
    only recover creation times to the precision of the storage's modification times.
    The catalog is read with ``session``; the other answers (several hundred, all reads)
    are asked for by :data:`SNAPSHOT_THREADS` threads, a session each.
    """
    catalog, _ = get_all_pages(session, base, "/v2/_catalog?n=2", "repositories")
    questions: list[tuple[str, str, str]] = []  # (snapshot key, method, path)
    for repo in pushed.repos:
        questions.append((f"tags {repo}", "tags", f"/v2/{repo}/tags/list"))
        refs = sorted(pushed.manifests) + pushed.tags.get(repo, []) + ["temp", "gone"]
        questions += [(f"manifest {repo} {ref}", "manifest", f"/v2/{repo}/manifests/{ref}")
                      for ref in refs]
        questions += [(f"referrers {repo} {digest}", "referrers",
                       f"/v2/{repo}/referrers/{digest}") for digest in sorted(pushed.manifests)]
        questions += [(f"blob {repo} {digest}", "blob", f"/v2/{repo}/blobs/{digest}")
                      for digest in sorted(pushed.blobs | pushed.manifests)]

    local = threading.local()
    sessions: list[requests.Session] = []

    def ask(question: tuple[str, str, str]) -> Any:
        _key, kind, path = question
        if not hasattr(local, "session"):
            local.session = new_session()
            sessions.append(local.session)
        s = local.session
        url = f"{base}{path}"
        if kind == "tags":
            resp = s.get(url)
            return (resp.status_code, resp.json())
        if kind == "manifest":
            resp = s.get(url, headers={"Accept": ACCEPT})
            return (resp.status_code, resp.headers.get("Content-Type"),
                    resp.headers.get("Docker-Content-Digest"),
                    hashlib.sha256(resp.content).hexdigest() if resp.ok else _codes(resp))
        if kind == "referrers":
            resp = s.get(url)
            body = resp.json()
            if resp.ok:
                body["manifests"].sort(key=lambda d: d["digest"])
            return (resp.status_code, body)
        resp = s.head(url)
        return (resp.status_code, resp.headers.get("Content-Length"),
                resp.headers.get("Docker-Content-Digest"))

    try:
        with ThreadPoolExecutor(max_workers=SNAPSHOT_THREADS) as pool:
            answers = list(pool.map(ask, questions))
    finally:
        for s in sessions:
            s.close()
    snap: dict[str, Any] = {"catalog": catalog}
    snap.update((key, answer) for (key, _kind, _path), answer in zip(questions, answers,
                                                                     strict=True))
    return snap


def _codes(resp: requests.Response) -> list[str]:
    return [e["code"] for e in resp.json().get("errors", [])]


def nontrivial(snap: dict[str, Any]) -> dict[str, int]:
    """How many answers were successes, per kind: proves the snapshot is not all 404s."""
    out: dict[str, int] = {}
    for key, value in snap.items():
        kind = key.split(" ")[0]
        ok = (value[0] == 200) if isinstance(value, tuple) else bool(value)
        if kind == "referrers":
            ok = ok and bool(value[1]["manifests"])
        out[kind] = out.get(kind, 0) + ok
    return out
