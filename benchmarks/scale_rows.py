# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Rows generated directly in hareg's database, for listings at sizes no API load reaches in
a benchmark's time (100,000 tags, 100,000 repositories).

The rows are the ones pushes would make (repositories, blob rows and links, manifests,
tags), without the storage objects: listings never read storage, so the tables are what a
listing's cost depends on. Never point this at a registry that serves anyone: ``hareg
check`` would report every row made here as missing from the bucket.
"""

from __future__ import annotations

import hashlib
from contextlib import closing

import psycopg2

#: A manifest payload (kept in the row as a push would); its size is a small image's.
_PAYLOAD = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}' \
    + b" " * 900
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(label: str) -> str:
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


def _run(url: str, statements: list[tuple[str, tuple]]) -> None:
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        for sql, args in statements:
            cur.execute(sql, args)
        conn.commit()


def _repository(repo: str) -> tuple[str, tuple]:
    return ("INSERT INTO repositories (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
            (repo,))


def add_tags(url: str, repo: str, count: int, prefix: str = "v",
             manifest: str | None = None) -> list[str]:
    """A repository with ``count`` tags (``v000000``...) naming one manifest: ``manifest``
    (the digest of one pushed there already), else one made here; the names."""
    digest = manifest or _digest(f"scale-tags/{repo}")
    names = [f"{prefix}{i:06d}" for i in range(count)]
    made = [] if manifest else [
        _repository(repo),
        ("INSERT INTO blobs (digest, size) VALUES (%s, %s) ON CONFLICT DO NOTHING",
         (digest, len(_PAYLOAD))),
        (("INSERT INTO manifests (repository_id, digest, media_type, payload)"
          " SELECT id, %s, %s, %s FROM repositories WHERE name = %s ON CONFLICT DO NOTHING"),
         (digest, MANIFEST, _PAYLOAD, repo)),
    ]
    _run(url, [
        *made,
        (("INSERT INTO tags (repository_id, name, manifest_id)"
          " SELECT m.repository_id, n, m.id FROM manifests m"
          " JOIN repositories r ON r.id = m.repository_id, unnest(%s::text[]) n"
          " WHERE r.name = %s AND m.digest = %s ON CONFLICT DO NOTHING"),
         (names, repo, digest)),
    ])
    return names


def add_manifests(url: str, repo: str, count: int) -> None:
    """A repository holding ``count`` untagged manifests: the skew of a real registry, where a
    few repositories hold most manifests (what misled the planner, issue 11)."""
    _run(url, [
        _repository(repo),
        (("INSERT INTO blobs (digest, size)"
         " SELECT 'sha256:' || encode(sha256(convert_to(%s || i, 'UTF8')), 'hex'), %s"
         " FROM generate_series(1, %s) i ON CONFLICT DO NOTHING"),
         (f"scale-manifests/{repo}/", len(_PAYLOAD), count)),
        (("INSERT INTO manifests (repository_id, digest, media_type, payload)"
         " SELECT r.id, 'sha256:' || encode(sha256(convert_to(%s || i, 'UTF8')), 'hex'), %s, %s"
         " FROM repositories r, generate_series(1, %s) i WHERE r.name = %s"
         " ON CONFLICT DO NOTHING"),
         (f"scale-manifests/{repo}/", MANIFEST, _PAYLOAD, count, repo)),
    ])


def add_repositories(url: str, names: list[str]) -> None:
    """Repositories that each link one (shared) blob, as a cross-repository mount makes."""
    digest = _digest("scale-repositories/seed")
    _run(url, [
        ("INSERT INTO blobs (digest, size) VALUES (%s, 512) ON CONFLICT DO NOTHING", (digest,)),
        ("INSERT INTO repositories (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
         (names,)),
        (("INSERT INTO repository_blobs (repository_id, digest)"
         " SELECT id, %s FROM repositories WHERE name = ANY(%s) ON CONFLICT DO NOTHING"),
         (digest, names)),
    ])


def analyze(url: str) -> None:
    """Fresh statistics and visibility map, as autovacuum leaves them after a while: the
    planner then plans with the real table sizes."""
    with closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) repositories, repository_blobs, manifests, tags, blobs")


def add_distribution_tags(root: str, repo: str, tags: list[str], manifest: str) -> None:
    """Tags written directly into distribution's filesystem storage (``root`` as its
    ``rootdirectory``), as its tag PUT leaves them: ``current/link`` and the index link of
    each tag. The manifest must have been PUT once through the API (its revision link)."""
    import os

    hexdigest = manifest.split(":", 1)[1]
    base = os.path.join(root, "docker/registry/v2/repositories", repo, "_manifests/tags")
    for tag in tags:
        for sub in ("current", f"index/sha256/{hexdigest}"):
            directory = os.path.join(base, tag, sub)
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, "link"), "w") as f:
                f.write(manifest)
