# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""WSGI entry point for operators who run gunicorn themselves:
``gunicorn -c conf/gunicorn.conf.py 'hareg.server.wsgi:application'`` (config from HAREG_CONFIG)."""

from __future__ import annotations

from ..api.app import create_app
from ..config import load_config
from ..db.bootstrap import prepare
from ..db.green import patch_if_gevent

patch_if_gevent()
application = create_app(prepare(load_config()))
