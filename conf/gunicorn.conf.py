# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Production gunicorn settings for hareg, for operators who run gunicorn directly::

    HAREG_CONFIG=/etc/hareg/hareg.toml \\
        gunicorn -c conf/gunicorn.conf.py 'hareg.wsgi:application'

``hareg serve`` is the normal entry point and applies these same settings in code. It also
starts the embedded PostgreSQL when ``[database] url`` is empty and applies the migrations
before it serves. Running gunicorn yourself skips both: use an external PostgreSQL and run
``hareg migrate --config /etc/hareg/hareg.toml`` first (systemd/hareg-migrate.service does).

``bind``, ``workers``, ``graceful_timeout`` and ``trusted_proxies`` of the ``[server]``
section are read from the hareg config file named by ``HAREG_CONFIG`` and from the
``HAREG_SERVER_*`` environment variables, so this file and ``hareg serve`` agree. gunicorn's
own command-line options (``--bind`` ...) still take precedence over this file.
"""

import os
import tomllib


def _server_config() -> dict[str, str]:
    """The [server] keys this file uses, as strings: defaults < HAREG_CONFIG < environment."""
    server: dict[str, object] = {
        "bind": "127.0.0.1:5000",
        "workers": 0,
        "graceful_timeout": 30,
        "trusted_proxies": [],
    }
    path = os.environ.get("HAREG_CONFIG")
    if path:
        with open(path, "rb") as fh:
            from_file = tomllib.load(fh).get("server", {})
        server.update({k: v for k, v in from_file.items() if k in server})
    for key in server:
        value = os.environ.get(f"HAREG_SERVER_{key.upper()}")
        if value is not None:
            server[key] = value
    proxies = server["trusted_proxies"]
    if isinstance(proxies, str):
        proxies = proxies.split(",")
    server["trusted_proxies"] = ",".join(p.strip() for p in proxies if p.strip())
    return {k: str(v) for k, v in server.items()}


_server = _server_config()

# --- Sockets --------------------------------------------------------------------------------
# Where nginx's upstream block points, e.g. "127.0.0.1:5001" (see conf/nginx.conf).
bind = [_server["bind"]]

# --- Workers --------------------------------------------------------------------------------
# gevent: each worker process serves many requests concurrently (one greenlet each), and
# blob streams to and from S3 / PostgreSQL queries yield instead of blocking the process.
worker_class = "gevent"

# One worker per CPU core available to this process ([server] workers = 0); more workers do
# not help an I/O-bound server and multiply database connections.
workers = int(_server["workers"]) or len(os.sched_getaffinity(0))

# Concurrent connections (greenlets) per worker, idle keep-alive connections from nginx
# included. They share the worker's [database] pool_size connections, so requests wait for
# a database connection rather than open more.
worker_connections = 1000

# Never recycle workers: a recycled worker cuts its in-flight multi-GB uploads and pulls
# after graceful_timeout.
max_requests = 0

# Load the application in each worker after fork and after gevent's monkey patching, never
# in the master: sockets, the database pool and boto3 clients must belong to the worker.
preload_app = False

# --- Timeouts -------------------------------------------------------------------------------
# For gevent workers this is NOT a request timeout: the worker's event loop updates its
# heartbeat every second, so a multi-GB stream may take hours as long as it makes progress
# (nginx's proxy_*_timeout bound stalled transfers). It only kills a worker whose event loop
# has been blocked this long, i.e. a hung process. Generous, so that a long CPU-bound step
# (hashing a large chunk) is never mistaken for a hang.
timeout = 120

# Seconds in-flight requests get to finish after SIGTERM ([server] graceful_timeout).
# systemd's TimeoutStopSec must be larger (systemd/hareg.service).
graceful_timeout = int(_server["graceful_timeout"])

# Keep idle connections from nginx open for 75 s: longer than nginx's upstream
# keepalive_timeout (60 s), so nginx always closes an idle connection first and never sends
# a request on a connection gunicorn is closing at that moment.
keepalive = 75

# --- Request limits -------------------------------------------------------------------------
# Request line: method + path + query string. Registry paths carry long repository names and
# digests; list and referrers queries (?n=&last=, ?artifactType=) and token-service queries
# with several scopes get long. 8190 is gunicorn's maximum; longer lines get 400.
limit_request_line = 8190
limit_request_fields = 100
# Room for long Authorization headers (bearer tokens with many repository scopes); matches
# large_client_header_buffers 16k in conf/nginx.conf.
limit_request_field_size = 16384
# There is deliberately no request body limit: gunicorn has none, blob bodies are
# streamed to storage and may be many GB. The size of manifests is limited by hareg itself
# ([registry] max_manifest_size).

# --- Behind nginx ---------------------------------------------------------------------------
# Addresses (IPs/CIDRs, comma separated) whose X-Forwarded-Proto gunicorn believes, from
# [server] trusted_proxies: the nginx hosts. Empty = believe no one. Never "*" unless only
# the proxy can reach this port.
forwarded_allow_ips = _server["trusted_proxies"]
# Only the header nginx always sets (conf/nginx.conf); client-sent X-Forwarded-Ssl or
# X-Forwarded-Protocol then cannot contradict or spoof it.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# --- Process --------------------------------------------------------------------------------
proc_name = "hareg"
# Heartbeat files in memory, not on a possibly slow or read-only disk.
worker_tmp_dir = "/dev/shm"
# Logs to stderr: journald (or your process supervisor) collects them.
accesslog = "-"
errorlog = "-"
loglevel = "info"
# gunicornc's control socket: $XDG_RUNTIME_DIR/gunicorn.ctl, else ~/.gunicorn/gunicorn.ctl
# (systemd/hareg.service sets XDG_RUNTIME_DIR=/run/hareg). Give each instance its own path
# when several run on one host as one user, e.g. control_socket = "/run/hareg/5001.ctl".
