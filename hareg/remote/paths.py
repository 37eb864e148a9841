# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Which upstream path a remote name stands for, whether it may be pulled, and which remote
serves a mirror request for a given upstream host (containerd's ``?ns=``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..auth.globs import compile_glob
from ..registry.errors import NameUnknown
from ..registry.namespaces import Namespaces, Remote

#: Host names of Docker Hub's registry: a mirror request for one is served by a remote whose
#: url names another (``registry-1.docker.io`` is where ``docker.io`` images are pulled from).
DOCKER_HUB_HOSTS = frozenset({"docker.io", "registry-1.docker.io", "index.docker.io",
                              "registry.hub.docker.com"})


def upstream_host(remote: Remote) -> str:
    """``host[:port]`` of the remote's url, lowercased."""
    return urlsplit(remote.url).netloc.lower()


def is_docker_hub(remote: Remote) -> bool:
    return (urlsplit(remote.url).hostname or "").lower() in DOCKER_HUB_HOSTS


def upstream_path(remote: Remote, path: str) -> str:
    """The upstream repository for ``path`` (the name without the remote's namespace).

    Docker Hub keeps its official images under ``library/``; a one-component path
    (``hub/alpine``) means ``library/alpine`` there, as ``docker pull alpine`` does. Every
    other upstream gets the path unchanged.
    """
    if "/" not in path and is_docker_hub(remote):
        return f"library/{path}"
    return path


def check_allowed(remote: Remote, path: str) -> str:
    """The upstream path for ``path``; NameUnknown (404) when the remote's patterns exclude it.

    A denied path is answered as an unknown repository, not 403: for the client the remote
    simply does not have it (Artifactory's excludes behave the same), and a 403 would suggest
    that other credentials could get it.
    """
    target = upstream_path(remote, path)
    denied = any(compile_glob(p).match(target) for p in remote.deny)
    if denied or (remote.allow and not any(compile_glob(p).match(target) for p in remote.allow)):
        raise NameUnknown(f"{remote.name}/{path} is excluded by the remote's allow/deny patterns",
                          detail={"name": f"{remote.name}/{path}"})
    return target


def _aliases(host: str) -> set[str]:
    name, _, port = host.partition(":")
    if name in DOCKER_HUB_HOSTS and port in ("", "443"):
        return set(DOCKER_HUB_HOSTS)
    if port in ("", "443"):
        return {name, f"{name}:443"}
    return {host}


def remote_for_host(namespaces: Namespaces, host: str) -> Remote | None:
    """The remote whose upstream is ``host`` (``docker.io`` matches any Docker Hub url); the
    first by name when several are (None when none is)."""
    wanted = _aliases(host.strip().lower())
    for definition in namespaces:
        if isinstance(definition, Remote) and _aliases(upstream_host(definition)) & wanted:
            return definition
    return None
