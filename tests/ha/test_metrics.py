# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg.server.metrics and hareg.storage.metered in one process (the multi-worker case runs against
a real ``hareg serve`` in test_graceful.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, request
from werkzeug.test import Client

from hareg.server import metrics as m
from hareg.storage.base import NotFound, StorageError
from hareg.storage.filesystem import FilesystemDriver
from hareg.storage.metered import MeteredStorage


class FakeDb:
    size = 7

    def __init__(self) -> None:
        self.in_use = 0
        self.waits = 0

    def read(self) -> Any:
        raise RuntimeError("no database here")


def sample(name: str, **labels: str) -> float:
    value = m._LOCAL_REGISTRY.get_sample_value(name, labels)
    return value or 0.0


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, FakeDb]]:
    assert not m.multiprocess_dir(), "these tests check the single-process registry"
    # The pool gauges are copied at most every 0.2 s per process: another test of this
    # process (any app behind MetricsMiddleware) may have copied its pool a moment ago, which
    # would hold back the first copy of ours. Forget when that was; the throttle still applies
    # to the requests of this test after the first.
    monkeypatch.setattr(m.get_metrics(), "_pool_observed", float("-inf"))
    flask_app = Flask("probe")
    bp = Blueprint("blobs", __name__)

    @bp.route("/v2/<name>/blobs/<digest>", methods=["GET", "PUT"])
    def blob(name: str, digest: str) -> Response:
        if request.method == "PUT":
            request.get_data()
            return Response(status=201)
        return Response(iter([b"a" * 100, b"b" * 23]), status=200)

    flask_app.register_blueprint(bp)
    db = FakeDb()
    flask_app.wsgi_app = m.MetricsMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app, flask_app.url_map, db)
    yield flask_app, db


def test_requests_bytes_and_latency_by_blueprint(app: tuple[Flask, FakeDb]) -> None:
    flask_app, db = app
    client: Client = flask_app.test_client()
    labels = {"group": "blobs", "method": "GET", "status": "200"}
    before = sample("hareg_http_requests_total", **labels)
    sent_before = sample("hareg_http_response_bytes_total", group="blobs", method="GET")
    recv_before = sample("hareg_http_request_bytes_total", group="blobs", method="PUT")
    # other tests of this process may leave responses unclosed: compare, do not expect 0
    in_flight_before = sample("hareg_http_requests_in_flight")
    db.waits = 3
    resp = client.get("/v2/x/blobs/y", buffered=True)
    assert resp.status_code == 200 and len(resp.data) == 123
    assert client.put("/v2/x/blobs/y", data=b"z" * 1000, buffered=True).status_code == 201
    assert client.get("/nowhere", buffered=True).status_code == 404
    assert sample("hareg_http_requests_total", **labels) == before + 1
    assert sample("hareg_http_request_duration_seconds_count", **labels) >= 1
    assert sample("hareg_http_response_bytes_total", group="blobs", method="GET") \
        == sent_before + 123
    assert sample("hareg_http_request_bytes_total", group="blobs", method="PUT") \
        == recv_before + 1000
    assert sample("hareg_http_requests_total", group="unmatched", method="GET",
                  status="404") >= 1
    assert sample("hareg_http_requests_in_flight") == in_flight_before
    assert sample("hareg_db_pool_connections_max") == 7
    assert sample("hareg_db_pool_waits_total") >= 3


def test_metrics_endpoint_on_main_port(app: tuple[Flask, FakeDb]) -> None:
    flask_app, _ = app
    resp = flask_app.test_client().get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = resp.get_data(as_text=True)
    assert "hareg_http_requests_total" in text
    assert "hareg_upload_sessions_open" not in text  # the database is unreachable: skipped


def test_metrics_port_serves_only_metrics(app: tuple[Flask, FakeDb]) -> None:
    flask_app, db = app
    flask_app.wsgi_app = m.MetricsMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app.app, flask_app.url_map, db, bind="127.0.0.1:9100")
    client = flask_app.test_client()
    on_metrics = "http://127.0.0.1:9100"
    assert client.get("/metrics", base_url=on_metrics).status_code == 200
    assert client.get("/v2/x/blobs/y", base_url=on_metrics).status_code == 404
    assert client.get("/metrics", base_url="http://127.0.0.1:5000").status_code == 404


class Failing(FilesystemDriver):
    def put_bytes(self, key: str, data: bytes) -> None:
        raise StorageError("disk on fire")


def test_storage_latency_and_errors(tmp_path: Path) -> None:
    storage = MeteredStorage(Failing(str(tmp_path)))
    ok_before = sample("hareg_storage_operation_duration_seconds_count", operation="stat")
    err_before = sample("hareg_storage_errors_total", operation="put_bytes")
    nf_before = sample("hareg_storage_errors_total", operation="stat")
    with pytest.raises(StorageError):
        storage.put_bytes("a/b", b"x")
    with pytest.raises(NotFound):
        storage.stat("a/b")
    assert sample("hareg_storage_errors_total", operation="put_bytes") == err_before + 1
    assert sample("hareg_storage_errors_total", operation="stat") == nf_before  # not an error
    assert sample("hareg_storage_operation_duration_seconds_count", operation="stat") \
        == ok_before + 1


def test_metered_storage_is_a_transparent_driver(tmp_path: Path) -> None:
    inner = FilesystemDriver(str(tmp_path))
    storage = MeteredStorage(inner)
    storage.put_bytes("d/k", b"hello world")
    assert storage.get_bytes("d/k") == b"hello world"
    assert b"".join(storage.open_range("d/k", 6)) == b"world"
    stream = storage.open_range("d/k")
    stream.close()  # closing early releases the file
    assert [i.key for i in storage.list_objects("d")] == ["d/k"]
    assert storage.min_part_size == inner.min_part_size
    assert storage.root == inner.root  # other attributes are the driver's
