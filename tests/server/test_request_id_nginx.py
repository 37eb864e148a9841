# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""conf/nginx.conf sends its ``$request_id``; hareg (trusting nginx) uses it, returns it and
logs it, so nginx's access log and hareg's request log name the same request."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fixtures.server import ServerFactory, to_toml
from tests.ha.nginx import Nginx
from tests.oci import new_session

pytestmark = pytest.mark.ha

LOG_WAIT = 10.0


def test_nginx_request_id_reaches_the_client_and_both_logs(server_factory: ServerFactory,
                                                           tmp_path: Path):
    server = server_factory.create("filesystem", start=False, workers=1)
    server.config["server"]["trusted_proxies"] = ["127.0.0.1"]
    server.config_path.write_text(to_toml(server.config))
    server.start()
    nginx = Nginx(tmp_path / "nginx", [server.host])
    nginx.start()
    try:
        with new_session() as session:
            resp = session.get(f"{nginx.url}/v2/", headers={"X-Request-Id": "from-the-client"},
                               timeout=30)
        assert resp.status_code == 200
        request_id = resp.headers["X-Request-Id"]
        assert request_id != "from-the-client" and len(request_id) == 32
        deadline = time.monotonic() + LOG_WAIT
        while f"[{request_id}]" not in server.log_tail() or \
                not any(f"rid={request_id}" in line for line in nginx.access_log()):
            if time.monotonic() > deadline:
                pytest.fail(f"{request_id} not in both logs:\n{server.log_tail()}\n"
                            f"{nginx.access_log()}")
            time.sleep(0.05)
        line = next(x for x in server.log_tail().splitlines() if f"[{request_id}]" in x)
        assert "hareg.request" in line and '"GET /v2/" 200' in line
    finally:
        nginx.stop()
