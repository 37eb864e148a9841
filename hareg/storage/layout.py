# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Every storage key hareg reads or writes is built here, and nowhere else.

The layout is the one CNCF distribution uses, so a bucket written by either
registry can be read by the other, and ``hareg rebuild-db`` can adopt a bucket
that distribution filled. Keeping all key construction in one module means the
compatibility promise can be checked by reading one file (and its tests), and
that a malformed name or digest can never become a surprising key: every input
is validated before it is joined into a path.

Keys are relative to the driver's root (filesystem) or prefix (S3), use ``/``
as separator and never start with ``/``. Functions whose name ends in ``_dir``
or ``_root`` return *prefixes* ending in ``/``, suitable for ``list``,
``list_dirs`` and ``delete_prefix``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ..grammar import HEX_LENGTHS, NAME_COMPONENT, NAME_RE, is_encoded, is_tag

ROOT = "docker/registry/v2"

#: Digest algorithms hareg stores, with the length of their hex encoding (from hareg.grammar).
ALGORITHMS = HEX_LENGTHS

# Names and tags follow hareg.grammar (the distribution spec). The name check here has no
# length limit on purpose: rebuild-db reports an over-long name found in a bucket instead of
# skipping its keys. Upload ids are ours (UUIDs or tokens), but they are still joined into a
# path.
_UPLOAD_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

_REPOS = f"{ROOT}/repositories/"
_BLOBS = f"{ROOT}/blobs/"
_RESERVED = ("_layers", "_manifests", "_uploads")
# hareg's own objects, beside (never under) distribution's repositories/ and blobs/: the walks
# of rebuild-db, hareg check and gc --orphans list only those two, so nothing here is ever
# taken for repository data.
_NAMESPACES = f"{ROOT}/hareg/namespaces/"
_NAMESPACE_RE = re.compile(rf"{NAME_COMPONENT}")


# --------------------------------------------------------------------------
# validation


def split_digest(digest: str) -> tuple[str, str]:
    """Return ``(algorithm, hex)`` of a digest, or raise ValueError.

    Strict on purpose: only lowercase hex of the right length for a known
    algorithm, so a digest always maps to exactly one key.
    """
    if not isinstance(digest, str):
        raise ValueError(f"digest must be a str, not {type(digest).__name__}")
    alg, sep, hexpart = digest.partition(":")
    if not sep:
        raise ValueError(f"invalid digest {digest!r}: missing ':'")
    if alg not in ALGORITHMS:
        raise ValueError(f"unsupported digest algorithm {alg!r}")
    if not is_encoded(alg, hexpart):
        raise ValueError(
            f"invalid digest {digest!r}: expected {ALGORITHMS[alg]} lowercase hex characters"
        )
    return alg, hexpart


def validate_digest(digest: str) -> str:
    """Return ``digest`` unchanged if it is valid, else raise ValueError."""
    split_digest(digest)
    return digest


def validate_repo(repo: str) -> str:
    """Return ``repo`` unchanged if it is a valid repository name, else raise ValueError."""
    if not isinstance(repo, str) or not NAME_RE.fullmatch(repo):
        raise ValueError(f"invalid repository name {repo!r}")
    return repo


def validate_tag(tag: str) -> str:
    """Return ``tag`` unchanged if it is a valid tag, else raise ValueError."""
    if not is_tag(tag):
        raise ValueError(f"invalid tag {tag!r}")
    return tag


def validate_upload_id(upload_id: str) -> str:
    """Return ``upload_id`` unchanged if it is safe as a key component, else raise ValueError."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID_RE.fullmatch(upload_id):
        raise ValueError(f"invalid upload id {upload_id!r}")
    return upload_id


def _digest_path(digest: str) -> str:
    alg, hexpart = split_digest(digest)
    return f"{alg}/{hexpart}"


def _repo_dir(repo: str) -> str:
    return f"{_REPOS}{validate_repo(repo)}/"


# --------------------------------------------------------------------------
# roots and directories (prefixes, ending in '/')


def repositories_root() -> str:
    """Prefix under which every repository directory lives."""
    return _REPOS


def blobs_root() -> str:
    """Prefix of the global, content-addressed blob store."""
    return _BLOBS


def repository_dir(repo: str) -> str:
    """Prefix holding everything of one repository."""
    return _repo_dir(repo)


def layers_dir(repo: str) -> str:
    """Prefix of a repository's blob links."""
    return f"{_repo_dir(repo)}_layers/"


