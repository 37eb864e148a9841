# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Fault-injection suite (pytest -m faults): S3 errors and latency, a stopped and a frozen
PostgreSQL, killed workers, slow clients."""
