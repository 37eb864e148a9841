# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Remote namespaces: a pull-through cache of an upstream registry (docs/virtual-remote.rst).

``hub/<path>`` is upstream ``<path>``, cached in the ordinary local repository ``hub/<path>``
(rows and storage links written by the registry's own write path, so garbage collection,
``hareg check`` and ``rebuild-db`` see cached content like pushed content).

Modules, from the bottom up: ``paths`` (upstream paths, allow/deny, the Docker Hub
conventions, mirror-mode hosts), ``upstream`` (the HTTP client: urllib3, timeouts, Basic and
the Docker token flow), ``fetch`` (an uncached blob streamed to the client while it is written
to storage, fetched once cluster-wide) and ``pull`` (the rules a pull through a remote name
follows: the interface the API and virtual namespaces call). No Flask here.
"""
