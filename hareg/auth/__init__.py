# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Authentication and authorization: modes none, basic (htpasswd) and token (Docker token spec).

Modules, from the bottom up: ``settings`` (the ``[auth]`` config section), ``globs`` (repository
patterns), ``policy`` (rules -> actions), ``htpasswd`` (bcrypt users), ``keys`` and ``tokens``
(JWT signing and verification), ``access`` (one decision per request), ``routes`` (the action
every endpoint needs), ``web`` (the Flask hook) and ``token_view`` (the realm endpoint).

This package's ``__init__`` imports nothing, so ``hareg.config`` can import ``settings`` cheaply.
"""
