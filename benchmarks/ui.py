# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Benchmark: server time of the web interface's pages at 100,000 repositories and tags.

Seeds a fresh database directly in SQL (generate_series): ``--repositories`` repositories
``bench/repo-NNNNNN`` with one image manifest, one tag and one blob link each, and one
repository ``bench/big`` with ``--tags`` tags over 1,000 manifests (pushed a minute apart),
under a ``[[retention]]`` rule with ``keep_last`` and ``expire_after`` so that every tag's
verdict is computed. Then times each page in process (Flask's test client on the real
``create_app``: routing, the queries, rendering; no network), ``--reps`` times after a
warm-up, and prints p50 and p90 per page, twice: with auth off, and as an anonymous user
whose pull filter is a glob (``anonymous_pull = ["bench/repo-0*", "bench/big"]``: every
repository row is matched against it).

Run:
  .venv/bin/python -m benchmarks.ui                       # 100,000 repositories and tags
  .venv/bin/python -m benchmarks.ui --repositories 10000 --tags 10000 --reps 20
Options: --database-url ADMIN_URL (default $HAREG_TEST_DATABASE_URL or a local server).
Target (issue 12): p50 under 50 ms for the repository list and a repository page.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import psycopg2

from hareg.api.app import create_app
from hareg.config import load_config

from .servers import scratch_database

IMAGE = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
BIG_MANIFESTS = 1000


def _digest_sql(expr: str) -> str:
    return f"'sha256:' || lpad(to_hex({expr}), 64, '0')"


def _payload_sql(config: str, layer: str) -> str:
    return (
        "convert_to(json_build_object('schemaVersion', 2, 'mediaType', %(image)s,"
        f" 'config', json_build_object('mediaType', %(config)s, 'digest', {config},"
        " 'size', 1500),"
        f" 'layers', json_build_array(json_build_object('mediaType', %(layer)s, 'digest',"
        f" {layer}, 'size', 3000000))"
        ")::text, 'UTF8')")


def seed(url: str, repositories: int, tags: int) -> None:
    """Every row a push would write, made in SQL: blobs, links, manifests, references, tags."""
    args = {"image": IMAGE, "config": CONFIG, "layer": LAYER, "n": repositories,
            "tags": tags, "big": BIG_MANIFESTS}
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            # blobs: a layer per repository (id i), a config per repository (1e7 + i), the
            # manifest payloads (2e7 + i); bench/big's 1,000 manifests use 3e7 + j
            layer, config, manifest = (_digest_sql("i"), _digest_sql("10000000 + i"),
                                       _digest_sql("20000000 + i"))
            cur.execute(
                "INSERT INTO blobs (digest, size) SELECT d, s FROM generate_series(1, %(n)s) i,"
                f" LATERAL (VALUES ({layer}, 3000000), ({config}, 1500),"
                f" ({manifest}, 400)) v(d, s)", args)
            cur.execute("INSERT INTO repositories (name) SELECT 'bench/repo-' ||"
                        " lpad(i::text, 6, '0') FROM generate_series(1, %(n)s) i", args)
            cur.execute("SELECT min(id) FROM repositories")
            first = cur.fetchone()[0]
            args["first"] = first
            cur.execute(
                "INSERT INTO repository_blobs (repository_id, digest)"
                f" SELECT %(first)s + i - 1, d FROM generate_series(1, %(n)s) i,"
                f" LATERAL (VALUES ({layer}), ({config})) v(d)", args)
            cur.execute(
                "INSERT INTO manifests (repository_id, digest, media_type, artifact_type,"
                " payload)"
                f" SELECT %(first)s + i - 1, {manifest}, %(image)s, %(config)s,"
                f" {_payload_sql(config, layer)} FROM generate_series(1, %(n)s) i", args)
            cur.execute("INSERT INTO manifest_blobs (manifest_id, digest)"
                        " SELECT m.id, rb.digest FROM manifests m JOIN repository_blobs rb"
                        " ON rb.repository_id = m.repository_id")
            cur.execute("INSERT INTO tags (repository_id, name, manifest_id, updated_at)"
                        " SELECT repository_id, 'latest', id, now() - (id % 1000) * interval"
                        " '1 hour' FROM manifests")
            # bench/big: 1,000 manifests, --tags tags a minute apart
            cur.execute("INSERT INTO repositories (name) VALUES ('bench/big') RETURNING id")
            args["big_id"] = cur.fetchone()[0]
            big_layer, big_config, big_manifest = (
                _digest_sql("30000000 + i"), _digest_sql("40000000 + i"),
                _digest_sql("50000000 + i"))
            cur.execute(
                "INSERT INTO blobs (digest, size) SELECT d, s FROM generate_series(1, %(big)s) i,"
                f" LATERAL (VALUES ({big_layer}, 3000000), ({big_config}, 1500),"
                f" ({big_manifest}, 400)) v(d, s)", args)
            cur.execute(
                "INSERT INTO repository_blobs (repository_id, digest) SELECT %(big_id)s, d"
                " FROM generate_series(1, %(big)s) i,"
                f" LATERAL (VALUES ({big_layer}), ({big_config})) v(d)", args)
            cur.execute(
                "INSERT INTO manifests (repository_id, digest, media_type, artifact_type,"
                f" payload) SELECT %(big_id)s, {big_manifest}, %(image)s, %(config)s,"
                f" {_payload_sql(big_config, big_layer)}"
                " FROM generate_series(1, %(big)s) i", args)
            cur.execute(
                "INSERT INTO tags (repository_id, name, manifest_id, updated_at)"
                " SELECT %(big_id)s, 't-' || lpad(i::text, 6, '0'), m.id,"
                " now() - i * interval '1 minute' FROM generate_series(1, %(tags)s) i"
                " JOIN manifests m ON m.repository_id = %(big_id)s"
                f" AND m.digest = {_digest_sql('30000000 + 20000000 + 1 + i %% %(big)s')}",
                args)
    finally:
        conn.close()
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")  # as autovacuum would have, long before
    finally:
        conn.close()


