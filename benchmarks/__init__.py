# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Benchmarks: hareg against CNCF distribution (``python -m benchmarks.run``), and micro
benchmarks run as scripts."""
