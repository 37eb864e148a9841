# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The serving stack: gunicorn master and gevent worker, WSGI layers, logs and metrics.

Nothing under hareg/registry, hareg/db or hareg/storage imports this package, with one
exception: hareg.storage.metered records into hareg.server.metrics (docs/architecture.rst).
"""
