# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Where a manifest PUT goes: database round trips, storage writes, fsyncs, and the time of
each, counted in one process (cProfile; py-spy is not needed).

``python -m benchmarks.put_profile [--storage filesystem] [--count 200] [--database URL]``

Builds hareg's Flask app in this process on a fresh database and storage (the request path of
a gunicorn worker, without the HTTP server), pushes an image's blobs, then PUTs ``--count``
new manifests with one tag each under cProfile, and prints per PUT: the SQL statements
(``cursor.execute`` calls: each one round trip, BEGIN and COMMIT included), storage writes
and fsyncs, with the time they took, and the most expensive functions.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .servers import Postgres


def _blob(client, repo: str, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = client.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.data
    r = client.put(f"{r.headers['Location']}?digest={digest}", data=data,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.data
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest,
            "size": len(data)}


@contextmanager
def image_app(database: str, name: str, repo: str) -> Iterator[tuple[Any, dict, list[dict]]]:
    """hareg's Flask test client on a fresh database and storage, with an image's config and
    three layers pushed to ``repo``: (client, config descriptor, layer descriptors)."""
    from hareg.api.app import create_app
    from hareg.config import load_config
    from hareg.db.migrate import apply_migrations

    pg = Postgres(database)
    work = Path(tempfile.mkdtemp(prefix=f"hareg-{name}-", dir="/var/tmp"))
    try:
        url = pg.fresh_database(f"hareg_{name}")
        apply_migrations(url)
        config = load_config(env={}, overrides={
            "database": {"url": url}, "server": {"data_dir": str(work)},
            "storage": {"driver": "filesystem", "root": str(work / "storage")}})
        client = create_app(config).test_client()
        config_desc = _blob(client, repo, b'{"architecture":"amd64","os":"linux"}')
        config_desc["mediaType"] = "application/vnd.oci.image.config.v1+json"
        layers = [_blob(client, repo, bytes([i]) * 4096) for i in range(3)]
        yield client, config_desc, layers
    finally:
        pg.drop_all()
        shutil.rmtree(work, ignore_errors=True)


def profile_args(module: str, count: int) -> argparse.Namespace:
    """The options the profilers share: ``--count``, ``--database`` and ``--top``."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{module}")
    parser.add_argument("--count", type=int, default=count)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--top", type=int, default=25)
    return parser.parse_args()


def main() -> int:
    args = profile_args("put_profile", 200)

    repo = "profile/put"
    with image_app(args.database, "putprof", repo) as (client, config_desc, layers):
        payloads = [json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc, "layers": layers,
            "annotations": {"n": str(i)}}).encode() for i in range(args.count)]
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        profile = cProfile.Profile()
        t0 = time.perf_counter()
        profile.enable()
        for i, payload in enumerate(payloads):
            r = client.put(f"/v2/{repo}/manifests/t{i}", data=payload, headers=headers)
            assert r.status_code == 201, r.data
        profile.disable()
        wall = time.perf_counter() - t0
        stats = pstats.Stats(profile)
        per = args.count
        print(f"{per} manifest PUTs (new manifest, one tag, 4 blob references): "
              f"{wall / per * 1000:.2f} ms each, in this process")
        rows = []
        for (filename, _, name), (_cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
            label = f"{Path(filename).name}:{name}" if filename != "~" else name
            rows.append((label, nc, tt, ct))
        wanted = ("execute' of 'psycopg2", "_write_atomic", "_fsync", "_fsync_dir",
                  "_ensure_dir", "commit", "posix.replace", "posix.open", "lock_blob")
        print(f"\n{'function':<58} {'calls/PUT':>9} {'ms/PUT incl.':>12}")
        for label, nc, _, ct in sorted(rows, key=lambda r: -r[3]):
            if any(w in label for w in wanted):
                print(f"{label[:58]:<58} {nc / per:9.1f} {ct / per * 1000:12.3f}")
        print("\nwho runs the statements and the writes (calls and ms per PUT):")
        callers = stats.stats  # type: ignore[attr-defined]
        for (_file, _, name), (_cc, _nc, _tt, _ct, by) in callers.items():
            if name in ("<method 'execute' of 'psycopg2.extensions.cursor' objects>",
                        "<method 'executemany' of 'psycopg2.extensions.cursor' objects>",
                        "_write_atomic", "_ensure_dir"):
                print(f"  {name}:")
                for (cfile, _, cname), (_c, n, _t, ct) in sorted(by.items(),
                                                                  key=lambda i: -i[1][3]):
                    print(f"    {Path(cfile).parent.name}/{Path(cfile).name}:{cname:<28}"
                          f" {n / per:5.1f} {ct / per * 1000:8.3f}")
        print()
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
