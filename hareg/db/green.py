# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Make psycopg2 cooperative under gevent, so a query yields to other greenlets."""

from __future__ import annotations


def patch_if_gevent() -> bool:
    """Install psycogreen's wait callback when gevent has patched this process."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    if not monkey.is_module_patched("socket"):
        return False
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()
    return True
