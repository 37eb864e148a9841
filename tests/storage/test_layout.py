# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The key layout: exact CNCF distribution paths, round trips, hostile inputs."""

from __future__ import annotations

import pytest

from hareg.storage import layout
from hareg.storage.layout import RepoKey, RepoKeyKind

HEX = "96443a84ce518ac22acb2e985eda402b58ac19ce6f91980bde63726a79d80b36"
DIGEST = f"sha256:{HEX}"
HEX512 = "ab" * 64
DIGEST512 = f"sha512:{HEX512}"
V2 = "docker/registry/v2"


def test_blob_keys() -> None:
    assert layout.blobs_root() == f"{V2}/blobs/"
    assert layout.blob_dir(DIGEST) == f"{V2}/blobs/sha256/96/{HEX}/"
    assert layout.blob_data(DIGEST) == f"{V2}/blobs/sha256/96/{HEX}/data"
    assert layout.blob_data(DIGEST512) == f"{V2}/blobs/sha512/ab/{HEX512}/data"


def test_repository_keys() -> None:
    repo = f"{V2}/repositories/library/ubuntu"
    assert layout.repositories_root() == f"{V2}/repositories/"
    assert layout.repository_dir("library/ubuntu") == f"{repo}/"
    assert layout.layer_link("library/ubuntu", DIGEST) == f"{repo}/_layers/sha256/{HEX}/link"
    assert layout.layers_dir("library/ubuntu") == f"{repo}/_layers/"
    assert (
        layout.revision_link("library/ubuntu", DIGEST)
        == f"{repo}/_manifests/revisions/sha256/{HEX}/link"
    )
    assert layout.revisions_dir("library/ubuntu") == f"{repo}/_manifests/revisions/"
    assert layout.tags_dir("library/ubuntu") == f"{repo}/_manifests/tags/"
    assert layout.tag_dir("library/ubuntu", "24.04") == f"{repo}/_manifests/tags/24.04/"
    assert (
        layout.tag_current_link("library/ubuntu", "latest")
        == f"{repo}/_manifests/tags/latest/current/link"
    )
    assert (
        layout.tag_index_link("library/ubuntu", "latest", DIGEST)
        == f"{repo}/_manifests/tags/latest/index/sha256/{HEX}/link"
    )
    assert layout.uploads_dir("library/ubuntu") == f"{repo}/_uploads/"
    uid = "0f9a2c1e-3b5d-4c7e-9f10-2a3b4c5d6e7f"
    assert layout.upload_dir("library/ubuntu", uid) == f"{repo}/_uploads/{uid}/"
    assert layout.upload_data("library/ubuntu", uid) == f"{repo}/_uploads/{uid}/data"


def test_directory_prefixes_contain_their_keys() -> None:
    assert layout.tag_current_link("r", "t").startswith(layout.tag_dir("r", "t"))
    assert layout.tag_index_link("r", "t", DIGEST).startswith(layout.tag_dir("r", "t"))
    assert layout.upload_data("r", "u1").startswith(layout.upload_dir("r", "u1"))
    assert layout.blob_data(DIGEST).startswith(layout.blobs_root())
    assert layout.layer_link("r", DIGEST).startswith(layout.repositories_root())
    # a tag's prefix never covers a tag that merely starts with the same letters
    assert not layout.tag_current_link("r", "v10").startswith(layout.tag_dir("r", "v1"))


def test_link_content_round_trip() -> None:
    assert layout.link_content(DIGEST) == DIGEST.encode()  # no newline, like distribution
    assert layout.parse_link(layout.link_content(DIGEST)) == DIGEST
    assert layout.parse_link(DIGEST.encode() + b"\n") == DIGEST
    for bad in [b"", b"sha256:xyz", DIGEST.upper().encode(), b"\xff\xfe", b"md5:" + HEX.encode()]:
        with pytest.raises(ValueError):
            layout.parse_link(bad)


@pytest.mark.parametrize("digest", [DIGEST, DIGEST512])
def test_parse_blob_data_key_round_trip(digest: str) -> None:
    assert layout.parse_blob_data_key(layout.blob_data(digest)) == digest


@pytest.mark.parametrize(
    "key",
    [
        f"{V2}/blobs/sha256/96/{HEX}",
        f"{V2}/blobs/sha256/96/{HEX}/data/extra",
        f"{V2}/blobs/sha256/00/{HEX}/data",  # wrong fan-out directory
        f"{V2}/blobs/md5/96/{HEX}/data",
        f"{V2}/blobs/sha256/96/{HEX[:-1]}/data",
        f"{V2}/blobs/sha256/96/{HEX.upper()}/data",
        f"{V2}/repositories/r/_layers/sha256/{HEX}/link",
        f"other/{V2}/blobs/sha256/96/{HEX}/data",
    ],
)
def test_parse_blob_data_key_rejects(key: str) -> None:
    assert layout.parse_blob_data_key(key) is None


REPOS = ["r", "library/ubuntu", "a/b/c", "my-org/team.x/app_1", "a__b/c--d"]


