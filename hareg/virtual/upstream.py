# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The one place a virtual namespace asks a remote member's upstream (hareg.remote.pull).

The pull-through cache is its own package (hareg/remote/, docs/virtual-remote.rst "Remote
namespaces"): :func:`get_manifest` and :func:`get_blob` apply its whole rule (cache, TTL,
upstream, stale answers) for one remote member; here "the member does not have it" becomes
None, so that resolution goes on with the next member.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..registry.context import Registry
from ..registry.errors import BlobUnknown, ManifestUnknown, NameUnknown
from ..registry.namespaces import Remote
from ..remote import pull


def get_manifest(reg: Registry, remote: Remote, path: str, reference: str,
                 accept: Sequence[str], *, head: bool) -> pull.CachedManifest | None:
    """The remote member's answer, or None when it has nothing (or its allow/deny patterns
    exclude the path). Raises UpstreamUnavailable and UpstreamInvalid."""
    try:
        return pull.get_manifest(reg, remote, path, reference, accept, head=head)
    except (ManifestUnknown, NameUnknown):
        return None


def record_pulled(reg: Registry, repository: str, digest: str) -> None:
    """A remote member's cache answered a manifest pull from the database: record it as a
    pull through the remote name does (``manifests.pulled_on``, coarsely)."""
    pull.record_pulled(reg, repository, digest)


def get_blob(reg: Registry, remote: Remote, path: str, digest: str, *,
             head: bool = False) -> pull.RemoteBlob | None:
    """The remote member's blob (a BlobInfo of its cache, or an UpstreamBlob), or None when
    it has none."""
    try:
        return pull.get_blob(reg, remote, path, digest, head=head)
    except (BlobUnknown, NameUnknown):
        return None