def _config(root: Path, url: str, auth: bool) -> Path:
    text = (f'[server]\ndata_dir = "{root / "data"}"\n'
            f'[database]\nurl = "{url}"\n'
            f'[storage]\ndriver = "filesystem"\nroot = "{root / "storage"}"\n'
            f'[ui]\nsecret = "{"b" * 40}"\n'
            '[[retention]]\nrepository = "bench/**"\nkeep_last = 10\nexpire_after = "30d"\n'
            'protect = "t-00000[1-5]"\n')
    if auth:
        htpasswd = root / "htpasswd"
        htpasswd.write_text("")
        text += (f'[auth]\nmode = "basic"\nhtpasswd = "{htpasswd}"\n'
                 'anonymous_pull = ["bench/repo-0*", "bench/big"]\n')
    path = root / ("auth.toml" if auth else "open.toml")
    path.write_text(text)
    return path


PAGES = {
    "repository list, first page": "/ui/",
    "repository list, page at 50%": "/ui/?after=bench/repo-050000",
    "repository list, search 'repo-0999'": "/ui/?q=repo-0999",
    "repository page (100,000 tags), first": "/ui/r/bench/big",
    "repository page (100,000 tags), at 50%": "/ui/r/bench/big?after=t-050000",
    "repository page (1 tag)": "/ui/r/bench/repo-000042",
    "manifest page": None,  # filled in: a manifest of bench/big
    "promotions": "/ui/promotions",
}


def measure(config_path: Path, reps: int) -> dict[str, tuple[float, float]]:
    app = create_app(load_config(config_path, env={}))
    client = app.test_client()
    pages = dict(PAGES)
    digest = "sha256:" + format(30000000 + 20000000 + 1, "064x")
    pages["manifest page"] = f"/ui/r/bench/big/-/manifests/{digest}"
    out = {}
    try:
        for label, url in pages.items():
            assert url is not None
            times = []
            for i in range(reps + 3):
                start = time.perf_counter()
                resp = client.get(url)
                elapsed = time.perf_counter() - start
                assert resp.status_code == 200, (url, resp.status_code)
                if i >= 3:
                    times.append(elapsed * 1000)
            times.sort()
            out[label] = (statistics.median(times), times[int(len(times) * 0.9) - 1])
    finally:
        app.extensions["hareg"].db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repositories", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get(
        "HAREG_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--reuse", metavar="URL",
                        help="a database this benchmark seeded before: measure only")
    opts = parser.parse_args()
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="hareg-bench-ui-"))
        url = opts.reuse
        if url is None:
            url = stack.enter_context(scratch_database(opts.database_url, "hareg_bench_ui"))
            start = time.perf_counter()
            seed(url, opts.repositories, opts.tags)
            print(f"seeded {opts.repositories:,} repositories and {opts.tags:,} tags of"
                  f" bench/big in {time.perf_counter() - start:.1f} s")
        for auth in (False, True):
            results = measure(_config(Path(work), url, auth), opts.reps)
            print(f"\n{'anonymous, pull filter bench/repo-0* + bench/big' if auth else 'auth off'}"
                  f" ({opts.reps} requests each, server time in process)")
            print(f"  {'page':44} {'p50 ms':>8} {'p90 ms':>8}")
            for label, (p50, p90) in results.items():
                print(f"  {label:44} {p50:8.1f} {p90:8.1f}")


if __name__ == "__main__":
    main()
