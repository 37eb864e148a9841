# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg.grammar: the one grammar of names, tags and digests, and the layers that use it.

The registry (errors for clients) and the storage layout (ValueError before a key is built)
must accept exactly the same names, tags and digests; and no check may let a value with a
final newline through (``$`` in a regular expression matches before one).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest

from hareg import grammar
from hareg.auth.globs import glob_error, glob_to_regex
from hareg.auth.scopes import ScopeError, parse_scope
from hareg.config import ConfigError, load_config
from hareg.registry import hashing, names
from hareg.registry.errors import DigestInvalid, NameInvalid, TagInvalid
from hareg.storage import layout

SHA256 = "sha256:" + hashlib.sha256(b"x").hexdigest()
SHA512 = "sha512:" + hashlib.sha512(b"x").hexdigest()

NAMES = {
    "a": True,
    "a/b/c": True,
    "a.b/c_d/e__f/g-h/i--j": True,
    "x" * 255: True,
    "x" * 256: False,  # the storage layout has no length limit (see test below)
    "A": False,
    "a/../b": False,
    "_a": False,
    "a___b": False,
    "a//b": False,
    "a:b": False,
    "": False,
    "a\n": False,
    "a/b\n": False,
    "\na": False,
    "a\nb": False,
    "a ": False,
}

TAGS = {
    "latest": True,
    "_x": True,
    "A.b-C_d": True,
    "a" * 128: True,
    "a" * 129: False,
    "-x": False,
    ".x": False,
    "a:b": False,
    "a+b": False,
    "": False,
    "x\n": False,
    "latest\n": False,
    "\nx": False,
    "x\r": False,
}

DIGESTS = {
    SHA256: True,
    SHA512: True,
    SHA256 + "\n": False,
    SHA512 + "\n": False,
    SHA256.upper(): False,
    SHA256[:-1]: False,
    SHA256 + "0": False,
    SHA256.replace("sha256", "sha384"): False,
    "sha256:" + "g" * 64: False,
    "sha256": False,
    ":" + "a" * 64: False,
    "": False,
}


def _registry_accepts_name(value: str) -> bool:
    try:
        names.validate_name(value)
    except NameInvalid:
        return False
    return True


def _layout_accepts(check: Callable[[str], object], value: str) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("value", list(NAMES), ids=repr)
def test_names(value: str) -> None:
    valid = NAMES[value]
    assert grammar.is_name(value) is valid
    assert _registry_accepts_name(value) is valid
    if len(value) <= grammar.MAX_NAME_LENGTH:
        assert _layout_accepts(layout.validate_repo, value) is valid


def test_storage_takes_long_names_so_rebuild_can_report_them() -> None:
    """The length limit is the registry's; a bucket's over-long name is reported, not lost."""
    long = "x" * 256
    assert layout.validate_repo(long) == long
    key = layout.revision_link(long, SHA256)
    assert layout.parse_repository_key(key) == layout.RepoKey(
        layout.RepoKeyKind.REVISION_LINK, long, digest=SHA256)


@pytest.mark.parametrize("value", list(TAGS), ids=repr)
def test_tags(value: str) -> None:
    valid = TAGS[value]
    assert grammar.is_tag(value) is valid
    assert names.is_tag(value) is valid
    assert _layout_accepts(layout.validate_tag, value) is valid
    if valid:
        assert names.validate_tag(value) == value
    else:
        with pytest.raises(TagInvalid):
            names.validate_tag(value)


@pytest.mark.parametrize("value", list(DIGESTS), ids=repr)
def test_digests(value: str) -> None:
    valid = DIGESTS[value]
    assert _layout_accepts(layout.validate_digest, value) is valid
    if valid:
        assert str(names.parse_digest(value)) == value
    else:
        with pytest.raises(DigestInvalid):
            names.parse_digest(value)
    assert (grammar.DIGEST_RE.match(value) is not None) is (
        valid or value in {SHA256.replace("sha256", "sha384"), "sha256:" + "g" * 64,
                            SHA256[:-1], SHA256 + "0"})


def test_digest_errors_keep_their_messages() -> None:
    with pytest.raises(DigestInvalid, match="unsupported digest algorithm: sha384"):
        names.parse_digest("sha384:" + "a" * 96)
    with pytest.raises(DigestInvalid, match="invalid sha256 digest"):
        names.parse_digest(SHA256[:-1])
    with pytest.raises(ValueError, match="expected 64 lowercase hex characters"):
        layout.split_digest(SHA256.upper().replace("SHA256", "sha256"))


