# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Through a real ``hareg serve``: POST /api/v1/promote, immutable tags, the schedule."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests import oci
from tests.fixtures.server import HaregServer, to_toml

RETENTION = """
[[retention]]
repository = "release/*"
immutable_tags = 'v\\d+\\.\\d+\\.\\d+'
"""


@pytest.fixture(scope="module")
def server(module_server_factory: Any) -> HaregServer:
    """One server for the module, with an immutable-tag rule for release/*."""
    srv: HaregServer = module_server_factory.create("filesystem", start=False)
    srv.config_path.write_text(to_toml(srv.config) + RETENTION)
    srv.start()
    return srv


def _image() -> oci.Manifest:
    return oci.image_manifest(oci.config_blob(), [oci.random_blob(500)])


def _promote(session: Any, server: HaregServer, body: object) -> Any:
    return session.post(f"{server.url}/api/v1/promote", json=body)


def test_promote_over_the_api(server: HaregServer, session: Any) -> None:
    image = _image()
    oci.push_image(session, server.url, "dev/web", image, "1.2.3")
    resp = _promote(session, server, {"source": "dev/web:1.2.3", "target": "release/web"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["source"] == "dev/web:1.2.3" and body["target"] == "release/web:1.2.3"
    assert body["digest"] == image.digest and body["blobsLinked"] == 2
    assert body["promotedBy"].startswith("anonymous@")
    assert resp.headers["Location"] == f"/v2/release/web/manifests/{image.digest}"
    pulled = session.get(f"{server.url}/v2/release/web/manifests/1.2.3",
                         headers={"Accept": image.media_type})
    assert pulled.status_code == 200 and pulled.content == image.data
    for blob in image.blobs:
        got = session.get(f"{server.url}/v2/release/web/blobs/{blob.digest}")
        assert got.status_code == 200 and got.content == blob.data


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"source": "dev/none:1.0", "target": "release/none"}, 404, "MANIFEST_UNKNOWN"),
    ({"source": "dev/web", "target": "release/web"}, 400, "UNSUPPORTED"),
    ({"source": "dev/web:1.0"}, 400, "UNSUPPORTED"),
    ({"source": "dev/web:1.0", "target": "x", "extra": 1}, 400, "UNSUPPORTED"),
    (["dev/web:1.0", "release/web"], 400, "UNSUPPORTED"),
    ({"source": "Dev/Web:1.0", "target": "release/web"}, 400, "NAME_INVALID"),
])
def test_bad_promotion_requests_get_spec_errors(server: HaregServer, session: Any, body: object,
                                                status: int, code: str) -> None:
    oci.assert_error(_promote(session, server, body), status, code)


def test_invalid_json_is_refused(server: HaregServer, session: Any) -> None:
    resp = session.post(f"{server.url}/api/v1/promote", data=b"{nope",
                        headers={"Content-Type": "application/json"})
    oci.assert_error(resp, 400, "UNSUPPORTED")


def test_moving_an_immutable_tag_is_denied(server: HaregServer, session: Any) -> None:
    first, second = _image(), _image()
    oci.push_image(session, server.url, "release/api", first, "v2.0.0")
    oci.push_manifest(session, server.url, "release/api", "v2.0.0", first)  # same digest: ok
    for blob in second.blobs:
        oci.push_blob(session, server.url, "release/api", blob.data)
    resp = session.put(f"{server.url}/v2/release/api/manifests/v2.0.0", data=second.data,
                       headers={"Content-Type": second.media_type})
    oci.assert_error(resp, 403, "DENIED")
    oci.push_manifest(session, server.url, "release/api", "latest", second)  # mutable tag
    pulled = session.get(f"{server.url}/v2/release/api/manifests/v2.0.0",
                         headers={"Accept": first.media_type})
    assert pulled.content == first.data
    # promotion onto it is refused the same way
    oci.push_image(session, server.url, "dev/api", second, "v2.0.0")
    oci.assert_error(_promote(session, server, {"source": "dev/api:v2.0.0",
                                                "target": "release/api"}), 403, "DENIED")


@pytest.mark.slow
def test_the_schedule_sweeps_once_per_interval_in_the_cluster(hareg_cluster: Any,
                                                              session: Any) -> None:
    """Two instances of two workers each, schedule 1s: four greenlets tick, but about one
    sweep per interval runs, and it collects what became garbage."""
    servers = hareg_cluster(2, "filesystem",
                            env={"HAREG_GC_SCHEDULE": "1s", "HAREG_GC_GRACE_PERIOD": "0"})
    url = servers[0].url
    digest = oci.push_blob(session, url, "sched/app", b"garbage soon")
    deadline = time.monotonic() + 20
    while session.head(f"{url}/v2/sched/app/blobs/{digest}").status_code == 200:
        assert time.monotonic() < deadline, "no scheduled sweep collected the blob"
        time.sleep(0.2)
    window_start = time.monotonic()
    import psycopg2

    time.sleep(4)
    conn = psycopg2.connect(servers[0].database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT host) FROM gc_runs"
                        " WHERE trigger = 'schedule' AND started_at > now() - %s * interval '1s'",
                        (time.monotonic() - window_start,))
            runs, _hosts = cur.fetchone()
    finally:
        conn.close()
    assert 2 <= runs <= 6, runs  # ~4 s / 1 s, not 4 greenlets x 6 ticks or more