@pytest.mark.parametrize("repo", REPOS)
def test_parse_repository_key_round_trip(repo: str) -> None:
    cases = {
        layout.layer_link(repo, DIGEST): RepoKey(RepoKeyKind.LAYER_LINK, repo, digest=DIGEST),
        layout.revision_link(repo, DIGEST512): RepoKey(
            RepoKeyKind.REVISION_LINK, repo, digest=DIGEST512
        ),
        layout.tag_current_link(repo, "v1.0"): RepoKey(
            RepoKeyKind.TAG_CURRENT_LINK, repo, tag="v1.0"
        ),
        layout.tag_index_link(repo, "_x", DIGEST): RepoKey(
            RepoKeyKind.TAG_INDEX_LINK, repo, digest=DIGEST, tag="_x"
        ),
        layout.upload_data(repo, "u-1"): RepoKey(RepoKeyKind.UPLOAD, repo, upload_id="u-1"),
        f"{layout.upload_dir(repo, 'u-1')}startedat": RepoKey(
            RepoKeyKind.UPLOAD, repo, upload_id="u-1"
        ),
        f"{layout.upload_dir(repo, 'u-1')}hashstates/sha256/0": RepoKey(
            RepoKeyKind.UPLOAD, repo, upload_id="u-1"
        ),
    }
    for key, expected in cases.items():
        assert layout.parse_repository_key(key) == expected, key


def test_repo_key_kind_is_a_string() -> None:
    assert RepoKeyKind.LAYER_LINK == "layer_link"
    parsed = layout.parse_repository_key(layout.layer_link("r", DIGEST))
    assert parsed is not None and parsed.kind == "layer_link"


@pytest.mark.parametrize(
    "key",
    [
        f"{V2}/repositories/r",
        f"{V2}/repositories/r/_layers/sha256/{HEX}",
        f"{V2}/repositories/r/_layers/sha256/{HEX}/data",
        f"{V2}/repositories/r/_layers/sha256/abc/link",
        f"{V2}/repositories/_layers/sha256/{HEX}/link",  # no repository name
        f"{V2}/repositories/Upper/_layers/sha256/{HEX}/link",
        f"{V2}/repositories/r/_manifests/revisions/sha256/{HEX}/signatures/sha256/{HEX}/link",
        f"{V2}/repositories/r/_manifests/tags/t/current/data",
        f"{V2}/repositories/r/_manifests/tags/t/index/sha256/{HEX}",
        f"{V2}/repositories/r/_manifests/tags/.t/current/link",
        f"{V2}/repositories/r/_manifests/other/x/y/z",
        f"{V2}/repositories/r/_deleted/sha256/{HEX}/link",
        f"{V2}/repositories/r/_uploads/u1",
        f"{V2}/repositories/r/_uploads/../data",
        f"{V2}/repositories/r/_uploads/u1//data",
        f"{V2}/blobs/sha256/96/{HEX}/data",
        "something/else",
    ],
)
def test_parse_repository_key_ignores_unknown_keys(key: str) -> None:
    assert layout.parse_repository_key(key) is None


def test_repository_name_ends_at_first_reserved_component() -> None:
    # A layer link of repo "a/b" whose digest path happens to contain nothing
    # reserved, and a nested repo: the name is everything before "_layers".
    key = f"{V2}/repositories/a/b/c/_layers/sha256/{HEX}/link"
    parsed = layout.parse_repository_key(key)
    assert parsed == RepoKey(RepoKeyKind.LAYER_LINK, "a/b/c", digest=DIGEST)
    # a tag literally named "_uploads" does not confuse the split
    key = layout.tag_current_link("a/b", "_uploads")
    assert layout.parse_repository_key(key) == RepoKey(
        RepoKeyKind.TAG_CURRENT_LINK, "a/b", tag="_uploads"
    )


@pytest.mark.parametrize(
    "digest",
    [
        "",
        HEX,
        "sha256:",
        f"sha256:{HEX[:-1]}",
        f"sha256:{HEX}0",
        f"sha256:{HEX.upper()}",
        f"sha256:{HEX[:-1]}g",
        f"md5:{HEX}",
        f"SHA256:{HEX}",
        f"sha512:{HEX}",
        f"sha256:../{HEX[3:]}",
        None,
    ],
)
def test_invalid_digests(digest: str) -> None:
    for build in (layout.blob_data, layout.link_content, lambda d: layout.layer_link("r", d)):
        with pytest.raises(ValueError):
            build(digest)
    with pytest.raises(ValueError):
        layout.tag_index_link("r", "t", digest)


@pytest.mark.parametrize(
    "repo",
    ["", "/r", "r/", "a//b", "../r", "a/../b", "A", "r/_layers", "_r", ".r", "r-", "r/x y", None],
)
def test_invalid_repository_names(repo: str) -> None:
    for build in (
        lambda: layout.layer_link(repo, DIGEST),
        lambda: layout.revision_link(repo, DIGEST),
        lambda: layout.tag_dir(repo, "t"),
        lambda: layout.upload_dir(repo, "u"),
        lambda: layout.repository_dir(repo),
    ):
        with pytest.raises(ValueError):
            build()


@pytest.mark.parametrize("tag", ["", ".", "..", "-x", "a/b", "x" * 129, "t\n", "é", None])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(ValueError):
        layout.tag_current_link("r", tag)
    with pytest.raises(ValueError):
        layout.tag_dir("r", tag)


def test_valid_tag_edge_cases() -> None:
    assert layout.tag_dir("r", "x" * 128).endswith("/" + "x" * 128 + "/")
    assert layout.tag_dir("r", "_").endswith("/_/")


@pytest.mark.parametrize("upload_id", ["", ".", "..", "a/b", "-x", ".hidden", "x" * 129, None])
def test_invalid_upload_ids(upload_id: str) -> None:
    with pytest.raises(ValueError):
        layout.upload_data("r", upload_id)