def test_one_list_of_algorithms() -> None:
    assert {"sha256", "sha512"} == grammar.SUPPORTED_ALGORITHMS
    assert hashing.SUPPORTED_ALGORITHMS is grammar.SUPPORTED_ALGORITHMS
    assert names.SUPPORTED_ALGORITHMS is grammar.SUPPORTED_ALGORITHMS
    assert layout.ALGORITHMS is grammar.HEX_LENGTHS
    for algorithm, length in grammar.HEX_LENGTHS.items():
        assert len(hashlib.new(algorithm).hexdigest()) == length
        assert hashing.ResumableHash(algorithm).hexdigest() == hashlib.new(algorithm).hexdigest()


def test_is_digest_reference() -> None:
    assert grammar.is_digest_reference(SHA256) and names.looks_like_digest(SHA256)
    assert not grammar.is_digest_reference("latest")


@pytest.mark.parametrize("pattern", [grammar.NAME_RE, grammar.TAG_RE, grammar.DIGEST_RE])
def test_patterns_check_the_whole_string_with_match_too(pattern: re.Pattern[str]) -> None:
    """Callers that use ``match`` (marshmallow's Regexp does) get the same answer."""
    sample = {grammar.NAME_RE: "a/b", grammar.TAG_RE: "v1", grammar.DIGEST_RE: SHA256}[pattern]
    assert pattern.match(sample)
    for bad in (sample + "\n", sample + "\r\n", "\n" + sample, sample + " "):
        assert pattern.match(bad) is None, bad


# --- other checks in hareg that used "$" ------------------------------------------------------


@pytest.mark.parametrize("scope", [
    "repository:abc\n:pull", "repository:abc:pull\n", "repository\n:abc:pull",
])
def test_scopes_refuse_a_final_newline(scope: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(scope)


def test_scope_still_parses() -> None:
    assert str(parse_scope("repository(plugin):team/app:pull,push")) == (
        "repository:team/app:pull,push")


def test_repository_patterns_refuse_and_never_match_a_final_newline() -> None:
    assert glob_error("team/*\n") is not None
    assert glob_error("team/*") is None
    regex = re.compile(glob_to_regex("team/app"))
    assert regex.match("team/app")
    assert not regex.match("team/app\n")


@pytest.mark.parametrize(("section", "key", "value"), [
    ("server", "bind", "127.0.0.1:5000\n"),
    ("server", "bind", "unix:/run/hareg.sock\n"),
    ("metrics", "bind", "127.0.0.1:9000\n"),
    ("metrics", "bind", "\n"),
    ("database", "url", "\n"),
])
def test_config_refuses_a_final_newline(section: str, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        load_config(env={}, overrides={section: {key: value}})


@pytest.mark.parametrize(("section", "key", "value"), [
    ("server", "bind", "127.0.0.1:5000"),
    ("server", "bind", "[::1]:5000"),
    ("server", "bind", "unix:/run/hareg.sock"),
    ("metrics", "bind", ""),
    ("metrics", "bind", "127.0.0.1:9000"),
    ("database", "url", ""),
    ("database", "url", "postgresql://u@h/db"),
    ("database", "url", "postgres://u@h/db"),
])
def test_config_still_takes_good_values(section: str, key: str, value: str) -> None:
    config = load_config(env={}, overrides={section: {key: value}})
    assert getattr(getattr(config, section), key) == value


@pytest.mark.parametrize(("variable", "value"), [
    ("HAREG_AUTH_REALM", "https://auth.example.com/token\n"),
    ("HAREG_AUTH_REALM", "\n"),
])
def test_auth_settings_refuse_a_final_newline(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=r"auth\.realm"):
        load_config(env={variable: value})


def test_user_and_group_names_refuse_a_final_newline() -> None:
    from hareg.auth.settings import GROUP_NAME_RE, USER_NAME_RE

    assert USER_NAME_RE.match("alice@example.com")
    assert not USER_NAME_RE.match("alice\n")
    assert GROUP_NAME_RE.match("ci")
    assert not GROUP_NAME_RE.match("ci\n")
