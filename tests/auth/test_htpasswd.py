# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""htpasswd files: htpasswd -B entries, reload on change, editing, keys and scopes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hareg.auth.htpasswd import Htpasswd, hash_password, remove_user, set_user
from hareg.auth.keys import parse_public_keys
from hareg.auth.scopes import MAX_SCOPES, ScopeError, parse_scopes
from tests.auth.helpers import Keys, htpasswd_line, pem_public


def test_verifies_htpasswd_b_entries_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("alice", "s3cret") + "\n# comment\nold:$apr1$abc$def\n")
    users = Htpasswd(str(path))
    assert users.verify("alice", "s3cret")
    assert users.verify("alice", "s3cret")  # cached
    assert not users.verify("alice", "wrong")
    assert not users.verify("old", "anything")  # not bcrypt: ignored
    assert not users.verify("nobody", "s3cret")
    set_user(str(path), "bob", hash_password("pw", rounds=4))
    assert users.verify("bob", "pw")
    set_user(str(path), "alice", hash_password("new", rounds=4))
    assert not users.verify("alice", "s3cret") and users.verify("alice", "new")
    assert remove_user(str(path), "alice") and not remove_user(str(path), "alice")
    assert not users.verify("alice", "new")
    assert "old:$apr1$abc$def" in path.read_text()  # other lines are kept


def test_long_passwords_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        hash_password("x" * 73)
    users = Htpasswd(str(tmp_path / "missing"))
    assert not users.verify("alice", "x" * 1000)


def test_new_file_is_not_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    set_user(str(path), "a", hash_password("p", rounds=4))
    assert path.read_text().startswith("a:$2y$04$")
    assert os.stat(path).st_mode & 0o007 == 0


def test_public_key_files(tmp_path: Path) -> None:
    keys = Keys.create(tmp_path)
    pem = parse_public_keys(pem_public(keys.external_ec) + pem_public(keys.signing), "x.pem")
    assert [k.algorithms for k in pem] == [("ES256",), ("RS256", "RS384", "RS512")]
    jwks = parse_public_keys((tmp_path / "jwks.json").read_bytes(), "jwks.json")
    assert jwks[0].kid == "ext-1" and jwks[0].algorithms == ("RS256",)
    for bad in (b"", b"{}", b"{\"keys\": 3}",
                b"-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n", b"{not json"):
        with pytest.raises(ValueError):
            parse_public_keys(bad, "bad")


def test_scopes() -> None:
    scopes = parse_scopes(["repository:a/b:pull", "repository:a/b:push repository:c:*",
                           "registry:catalog:*", "repository(plugin):d:pull"])
    assert [str(s) for s in scopes] == ["repository:a/b:pull,push", "repository:c:*",
                                        "registry:catalog:*", "repository:d:pull"]
    assert parse_scopes([]) == []
    with pytest.raises(ScopeError, match="too many"):
        parse_scopes(["repository:a:pull"] * (MAX_SCOPES + 1))
    for bad in ("repository:a", "repository::pull", "Repository:a:pull", "repository:A:pull",
                "repository:a:PULL"):
        with pytest.raises(ScopeError):
            parse_scopes([bad])
