# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""end-1: the API base, the API version header, health and readiness."""

from __future__ import annotations

import requests

from tests.fixtures.server import HaregServer
from tests.oci import fake_digest

API_VERSION = "registry/2.0"


def test_base_answers_200_with_empty_json(registry: HaregServer, session: requests.Session):
    resp = session.get(f"{registry.url}/v2/")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}
    assert resp.headers.get("Docker-Distribution-API-Version") == API_VERSION


def test_base_head(registry: HaregServer, session: requests.Session):
    resp = session.head(f"{registry.url}/v2/")
    assert resp.status_code == 200
    assert resp.headers.get("Docker-Distribution-API-Version") == API_VERSION


def test_api_version_header_on_errors(
    registry: HaregServer, session: requests.Session, repo: str
):
    resp = session.get(f"{registry.url}/v2/{repo}/blobs/{fake_digest()}")
    assert resp.status_code == 404
    assert resp.headers.get("Docker-Distribution-API-Version") == API_VERSION
    resp = session.get(f"{registry.url}/v2/{repo}/manifests/latest")
    assert resp.status_code == 404
    assert resp.headers.get("Docker-Distribution-API-Version") == API_VERSION


def test_healthz(registry: HaregServer, session: requests.Session):
    assert session.get(f"{registry.url}/healthz").status_code == 200


def test_readyz(registry: HaregServer, session: requests.Session):
    assert session.get(f"{registry.url}/readyz").status_code == 200
