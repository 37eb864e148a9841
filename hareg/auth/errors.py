# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The spec's UNAUTHORIZED and DENIED, as domain errors rendered by hareg/api/errors.py."""

from __future__ import annotations

from ..registry.errors import Denied, RegistryError

__all__ = ["Denied", "Unauthorized"]


class Unauthorized(RegistryError):
    """Credentials missing or invalid: 401 with a WWW-Authenticate challenge."""
    code, status, message = "UNAUTHORIZED", 401, "authentication required"
