# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Keyset pages: every repository and tag appears exactly once, in byte order, and each
page links the next; the retention verdict of a tag on any page is the planner's."""

from __future__ import annotations

import dataclasses
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hareg.config import RetentionRule
from hareg.db import browse
from hareg.gc import policy
from hareg.registry.namespace_cache import StaticNamespaces
from hareg.registry.namespaces import Namespaces, Remote
from tests.oci import image_manifest
from tests.ui.conftest import AppFactory
from tests.ui.helpers import push, text

PAGE = 10


def _walk(client, url: str, pattern: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    pages = []
    for _ in range(20):
        body = text(client.get(url))
        pages.append(re.findall(pattern, body))
        found = re.search(r'<a rel="next" href="([^"]+)"', body)
        if not found:
            return pages
        url = found.group(1).replace("&amp;", "&")
    raise AssertionError("more pages than expected")


def test_repositories_and_tags_page_by_keyset(make_app: AppFactory) -> None:
    app = make_app(auth=False, ui={"page_size": PAGE})
    api = app.test_client()
    manifest = image_manifest()
    names = sorted({f"ns{i % 3}/repo-{i:02d}" for i in range(23)})
    for name in names:
        push(api, name, manifest, "v1")
    tags = sorted([f"t{i:03d}" for i in range(25)] + ["A", "Z", "_x"])
    for tag in tags:
        push(api, "many/tags", manifest, tag)
    client = app.test_client()
    pages = _walk(client, "/ui/", r'<a href="/ui/r/([^"]+)">')
    assert [len(p) for p in pages] == [10, 10, 4]
    assert [n for p in pages for n in p] == sorted([*names, "many/tags"])
    pages = _walk(client, "/ui/r/many/tags", r'<th scope="row" data-label="Tag" class="name">'
                                             r"([^<]+)")
    assert [len(p) for p in pages] == [10, 10, 8]
    assert [t.strip() for p in pages for t in p] == sorted(tags)  # byte order: A Z _x t000
    pages = _walk(client, "/ui/?q=repo-1", r'<a href="/ui/r/([^"]+)">')
    assert [n for p in pages for n in p] == [n for n in names if "repo-1" in n]
    pages = _walk(client, "/ui/r/many/tags?prefix=t01", r'data-label="Tag" class="name">'
                                                        r"([^<]+)")
    assert [t.strip() for p in pages for t in p] == [t for t in tags if t.startswith("t01")]


def test_tag_fate_agrees_with_the_planner() -> None:
    """For random tag sets and rules, a tag is removed by :func:`policy.tag_fate` exactly
    when :func:`policy.expired_tags` (what the sweep plans) removes it."""
    rng = random.Random(12)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(200):
        rule = RetentionRule(repository="**", keep_last=rng.choice([None, 0, 1, 3]),
                             expire_after=rng.choice(["", "1d", "10d"]),
                             not_pulled_for=rng.choice(["", "", "2d", "10d"]),
                             keep_tags=rng.choice(["", "v.*"]), protect=rng.choice(["", "prod"]))
        tags = [policy.TagState(rng.choice(["prod", "v1", "v2", "dev", "x", "y"]) + str(i), i,
                                f"sha256:{i:064x}", now - timedelta(hours=rng.randint(0, 600)),
                                rng.choice([None, (now - timedelta(days=rng.randint(0, 25))
                                                   ).date()]))
                for i in range(rng.randint(0, 8))]
        promoted = {(t.name, t.digest) for t in tags if rng.random() < 0.1}
        doomed = {v.tag.name for v in policy.expired_tags(rule, tags, now, promoted)}
        newest = sorted(tags, key=lambda t: (t.updated_at, t.name), reverse=True)
        recent = {t.name for t in newest[:rule.keep_last]} if rule.keep_last is not None else set()
        for t in tags:
            fate = policy.tag_fate(rule, t.name, t.updated_at, now, recent=t.name in recent,
                                   promoted=(t.name, t.digest) in promoted, pulled_on=t.pulled_on)
            assert fate.kept == (t.name not in doomed), (rule, t, fate)
            assert fate.until is None or fate.until >= now, (rule, t, fate)


def test_the_list_shows_each_namespace_kind(make_app: AppFactory) -> None:
    """Repositories cached from a remote namespace show ``remote``; others ``local``."""
    app = make_app(auth=False)
    api = app.test_client()
    for name in ("hub/library/alpine", "team/app"):
        push(api, name, image_manifest(), "latest")
    reg = app.extensions["hareg"]
    app.extensions["hareg"] = dataclasses.replace(reg, namespaces=StaticNamespaces(
        Namespaces([Remote("hub", "https://registry-1.docker.io")])))
    body = text(app.test_client().get("/ui/"))
    rows = dict(re.findall(r'<a href="/ui/r/([^"]+)">.*?<span class="badge kind-(\w+)">', body,
                           re.DOTALL))
    assert rows == {"hub/library/alpine": "remote", "team/app": "local"}
    assert "kind-remote" in text(app.test_client().get("/ui/r/hub/library/alpine"))


def test_no_offset_in_the_pages() -> None:
    """Keyset pages only: a page never skips rows it read (OFFSET), at any depth."""
    import ast

    tree = ast.parse(Path(browse.__file__).read_text())
    docstrings = {ast.get_docstring(node, clean=False) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)}
    sql = [node.value for node in ast.walk(tree)
           if isinstance(node, ast.Constant) and isinstance(node.value, str)
           and node.value not in docstrings and ("SELECT" in node.value or "LIMIT" in node.value)]
    assert sql and not [s for s in sql if "OFFSET" in s.upper()]
