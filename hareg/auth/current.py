# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The auth service of the running Flask app, for the authorization hook and the token view.

Its own module so that :mod:`hareg.auth.web` (which installs the token view) and
:mod:`hareg.auth.token_view` (which needs the service) do not import each other.
"""

from __future__ import annotations

from flask import current_app

from .service import AuthService

#: Key of the AuthService in ``app.extensions``.
EXTENSION = "hareg_auth"


def auth_service() -> AuthService:
    return current_app.extensions[EXTENSION]
