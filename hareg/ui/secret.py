# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The key that signs the web interface's session cookie.

Every instance behind the load balancer must use the same key: a browser's next request may
land on any of them (invariant 1 of docs/architecture.rst: the session lives in the cookie,
not in a process). ``[ui] secret`` (or ``HAREG_UI_SECRET``) sets it. When it is empty, the key
is derived (HMAC-SHA256) from a secret every instance already shares, the first present of:
the token signing key file (``[auth] signing_key``), the S3 secret key
(``[storage] secret_access_key``), the database URL. Changing that source logs every user
out; a deployment that wants to rotate keys on its own schedule sets ``[ui] secret``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
from pathlib import Path

from ..config import Config

log = logging.getLogger(__name__)

_LABEL = b"hareg web interface session key v1"


def session_secret(config: Config) -> tuple[bytes, str]:
    """(key, where it comes from)."""
    if config.ui.secret:
        return config.ui.secret.encode("utf-8"), "[ui] secret"
    sources: list[tuple[str, bytes]] = []
    if config.auth.signing_key:
        with contextlib.suppress(OSError):  # the auth service reports an unreadable key
            sources.append(("[auth] signing_key", Path(config.auth.signing_key).read_bytes()))
    if config.storage.secret_access_key:
        sources.append(("[storage] secret_access_key",
                        config.storage.secret_access_key.encode("utf-8")))
    sources.append(("[database] url", config.database.url.encode("utf-8")))
    where, material = sources[0]
    return hmac.new(_LABEL, material, hashlib.sha256).digest(), f"derived from {where}"
