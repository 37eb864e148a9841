# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Config defaults stated once, one style of error, hints for misspelled names."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from hareg.config import (
    _SECTIONS,
    Config,
    ConfigError,
    RetentionRule,
    RetentionRuleSchema,
    load_config,
    unknown_environment,
)

EXAMPLE = Path(__file__).parents[2] / "conf" / "hareg.toml"


def test_the_example_file_states_exactly_the_defaults() -> None:
    """conf/hareg.toml promises to behave like no file at all."""
    assert load_config(EXAMPLE, env={}) == load_config(None, env={}) == Config()


def test_every_example_key_is_a_config_key_and_every_scalar_key_is_documented() -> None:
    import tomllib

    example = tomllib.loads(EXAMPLE.read_text())
    for section, (dc, _) in _SECTIONS.items():
        documented = set(example[section])
        keys = {f.name for f in fields(dc)} - {"rules", "groups"}  # tables, shown commented
        assert documented == keys, section


def test_schema_defaults_come_from_the_dataclasses() -> None:
    for section, (dc, schema) in _SECTIONS.items():
        if section == "auth":
            continue  # hareg.auth.settings has its own schema
        assert schema().load({}) == dc(), section
    assert RetentionRuleSchema().load({"repository": "a"}) == RetentionRule("a")


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "hareg.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    return str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ('[server]\nbnd = "x"\n', "server.bnd: unknown key (did you mean bind?)"),
    ('[srever]\nbind = "x"\n', "srever: unknown section (did you mean server?)"),
    ('[[retention]]\nrepository = "a"\nkeep_lats = 1\n',
     "retention.0.keep_lats: unknown key (did you mean keep_last?)"),
    ('[server]\nworkers = "many"\n', "server.workers: not a valid integer"),
    ('[registry]\nread_only = "maybe"\n', "registry.read_only: not a valid boolean"),
    ('[server]\nxyzzy = 1\n', "server.xyzzy: unknown key"),
    ('[[retention]]\nkeep_last = 1\n', "retention.0.repository: missing data for required field"),
])
def test_errors_have_one_style(tmp_path: Path, text: str, message: str) -> None:
    assert _error(tmp_path, text) == message


def test_unknown_environment_variables_are_named_with_the_nearest_one() -> None:
    env = {"HAREG_DATABSE_URL": "x", "HAREG_CONFIG": "/etc/hareg/hareg.toml",
           "HAREG_TEST_DATABASE_URL": "x", "HAREG_STORAGE_BUCKET": "b", "HAREG_XYZZY": "1",
           "PATH": "/bin"}
    assert unknown_environment(env) == [
        "unknown environment variable HAREG_DATABSE_URL (did you mean HAREG_DATABASE_URL?)",
        "unknown environment variable HAREG_XYZZY",
    ]
