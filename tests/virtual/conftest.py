# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Flask apps on a real PostgreSQL and filesystem storage, with namespace definitions in the
real ``namespaces`` table (read back through the app's NamespaceCache, as in production)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hareg.api.app import create_app
from hareg.config import load_config
from hareg.db import namespaces as namespace_rows
from hareg.registry.context import Registry
from hareg.registry.namespace_cache import NamespaceCache
from hareg.registry.namespaces import Definition
from tests.auth.helpers import write_htpasswd
from tests.oci import Blob, Manifest, digest_of


@dataclass
class App:
    """One app: its test client, its Registry and a way to (re)define namespaces."""

    flask: Flask
    client: FlaskClient
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def reg(self) -> Registry:
        return self.flask.extensions["hareg"]

    def define(self, *definitions: Definition) -> None:
        """Save definitions into the ``namespaces`` table; the app sees them at once."""
        with self.reg.db.transaction() as cur:
            for d in definitions:
                namespace_rows.save_definition(cur, d.name, str(d.kind), d.to_dict())
        cache = self.reg.namespaces
        assert isinstance(cache, NamespaceCache)
        cache.invalidate()

    def auth(self, user: str | None) -> dict[str, str]:
        """Request keyword arguments for ``user`` (None: anonymous)."""
        return {} if user is None else {"auth": (user, self.passwords[user])}

    # -- pushing, directly into a repository (or through a virtual name) ------------------

    def push_blob(self, repo: str, blob: Blob, user: str | None = None) -> Any:
        resp = self.client.post(f"/v2/{repo}/blobs/uploads/?digest={blob.digest}",
                                data=blob.data, **self.auth(user),
                                headers={"Content-Type": "application/octet-stream"})
        assert resp.status_code == 201, resp.text
        return resp

    def put_manifest(self, repo: str, reference: str, manifest: Manifest,
                     user: str | None = None, tags: Sequence[str] = ()) -> Any:
        query = "".join(f"&tag={t}" for t in tags).replace("&", "?", 1)
        return self.client.put(f"/v2/{repo}/manifests/{reference}{query}", data=manifest.data,
                               headers={"Content-Type": manifest.media_type}, **self.auth(user))

    def push_image(self, repo: str, tag: str, manifest: Manifest,
                   user: str | None = None) -> str:
        for blob in manifest.blobs:
            self.push_blob(repo, blob, user)
        resp = self.put_manifest(repo, tag, manifest, user)
        assert resp.status_code == 201, resp.text
        assert resp.headers["Docker-Content-Digest"] == digest_of(manifest.data)
        return manifest.digest


@pytest.fixture
def make_app(pg: Any, tmp_path: Path) -> Iterator[Callable[..., App]]:
    """``make_app(auth=None)``: an app with its own migrated database and storage;
    ``auth`` is an ``[auth]`` table (``passwords``: user -> password for an htpasswd)."""
    made: list[App] = []

    def make(auth: Mapping[str, Any] | None = None,
             passwords: Mapping[str, str] | None = None) -> App:
        n = len(made)
        url = pg.migrated_database("virtual")
        overrides: dict[str, Any] = {
            "database": {"url": url, "pool_size": 4},
            "storage": {"driver": "filesystem", "root": str(tmp_path / f"storage{n}")},
            "server": {"data_dir": str(tmp_path / f"data{n}")},
            "registry": {"delete_enabled": True},
            "log": {"requests": False},
        }
        if auth is not None:
            htpasswd = write_htpasswd(tmp_path / f"htpasswd{n}", passwords or {})
            overrides["auth"] = {"htpasswd": str(htpasswd), **auth}
        flask = create_app(load_config(env={}, overrides=overrides))
        app = App(flask, flask.test_client(), dict(passwords or {}))
        made.append(app)
        return app

    try:
        yield make
    finally:
        for app in made:
            app.reg.db.close()


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    """An app without auth."""
    return make_app()