def revisions_dir(repo: str) -> str:
    """Prefix of a repository's manifest revision links."""
    return f"{_repo_dir(repo)}_manifests/revisions/"


def tags_dir(repo: str) -> str:
    """Prefix of a repository's tags; ``list_dirs`` on it yields one entry per tag."""
    return f"{_repo_dir(repo)}_manifests/tags/"


def tag_dir(repo: str, tag: str) -> str:
    """Prefix of one tag (current link and index); delete it to delete the tag."""
    return f"{tags_dir(repo)}{validate_tag(tag)}/"


def uploads_dir(repo: str) -> str:
    """Prefix of a repository's in-progress uploads."""
    return f"{_repo_dir(repo)}_uploads/"


def upload_dir(repo: str, upload_id: str) -> str:
    """Prefix of one upload session; delete it when the session ends."""
    return f"{uploads_dir(repo)}{validate_upload_id(upload_id)}/"


def namespaces_dir() -> str:
    """Prefix of the namespace definitions (docs/virtual-remote.rst): one JSON object each."""
    return _NAMESPACES


def blob_dir(digest: str) -> str:
    """Prefix of one blob (distribution keeps only ``data`` in it)."""
    alg, hexpart = split_digest(digest)
    return f"{_BLOBS}{alg}/{hexpart[:2]}/{hexpart}/"


# --------------------------------------------------------------------------
# object keys


def blob_data(digest: str) -> str:
    """Key of a blob's content (layers, configs and manifests alike)."""
    return f"{blob_dir(digest)}data"


def layer_link(repo: str, digest: str) -> str:
    """Key of the link that makes a blob visible in a repository."""
    return f"{layers_dir(repo)}{_digest_path(digest)}/link"


def revision_link(repo: str, digest: str) -> str:
    """Key of the link that makes a manifest visible in a repository."""
    return f"{revisions_dir(repo)}{_digest_path(digest)}/link"


def tag_current_link(repo: str, tag: str) -> str:
    """Key of the link naming the manifest a tag points to now."""
    return f"{tag_dir(repo, tag)}current/link"


def tag_index_link(repo: str, tag: str, digest: str) -> str:
    """Key of a tag's index entry: every manifest the tag ever pointed to."""
    return f"{tag_dir(repo, tag)}index/{_digest_path(digest)}/link"


def upload_data(repo: str, upload_id: str) -> str:
    """Key where an upload's bytes are assembled before they move to ``blob_data``."""
    return f"{upload_dir(repo, upload_id)}data"


def namespace_definition(namespace: str) -> str:
    """Key of one remote or virtual namespace's definition (its JSON form)."""
    if not isinstance(namespace, str) or not _NAMESPACE_RE.fullmatch(namespace):
        raise ValueError(f"invalid namespace name {namespace!r}")
    return f"{_NAMESPACES}{namespace}.json"


def parse_namespace_key(key: str) -> str | None:
    """The namespace whose definition is stored at ``key``, or None for any other key."""
    if not key.startswith(_NAMESPACES) or not key.endswith(".json"):
        return None
    name = key[len(_NAMESPACES):-len(".json")]
    return name if _NAMESPACE_RE.fullmatch(name) else None


# --------------------------------------------------------------------------
# link files


def link_content(digest: str) -> bytes:
    """Content of a link file: the digest in ASCII, no newline (as distribution writes it)."""
    return validate_digest(digest).encode("ascii")


def parse_link(data: bytes) -> str:
    """Return the digest a link file names, or raise ValueError.

    Surrounding whitespace is tolerated (hand-edited buckets), nothing else.
    """
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise ValueError("link content is not ASCII") from exc
    return validate_digest(text)


