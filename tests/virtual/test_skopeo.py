# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""End to end with a real ``hareg serve`` and skopeo: push through the virtual name, the
image lands in the deploy member, pull it back out through the virtual name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests

from hareg.db import namespaces as namespace_rows
from hareg.registry.namespaces import Virtual
from tests.clients.layout import read_blob, write_image_layout
from tests.clients.test_skopeo import (  # noqa: F401 - the skopeo fixture
    Skopeo,
    assert_manifest_served,
    assert_same_closure,
    docker_ref,
    skopeo,
)
from tests.fixtures.server import HaregServer
from tests.oci import new_session

pytestmark = [pytest.mark.clients, pytest.mark.needs("skopeo")]

HTTP_TIMEOUT = 30.0


@pytest.fixture
def server(hareg_server: Callable[..., HaregServer]) -> HaregServer:
    """A server whose database defines ``docker`` = [release, dev], deploying into dev,
    before it starts (its workers read the definitions on their first request)."""
    srv: HaregServer = hareg_server("filesystem", start=False)
    docker = Virtual("docker", ("release", "dev"), deploy="dev")
    with psycopg2.connect(srv.database_url) as conn, conn.cursor() as cur:
        namespace_rows.save_definition(cur, docker.name, str(docker.kind), docker.to_dict())
    conn.close()
    srv.start()
    return srv


@pytest.fixture
def http() -> Any:
    with new_session() as session:
        yield session


def test_skopeo_push_and_pull_through_the_virtual_name(
        server: HaregServer,
        skopeo: Skopeo,  # noqa: F811 - the fixture imported above
        http: requests.Session, tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    image = write_image_layout(src)
    manifest = read_blob(src, image.manifest.digest)

    skopeo.copy(f"oci:{src}:v1", docker_ref(server.host, "docker/team/app", "v1"))

    # it landed in the deploy member, and only there
    assert_manifest_served(http, server.url, "dev/team/app", "v1", manifest)
    for digest in image.blob_digests:
        resp = http.get(f"{server.url}/v2/dev/team/app/blobs/{digest}", timeout=HTTP_TIMEOUT)
        assert resp.status_code == 200
        assert resp.content == read_blob(src, digest)
    assert http.get(f"{server.url}/v2/release/team/app/tags/list",
                    timeout=HTTP_TIMEOUT).status_code == 404

    skopeo.copy(docker_ref(server.host, "docker/team/app", "v1"), f"oci:{out}:v1")
    assert_same_closure(src, out, "v1")
    assert_manifest_served(http, server.url, "docker/team/app", image.manifest.digest,
                           manifest)
