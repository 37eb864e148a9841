# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Production gunicorn settings for hareg, for operators who run gunicorn directly::

    HAREG_CONFIG=/etc/hareg/hareg.toml \\
        gunicorn -c conf/gunicorn.conf.py 'hareg.server.wsgi:application'

``hareg serve`` is the normal entry point and applies the same settings in code
(hareg/server/runner.py); this file is for running gunicorn yourself. ``hareg.server.wsgi``
reads its configuration from ``HAREG_CONFIG`` and the ``HAREG_*`` environment and, when each
worker loads it, starts (or joins) the embedded PostgreSQL if ``[database] url`` is empty
and applies pending migrations under an advisory lock. In production use an external
PostgreSQL and run ``hareg migrate`` before a rolling update
(systemd/hareg-migrate.service).

The keys this file needs (``[server]`` bind, workers, graceful_timeout, trusted_proxies and
``[log]`` level) are read from the same file and ``HAREG_<SECTION>_<KEY>`` variables, so
gunicorn and hareg agree. gunicorn's command-line options (``--bind`` ...) still win.
"""

import os

from hareg.config import load_config
from hareg.server.logs import gunicorn_logconfig

# hareg's own configuration: HAREG_CONFIG and the HAREG_* variables, with hareg's defaults
# (hareg/config.py states them once), exactly as `hareg serve` reads it.
_hareg = load_config()

# --- Sockets --------------------------------------------------------------------------------
# Where nginx's upstream block points, e.g. "127.0.0.1:5001" (see conf/nginx.conf), and
# [metrics] bind if set: hareg then answers /metrics only there (docs/operations.rst).
bind = [_hareg.server.bind] + ([_hareg.metrics.bind] if _hareg.metrics.bind else [])

# --- Workers --------------------------------------------------------------------------------
# gevent: each worker process serves many requests concurrently (one greenlet each), and
# blob streams to and from S3 / PostgreSQL queries yield instead of blocking the process.
# hareg's subclass of gunicorn's gevent worker adds the graceful shutdown rolling restarts
# need: /readyz fails at once, queued connections are served, idle keep-alive connections
# are closed, in-flight requests finish (hareg/server/worker.py).
worker_class = "hareg.server.worker.HaregWorker"

# One worker per CPU core available to this process ([server] workers = 0); more workers do
# not help an I/O-bound server and multiply database connections.
workers = _hareg.server.workers or len(os.sched_getaffinity(0))

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
graceful_timeout = _hareg.server.graceful_timeout

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
forwarded_allow_ips = ",".join(_hareg.server.trusted_proxies)
# Only the header nginx always sets (conf/nginx.conf); client-sent X-Forwarded-Ssl or
# X-Forwarded-Protocol then cannot contradict or spoof it.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# --- Process --------------------------------------------------------------------------------
proc_name = "hareg"
# Heartbeat files in memory, not on a possibly slow or read-only disk.
worker_tmp_dir = "/dev/shm"
# Errors to stderr, where journald (or your supervisor) collects them. No access log:
# nginx's access log (conf/nginx.conf) records every request with the instance that served it.
accesslog = None
errorlog = "-"
loglevel = _hareg.log.level
# hareg's log format (text or JSON, [log] format) for gunicorn's own lines too.
logconfig_dict = gunicorn_logconfig(_hareg.log)
# No gunicornc control socket: several instances on one host as one user would share its
# default path ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl).
control_socket_disable = True

# --- Metrics --------------------------------------------------------------------------------
# Every worker writes its Prometheus samples to files in PROMETHEUS_MULTIPROC_DIR, which must
# be set (and empty) before the workers start: done here, in the master, like `hareg serve`.
# A dead worker's live gauges are dropped; the directory is removed when the master exits.
import hareg.server.runner  # noqa: E402

child_exit = hareg.server.runner.child_exit
_metrics_dir, _own_metrics_dir = hareg.server.runner.prepare_multiprocess_dir()
_master_pid = os.getpid()


def on_exit(server):
    if _own_metrics_dir and os.getpid() == _master_pid:
        import shutil

        shutil.rmtree(_metrics_dir, ignore_errors=True)
