# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The spec's UNAUTHORIZED, DENIED and TOOMANYREQUESTS, and UNAVAILABLE when every password
check slot is taken: domain errors rendered by hareg/api/errors.py."""

from __future__ import annotations

from ..registry.errors import Denied, RegistryError

__all__ = ["Denied", "PasswordChecksUnavailable", "TooManyFailedLogins", "Unauthorized"]


class Unauthorized(RegistryError):
    """Credentials missing or invalid: 401 with a WWW-Authenticate challenge."""
    code, status, message = "UNAUTHORIZED", 401, "authentication required"


class TooManyFailedLogins(RegistryError):
    """Too many failed logins for this user and/or address: 429 with Retry-After."""
    code, status = "TOOMANYREQUESTS", 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after} s",
                         headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class PasswordChecksUnavailable(RegistryError):
    """Every password check slot of this worker stayed busy: 503 with Retry-After."""
    code, status = "UNAVAILABLE", 503
    message = "too many password checks at once; retry"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})
