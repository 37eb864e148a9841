# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The one place a virtual namespace asks a remote member's upstream (hareg.remote.pull).

The pull-through cache is its own package (hareg/remote/, docs/virtual-remote.rst "Remote
namespaces"): :func:`get_manifest` and :func:`get_blob` apply its whole rule (cache, TTL,
upstream, stale answers) for one remote member. A build without that package serves virtual
namespaces over their local members and the remote members' caches only: remote upstreams
then count as empty.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ..registry.errors import BlobUnknown, ManifestUnknown
from ..registry.namespaces import Remote

#: The module implementing the interface of docs/virtual-remote.rst (I10-DESIGN): imported by
#: name so that this package builds and type-checks before it exists. When it does, the
#: integration replaces this with ``from ..remote import pull`` (the architecture test then
#: sees the edge hareg.virtual -> hareg.remote).
REMOTE_PULL = "hareg.remote.pull"


def _load() -> ModuleType | None:
    try:
        return importlib.import_module(REMOTE_PULL)
    except ModuleNotFoundError as exc:  # only the absence of the package itself is tolerated
        if exc.name not in ("hareg.remote", REMOTE_PULL):
            raise
        return None


_pull = _load()


def available() -> bool:
    """Whether remote upstreams can be asked in this build."""
    return _pull is not None


def get_manifest(reg: Any, remote: Remote, path: str, reference: str, accept: Sequence[str],
                 *, head: bool) -> Any | None:
    """The remote member's answer (a CachedManifest: digest, media_type, size, payload,
    warning), or None when it has nothing or this build cannot ask upstreams.

    Raises what hareg.remote.pull raises besides ManifestUnknown (UpstreamUnavailable).
    """
    if _pull is None:
        return None
    try:
        return _pull.get_manifest(reg, remote, path, reference, accept, head=head)
    except ManifestUnknown:
        return None


def get_blob(reg: Any, remote: Remote, path: str, digest: str) -> Any | None:
    """The remote member's blob (a BlobInfo of its cache, or a streaming RemoteBlob), or None
    when it has none or this build cannot ask upstreams."""
    if _pull is None:
        return None
    try:
        return _pull.get_blob(reg, remote, path, digest)
    except BlobUnknown:
        return None
