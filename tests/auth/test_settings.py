# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The [auth] config section: file, environment overrides and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hareg.config import ConfigError, load_config
from tests.auth.helpers import Keys, auth_toml


def write(tmp_path: Path, auth: dict[str, object]) -> Path:
    path = tmp_path / "hareg.toml"
    path.write_text(auth_toml(auth))
    return path


def test_defaults_are_off() -> None:
    auth = load_config(env={}).auth
    assert auth.mode == "none" and not auth.enabled and auth.token_lifetime == 300


def test_file_with_rules_and_groups(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "mode": "basic", "htpasswd": "/etc/hareg/htpasswd", "anonymous_pull": ["public/**"],
        "groups": {"ci": ["jenkins"]},
        "rules": [{"subjects": ["group:ci"], "repositories": ["ci/**"], "actions": ["*"]}],
    })
    auth = load_config(path, env={}).auth
    assert auth.groups == (("ci", ("jenkins",)),)
    assert auth.rules[0].actions == ("pull", "push", "delete", "promote")


def test_environment_overrides(tmp_path: Path) -> None:
    keys = Keys.create(tmp_path / "k")
    auth = load_config(env={
        "HAREG_AUTH_MODE": "token", "HAREG_AUTH_SIGNING_KEY": str(keys.signing_path),
        "HAREG_AUTH_HTPASSWD": "/x", "HAREG_AUTH_TOKEN_LIFETIME": "600",
        "HAREG_AUTH_SERVICE": "registry.example.com",
        "HAREG_AUTH_ANONYMOUS_PULL": "public/**,docs/*",
    }).auth
    assert auth.mode == "token" and auth.token_lifetime == 600
    assert auth.anonymous_pull == ("public/**", "docs/*")
    assert auth.service == "registry.example.com" and auth.issues_tokens


@pytest.mark.parametrize(("auth", "message"), [
    ({"mode": "ldap"}, "auth.mode"),
    ({"mode": "basic"}, 'auth: mode "basic" needs htpasswd'),
    ({"mode": "token", "htpasswd": "/x"}, 'auth: mode "token" needs signing_key'),
    ({"mode": "token", "signing_key": "/nonexistent.pem", "htpasswd": "/x"},
     "auth: signing_key: no such file: /nonexistent.pem"),
    ({"mode": "basic", "htpasswd": "/x", "anonymous_pull": ["Public/*"]}, "auth.anonymous_pull"),
    ({"mode": "basic", "htpasswd": "/x", "rules": [
        {"subjects": ["group:nope"], "repositories": ["a"], "actions": ["pull"]}]},
     "unknown group 'nope'"),
    ({"mode": "basic", "htpasswd": "/x", "rules": [
        {"subjects": ["a"], "repositories": ["a"], "actions": ["write"]}]}, "auth.rules.0.actions"),
    ({"mode": "basic", "htpasswd": "/x", "token_lifetime": 5}, "auth.token_lifetime"),
    ({"mode": "basic", "htpasswd": "/x", "realm": "not a url"}, "auth.realm"),
    ({"mode": "basic", "htpasswd": "/x", "colour": "blue"}, "auth.colour"),
])
def test_errors_name_the_key(tmp_path: Path, auth: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, auth), env={})
    assert message in str(info.value)


def test_the_commented_example_in_conf_hareg_toml_loads(tmp_path: Path) -> None:
    path = Path(__file__).parents[2] / "conf" / "hareg.toml"
    assert load_config(path, env={}).auth.mode == "none"
    lines = path.read_text().splitlines()
    start = lines.index("# [auth.groups]")
    example = []
    for line in lines[start:]:
        if line and not line.startswith("#"):
            break  # the next section
        example.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    config = tmp_path / "hareg.toml"
    config.write_text('[auth]\nmode = "basic"\nhtpasswd = "/x"\n\n' + "\n".join(example))
    auth = load_config(config, env={}).auth
    assert [g for g, _ in auth.groups] == ["ci", "developers"] and len(auth.rules) == 3
