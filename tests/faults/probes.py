# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Requests sent while a dependency is down, each bounded by a client timeout, and what a
registry owes them: an answer within the bound, 503 in the spec's JSON error format with
``Retry-After`` (``/readyz``: 503 with a JSON status)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from tests.ha.workload import Image
from tests.oci import OCTET_STREAM, image_manifest, new_session

#: No request may take longer than this while a dependency is down.
REQUEST_BOUND = 10.0
#: /readyz must answer faster: a load balancer polls it (issue 14 asks for 2 s).
READYZ_BOUND = 5.0


@dataclass
class Probe:
    what: str
    method: str
    url: str
    kwargs: dict[str, Any]
    bound: float
    status: int | None = None
    body: str = ""
    retry_after: str | None = None
    json_ok: bool = False
    error: str = ""
    seconds: float = 0.0

    def run(self) -> None:
        http = new_session()
        started = time.monotonic()
        try:
            resp = http.request(self.method, self.url, timeout=self.bound, **self.kwargs)
            self.status = resp.status_code
            self.body = resp.text[:200]
            self.retry_after = resp.headers.get("Retry-After")
            self.json_ok = _spec_error(resp) if self.what != "readyz" else _readyz_json(resp)
        except requests.RequestException as exc:
            self.error = f"{type(exc).__name__}: {str(exc)[:160]}"
        self.seconds = time.monotonic() - started

    @property
    def ok(self) -> bool:
        if self.status != 503 or not self.json_ok:
            return False
        return self.what == "readyz" or self.retry_after is not None

    def __str__(self) -> str:
        if self.error:
            return f"{self.what}: no answer within {self.bound:.0f} s ({self.error})"
        return (f"{self.what}: {self.status} after {self.seconds:.1f} s, Retry-After "
                f"{self.retry_after}, body {self.body!r}")


def _spec_error(resp: requests.Response) -> bool:
    try:
        errors = resp.json()["errors"]
        return bool(errors) and all("code" in e and "message" in e for e in errors)
    except (ValueError, KeyError, TypeError):
        return False


def _readyz_json(resp: requests.Response) -> bool:
    try:
        return "status" in resp.json()
    except ValueError:
        return False


def registry_probes(base: str, image: Image, upload_url: str, upload_offset: int,
                    next_chunk: bytes) -> list[Probe]:
    """One request of each kind that needs the database: readiness, pulls, pushes, listings.

    The PATCH sends ``next_chunk``, the true next bytes of the open upload, so that a PATCH
    the registry applies late (after the outage) leaves the session finishable."""
    blob = image.manifest.blobs[0]
    # Only blobs the registry has: with a working database this PUT would answer 201.
    manifest = image_manifest(image.manifest.blobs[0], list(image.manifest.blobs[1:]))
    repo = image.repo
    return [
        Probe("readyz", "GET", f"{base}/readyz", {}, READYZ_BOUND),
        Probe("manifest GET", "GET", f"{base}/v2/{repo}/manifests/{image.tag}",
              {"headers": {"Accept": image.manifest.media_type}}, REQUEST_BOUND),
        Probe("blob GET", "GET", f"{base}/v2/{repo}/blobs/{blob.digest}", {}, REQUEST_BOUND),
        Probe("upload POST", "POST", f"{base}/v2/{repo}/blobs/uploads/", {}, REQUEST_BOUND),
        Probe("upload PATCH", "PATCH", upload_url, {
            "data": next_chunk, "headers": {
                "Content-Type": OCTET_STREAM,
                "Content-Range": f"{upload_offset}-{upload_offset + len(next_chunk) - 1}"}},
              REQUEST_BOUND),
        Probe("manifest PUT", "PUT", f"{base}/v2/{repo}/manifests/during-outage",
              {"data": manifest.data, "headers": {"Content-Type": manifest.media_type}},
              REQUEST_BOUND),
        Probe("tags list", "GET", f"{base}/v2/{repo}/tags/list", {}, REQUEST_BOUND),
    ]


def run_concurrently(probes: list[Probe]) -> None:
    threads = [threading.Thread(target=p.run, daemon=True) for p in probes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(p.bound for p in probes) + 30)
