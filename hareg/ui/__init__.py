# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The web interface under ``/ui/`` (docs/web-interface.rst): server-rendered pages of what
the registry holds, why it holds it and what garbage collection will take.

``views`` (read pages), ``actions`` (forms), ``access`` (who is looking, the session cookie,
CSRF), ``data`` (each page's data, through hareg.db and hareg.registry), ``present``
(payloads and formatting, pure), ``secret`` (the session key). Templates and the stylesheet
and script live in ``templates/ui/`` and ``static/``. Nothing in the domain imports this
package; :func:`install_ui` is called by hareg.api.app.create_app.
"""

from __future__ import annotations

import logging

from flask import Flask

from ..config import Config

log = logging.getLogger(__name__)


def install_ui(app: Flask, config: Config) -> None:
    """Register the blueprint and the session cookie (when ``[ui] enabled``)."""
    from . import actions, views  # noqa: F401 - actions registers its routes on views.bp
    from .access import configure_sessions
    from .secret import session_secret

    secret, source = session_secret(config)
    if source != "[ui] secret":
        log.debug("web interface: session key %s; set [ui] secret to choose it", source)
    configure_sessions(app, secret, config.ui.session_lifetime_seconds)
    app.register_blueprint(views.bp)
