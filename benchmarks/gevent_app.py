# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Server side of the gevent check (see benchmarks/gevent_check.py): hareg as ``hareg serve``
runs it, with one worker and one benchmark-only route, ``GET /_bench/sleep``, that borrows a
connection from hareg's own pool and runs ``SELECT pg_sleep(0.05)``.

``python -m benchmarks.gevent_app --config FILE --bind HOST:PORT``

Imports stay minimal (no ssl, no urllib) until gunicorn's gevent worker has monkey-patched
the process, exactly like ``hareg serve``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

ROUTE = "/_bench/sleep"
QUERY_SECONDS = 0.05


def serve(config_path: str, bind: str) -> None:
    from hareg.config import load_config
    from hareg.db.bootstrap import prepare
    from hareg.server.runner import HaregServer

    class CheckServer(HaregServer):
        def load(self) -> Any:
            app = super().load()  # patches psycopg2 for gevent, builds the real app

            from flask import jsonify

            from hareg.api.http import registry

            def sleep() -> Any:
                with registry().db.read() as cur:
                    start = time.time()
                    cur.execute("SELECT pg_sleep(%s)", (QUERY_SECONDS,))
                    end = time.time()
                return jsonify({"start": start, "end": end})

            app.add_url_rule(ROUTE, "bench_sleep", sleep)
            return app

    config = prepare(load_config(config_path))
    CheckServer(config, bind, 1).run()


def main() -> None:
    parser = argparse.ArgumentParser(description="hareg with the gevent check route")
    parser.add_argument("--config", required=True)
    parser.add_argument("--bind", required=True)
    args = parser.parse_args()
    serve(args.config, args.bind)


if __name__ == "__main__":
    main()
