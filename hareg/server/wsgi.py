# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""WSGI entry point for operators who run gunicorn themselves:
``gunicorn -c conf/gunicorn.conf.py 'hareg.server.wsgi:application'`` (config from HAREG_CONFIG)."""

from __future__ import annotations

import logging

from ..api.app import create_app
from ..config import load_config, unknown_environment
from ..db.bootstrap import prepare
from ..db.green import patch_if_gevent
from .logs import setup_logging

patch_if_gevent()
_config = load_config()
setup_logging(_config.log)
for _warning in unknown_environment():
    logging.getLogger(__name__).warning("%s", _warning)
application = create_app(prepare(_config))
