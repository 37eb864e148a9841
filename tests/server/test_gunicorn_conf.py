# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""conf/gunicorn.conf.py (operators running gunicorn themselves) and ``hareg serve``
(hareg.server.runner.gunicorn_settings) hand gunicorn the same settings."""

from __future__ import annotations

import os
import runpy
import shutil
from pathlib import Path

import pytest
from gunicorn.config import Config as GunicornConfig

from hareg.config import load_config
from hareg.server import runner

CONF = Path(__file__).resolve().parents[2] / "conf" / "gunicorn.conf.py"
# Callables (hooks) are compared by name: the conf file wraps child_exit in its own module.
HOOKS = {"child_exit"}


def _settings_of_conf_file(monkeypatch: pytest.MonkeyPatch, config_file: Path) -> dict:
    monkeypatch.setenv("HAREG_CONFIG", str(config_file))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    names = set(GunicornConfig().settings)
    try:
        namespace = runpy.run_path(str(CONF))
    finally:
        metrics_dir = os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # made by the conf
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return {k: v for k, v in namespace.items() if k in names}


def test_conf_file_and_hareg_serve_agree(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    config_file = tmp_path / "hareg.toml"
    config_file.write_text(
        '[server]\nbind = "127.0.0.1:5099"\nworkers = 3\ngraceful_timeout = 45\n'
        'trusted_proxies = ["10.0.0.0/24", "127.0.0.1"]\n'
        '[log]\nlevel = "warning"\nformat = "json"\n[metrics]\nbind = "127.0.0.1:9199"\n')
    from_conf = _settings_of_conf_file(monkeypatch, config_file)
    config = load_config(str(config_file))
    from_serve = runner.gunicorn_settings(config, config.server.bind, config.server.workers)

    for key, value in from_serve.items():
        assert key in from_conf, f"conf/gunicorn.conf.py does not set {key}"
        if key in HOOKS:
            assert callable(from_conf[key])
        else:
            assert from_conf[key] == value, key
    assert from_conf["bind"] == ["127.0.0.1:5099", "127.0.0.1:9199"]
    assert from_conf["forwarded_allow_ips"] == "10.0.0.0/24,127.0.0.1"
