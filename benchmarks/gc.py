# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Benchmark: one garbage collection sweep over a large synthetic registry.

Seeds a fresh database directly (COPY) and the storage with matching small objects, then
times a dry run (the mark phase alone) and a real sweep, and prints the figures the issue
asks for: duration, rows/s, objects/s, and the longest time the sweep held any BLOB/TAG
advisory lock (measured by the sweep itself, from before its try-lock statement to after its
unlock statement: an upper bound of how long a push of one of those digests could wait).

Default size (the issue's): 100,000 blobs and 20,000 manifests in 100 repositories, half of
the manifests garbage (untagged and old):

- manifest i references its own config and three layers; the even ones are tagged;
- odd manifests share their third layer with the even one before them, so 10% of the blobs
  a garbage manifest references must survive it; the layers this frees are unreferenced
  blobs without links (garbage for the blob phase alone);
- every manifest payload is a blob too (as in a real registry).

That is 20,000 payloads + 20,000 configs + 60,000 layers = 100,000 blobs, 80,000 links,
80,000 manifest references, 10,000 tags, and 210,000 objects. ``--scale`` multiplies all.

Run:
  .venv/bin/python -m benchmarks.gc                                 # filesystem, full size
  .venv/bin/python -m benchmarks.gc --driver s3 --scale 0.1         # moto: 10,000 blobs
Options: --database-url ADMIN_URL (default $HAREG_TEST_DATABASE_URL or a local server),
--batch N ([gc] batch_size), --jobs N (seeding threads).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from hareg.config import GcConfig, RegistryConfig
from hareg.db.pool import Database
from hareg.gc.collect import collect_garbage
from hareg.registry.context import Registry
from hareg.storage import FilesystemDriver, layout
from hareg.storage.base import StorageDriver

from .servers import moto_driver, scratch_database

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Seed:
    """The synthetic registry: rows (as COPY text) and objects (key -> bytes)."""

    def __init__(self, manifests: int, repositories: int) -> None:
        self.n = manifests - manifests % 2
        self.repos = max(1, repositories)
        self.layer = [_digest(f"layer-{i}".encode()) for i in range(3 * self.n)]
        self.config = [_digest(f"config-{i}".encode()) for i in range(self.n)]
        self.payload: list[bytes] = []
        self.refs: list[list[str]] = []
        for i in range(self.n):
            layers = self.layer[3 * i: 3 * i + 3]
            if i % 2:  # garbage: shares its last layer with the kept manifest before it
                layers = [layers[0], layers[1], self.layer[3 * (i - 1) + 2]]
            refs = [self.config[i], *layers]
            doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                              "digest": refs[0], "size": 100},
                   "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                               "digest": d, "size": 100} for d in refs[1:]]}
            self.payload.append(json.dumps(doc, separators=(",", ":")).encode())
            self.refs.append(refs)
        self.digest = [_digest(p) for p in self.payload]

    def repo(self, i: int) -> str:
        return f"bench/repo-{i % self.repos}"

    @property
    def blob_count(self) -> int:
        return 5 * self.n

    def objects(self) -> Iterator[tuple[str, bytes]]:
        for d in (*self.layer, *self.config):
            yield layout.blob_data(d), d.encode()
        for i in range(self.n):
            repo = self.repo(i)
            yield layout.blob_data(self.digest[i]), self.payload[i]
            yield layout.revision_link(repo, self.digest[i]), layout.link_content(self.digest[i])
            for d in self.refs[i]:
                yield layout.layer_link(repo, d), layout.link_content(d)
            if i % 2 == 0:
                yield (layout.tag_current_link(repo, f"t{i}"),
                       layout.link_content(self.digest[i]))

    def copy_rows(self, url: str) -> None:
        old = "2026-01-01 00:00:00+00"
        conn = psycopg2.connect(url)
        try:
            with conn, conn.cursor() as cur:
                def copy(table: str, columns: str, rows: Iterator[str]) -> None:
                    buf = io.StringIO("".join(rows))
                    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buf)

                copy("repositories", "id, name, created_at",
                     (f"{r + 1}\tbench/repo-{r}\t{old}\n" for r in range(self.repos)))
                blobs = [*self.layer, *self.config, *self.digest]
                copy("blobs", "digest, size, created_at", (f"{d}\t100\t{old}\n" for d in blobs))
                copy("manifests", "id, repository_id, digest, media_type, payload, created_at",
                     (f"{i + 1}\t{i % self.repos + 1}\t{self.digest[i]}\t{OCI_MANIFEST}\t"
                      f"\\\\x{self.payload[i].hex()}\t{old}\n" for i in range(self.n)))
                links = {(i % self.repos + 1, d) for i in range(self.n) for d in self.refs[i]}
                copy("repository_blobs", "repository_id, digest, created_at",
                     (f"{r}\t{d}\t{old}\n" for r, d in sorted(links)))
                copy("manifest_blobs", "manifest_id, digest",
                     (f"{i + 1}\t{d}\n" for i in range(self.n) for d in self.refs[i]))
                copy("tags", "repository_id, name, manifest_id, updated_at",
                     (f"{i % self.repos + 1}\tt{i}\t{i + 1}\t{old}\n"
                      for i in range(0, self.n, 2)))
                for table in ("repositories", "manifests"):
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                f" (SELECT max(id) FROM {table}))")
                cur.execute("ANALYZE")
        finally:
            conn.close()