# --------------------------------------------------------------------------
# parsing keys back (for rebuild-db's walk over the bucket)


def parse_blob_data_key(key: str) -> str | None:
    """Return the digest stored at ``key`` if it is a blob data key, else None.

    Also checks that the two-character fan-out directory matches the digest,
    so a misplaced object is never adopted under the wrong name.
    """
    if not key.startswith(_BLOBS):
        return None
    parts = key[len(_BLOBS) :].split("/")
    if len(parts) != 4 or parts[3] != "data":
        return None
    alg, fanout, hexpart, _ = parts
    digest = f"{alg}:{hexpart}"
    try:
        split_digest(digest)
    except ValueError:
        return None
    if fanout != hexpart[:2]:
        return None
    return digest


class RepoKeyKind(StrEnum):
    """The kinds of repository keys rebuild-db cares about."""

    LAYER_LINK = "layer_link"
    REVISION_LINK = "revision_link"
    TAG_CURRENT_LINK = "tag_current_link"
    TAG_INDEX_LINK = "tag_index_link"
    UPLOAD = "upload"


@dataclass(frozen=True)
class RepoKey:
    """What a repository key means: its kind, repository and identifiers.

    ``digest`` is set for links other than the current tag link (whose digest
    is in the content), ``tag`` for tag links, ``upload_id`` for uploads.
    """

    kind: RepoKeyKind
    repo: str
    digest: str | None = None
    tag: str | None = None
    upload_id: str | None = None


def _split_repo(rest: str) -> tuple[str, list[str]] | None:
    """Split ``<repo>/<_reserved>/...`` at the first reserved component."""
    parts = rest.split("/")
    for i, part in enumerate(parts):
        if part in _RESERVED:
            repo = "/".join(parts[:i])
            if not NAME_RE.fullmatch(repo):
                return None
            return repo, parts[i:]
    return None


def _digest_or_none(alg: str, hexpart: str) -> str | None:
    digest = f"{alg}:{hexpart}"
    try:
        return validate_digest(digest)
    except ValueError:
        return None


def parse_repository_key(key: str) -> RepoKey | None:
    """Classify a key under ``repositories/``; None for anything unknown.

    Unknown keys (distribution's legacy signature links, ``_deleted``
    tombstones, stray files) are not errors: a walk simply skips them. Upload
    sessions are reported for every file below ``_uploads/<id>/`` (``data``,
    distribution's ``startedat`` and ``hashstates``).
    """
    if not key.startswith(_REPOS):
        return None
    split = _split_repo(key[len(_REPOS) :])
    if split is None:
        return None
    repo, parts = split
    kind = parts[0]
    if kind == "_layers":
        if len(parts) == 4 and parts[3] == "link":
            digest = _digest_or_none(parts[1], parts[2])
            if digest:
                return RepoKey(RepoKeyKind.LAYER_LINK, repo, digest=digest)
        return None
    if kind == "_uploads":
        if len(parts) >= 3 and _UPLOAD_ID_RE.fullmatch(parts[1]) and all(parts[2:]):
            return RepoKey(RepoKeyKind.UPLOAD, repo, upload_id=parts[1])
        return None
    # _manifests
    if len(parts) == 5 and parts[1] == "revisions" and parts[4] == "link":
        digest = _digest_or_none(parts[2], parts[3])
        if digest:
            return RepoKey(RepoKeyKind.REVISION_LINK, repo, digest=digest)
        return None
    if len(parts) >= 5 and parts[1] == "tags" and is_tag(parts[2]):
        tag = parts[2]
        if parts[3:] == ["current", "link"]:
            return RepoKey(RepoKeyKind.TAG_CURRENT_LINK, repo, tag=tag)
        if len(parts) == 7 and parts[3] == "index" and parts[6] == "link":
            digest = _digest_or_none(parts[4], parts[5])
            if digest:
                return RepoKey(RepoKeyKind.TAG_INDEX_LINK, repo, digest=digest, tag=tag)
    return None
