# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""/readyz answers 503, naming the part, when the database or the storage is down.

Each case builds the real app (``create_app``) on a real PostgreSQL database and real
storage (a directory, or moto's S3 server), checks that it is ready, then takes one part
away the way it fails in production: the database stops taking connections and the open
ones are terminated, or nothing listens at its address; the storage root disappears; the
bucket is gone or the S3 endpoint refuses connections.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from flask import Flask

from hareg.api.app import create_app
from hareg.config import load_config
from tests.fixtures.postgres import PostgresAdmin
from tests.fixtures.server import free_port

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(pg: PostgresAdmin, tmp_path: Path) -> Iterator[AppFactory]:
    """``make_app(database_url=None, storage=None)``: an app on a fresh migrated database
    and a fresh filesystem root unless told otherwise; closes their pools afterwards."""
    apps: list[Flask] = []

    def make(database_url: str | None = None, storage: dict[str, Any] | None = None) -> Flask:
        root = tmp_path / f"storage-{len(apps)}"
        config = load_config(env={}, overrides={
            "server": {"data_dir": str(tmp_path / "data")},
            "database": {"url": database_url or pg.migrated_database("hareg_readyz")},
            "storage": storage or {"driver": "filesystem", "root": str(root)},
        })
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["hareg"].db.close()


def _ready(app: Flask) -> tuple[int, dict[str, Any]]:
    resp = app.test_client().get("/readyz")
    return resp.status_code, resp.get_json()


def _take_down(pg: PostgresAdmin, url: str) -> None:
    """Close the database to new connections and terminate the ones it has (as a server
    shutting down does; cheaper than DROP DATABASE, which waits for a checkpoint)."""
    name = url.rsplit("/", 1)[1]
    conn = psycopg2.connect(pg.url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = %s", (name,))
            terminated = cur.fetchone()[0]
    finally:
        conn.close()
    assert terminated >= 1  # the app's pooled connection


def test_ready_when_database_and_storage_answer(make_app: AppFactory) -> None:
    status, body = _ready(make_app())
    assert status == 200 and body["status"] == "ok", body
    assert body["storage"]["writable"] is True, body


def test_not_ready_when_the_database_goes_down(make_app: AppFactory, pg: PostgresAdmin
                                               ) -> None:
    url = pg.migrated_database("hareg_readyz_down")
    app = make_app(database_url=url)
    assert _ready(app)[0] == 200  # the pool now holds a connection to the database
    _take_down(pg, url)
    status, body = _ready(app)
    assert status == 503, body
    assert body["status"] == "unavailable"
    assert set(body["problems"]) == {"database"}, body
    status, body = _ready(app)  # and again, with nothing left in the pool
    assert status == 503 and set(body["problems"]) == {"database"}, body


def test_not_ready_when_nothing_listens_at_the_database_address(make_app: AppFactory) -> None:
    app = make_app(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/hareg")
    status, body = _ready(app)
    assert status == 503, body
    assert set(body["problems"]) == {"database"}, body
    assert "OperationalError" in body["problems"]["database"]


def test_not_ready_when_the_storage_root_is_gone(make_app: AppFactory, tmp_path: Path) -> None:
    root = tmp_path / "vanishing"
    app = make_app(storage={"driver": "filesystem", "root": str(root)})
    assert _ready(app)[0] == 200
    shutil.rmtree(root)
    root.write_bytes(b"not a directory")  # so nothing recreates it under the probe
    status, body = _ready(app)
    assert status == 503, body
    assert set(body["problems"]) == {"storage"}, body
    assert "not writable" in body["problems"]["storage"]


def _s3(s3_server: Any, bucket: str, endpoint_url: str | None = None) -> dict[str, Any]:
    return {"driver": "s3", "bucket": bucket,
            "endpoint_url": endpoint_url or s3_server.endpoint_url,
            "region": s3_server.region, "access_key_id": s3_server.access_key_id,
            "secret_access_key": s3_server.secret_access_key, "path_style": True}


def test_not_ready_when_the_bucket_is_gone(make_app: AppFactory, s3_server: Any) -> None:
    bucket = s3_server.make_bucket()
    app = make_app(storage=_s3(s3_server, bucket))
    assert _ready(app)[0] == 200
    s3_server.client.delete_bucket(Bucket=bucket)
    status, body = _ready(app)
    assert status == 503, body
    assert set(body["problems"]) == {"storage"}, body


def test_not_ready_when_the_s3_endpoint_refuses(make_app: AppFactory, s3_server: Any) -> None:
    refusing = f"http://127.0.0.1:{free_port()}"
    app = make_app(storage=_s3(s3_server, "any-bucket", endpoint_url=refusing))
    status, body = _ready(app)
    assert status == 503, body
    assert set(body["problems"]) == {"storage"}, body