def write_objects(storage: StorageDriver, seed: Seed, jobs: int) -> int:
    if isinstance(storage, FilesystemDriver):  # plain writes: seeding need not be durable
        count = 0
        for key, data in seed.objects():
            path = Path(storage.root, *key.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            count += 1
        return count
    items = list(seed.objects())
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda kv: storage.put_bytes(*kv), items, chunksize=64))
    return len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--driver", choices=("filesystem", "s3"), default="filesystem")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repositories", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get(
        "HAREG_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    seed = Seed(round(20_000 * args.scale), args.repositories)
    tmp = Path(tempfile.mkdtemp(prefix="hareg-bench-gc-"))
    storage_cm = (moto_driver("bench-gc") if args.driver == "s3" else _filesystem(tmp))
    try:
        with scratch_database(args.database_url, "hareg_bench_gc") as url, storage_cm as storage:
            t0 = time.monotonic()
            seed.copy_rows(url)
            objects = write_objects(storage, seed, args.jobs)
            print(f"seeded {seed.blob_count:,} blobs, {seed.n:,} manifests, {objects:,} objects"
                  f" ({args.driver}) in {time.monotonic() - t0:.1f} s", flush=True)
            reg = Registry(db=Database(url, size=4), storage=storage,
                           settings=RegistryConfig())
            gc = GcConfig(grace_period="1h", batch_size=args.batch)
            t0 = time.monotonic()
            plan = collect_garbage(reg, gc, dry_run=True).plan
            mark = time.monotonic() - t0
            assert plan is not None
            print(f"mark (dry run): {mark:.2f} s -> {len(plan.manifests):,} manifests,"
                  f" {len(plan.links):,} links, {len(plan.blobs):,} blobs", flush=True)
            summary = collect_garbage(reg, gc).summary
            assert summary is not None
            c = summary.counts
            rows = c.manifests + c.links + c.blobs + c.tags + c.uploads + c.repositories
            objects_deleted = c.manifests + c.links + c.blobs
            report = {
                "driver": args.driver, "blobs": seed.blob_count, "manifests": seed.n,
                "batch": args.batch, "sweep_s": round(summary.duration_s, 2),
                "mark_s": round(mark, 2), "deleted_manifests": c.manifests,
                "deleted_links": c.links, "deleted_blobs": c.blobs,
                "rows_per_s": round(rows / summary.duration_s),
                "objects_per_s": round(objects_deleted / summary.duration_s),
                "max_lock_hold_ms": round(summary.max_lock_hold_ms, 1),
                "p50_lock_hold_ms": round(summary.p50_lock_hold_ms, 1),
                "p99_lock_hold_ms": round(summary.p99_lock_hold_ms, 1),
                "lock_batches": summary.lock_batches, "skipped": c.skipped,
            }
            print(json.dumps(report))
            with reg.db.read() as cur:
                cur.execute("SELECT (SELECT count(*) FROM manifests), (SELECT count(*) FROM blobs)")
                left_manifests, left_blobs = cur.fetchone()
            assert left_manifests == seed.n // 2, left_manifests
            assert left_blobs == seed.blob_count // 2, left_blobs
            reg.db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _filesystem(root: Path) -> Iterator[StorageDriver]:
    yield FilesystemDriver(str(root / "storage"))


if __name__ == "__main__":
    main()
