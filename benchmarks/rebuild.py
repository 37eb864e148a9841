# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Benchmark: ``hareg rebuild-db`` over a synthetic bucket, on a local S3 (moto) or a directory.

The bucket is generated straight through the storage layout (no HTTP, to keep generation
fast) with byte-exact valid content: every blob's key is its digest, every manifest is a
valid OCI image manifest or index whose descriptors carry the right digests and sizes, links
hold the digests they name. Default size, per the issue: 1,000 repositories, 10,000 tags,
20,000 manifests (10% of them indexes over two image manifests), 50,000 blobs; ``--scale``
multiplies every count (generating the full size on moto takes a while: the figures printed
always say which size was measured).

Then the rebuild runs against a fresh database (created on the PostgreSQL server given by
``--database-url``, an admin URL, and dropped at the end), and runs again on the rebuilt
database to show what a resumed or repeated run costs.

Run: .venv/bin/python -m benchmarks.rebuild [--driver s3|filesystem] [--scale 0.1] [--jobs 8]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hareg.db.pool import Database
from hareg.rebuild import RebuildOptions, rebuild
from hareg.storage import FilesystemDriver, layout
from hareg.storage.base import StorageDriver

from .servers import moto_driver, scratch_database

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Size:
    repositories: int
    tags: int
    manifests: int
    blobs: int

    def scaled(self, factor: float) -> Size:
        return Size(*(max(1, round(n * factor)) for n in
                      (self.repositories, self.tags, self.manifests, self.blobs)))


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}


def repository_objects(index: int, size: Size, rng: random.Random
                       ) -> Iterator[tuple[str, bytes]]:
    """(key, content) of every object of one repository, blobs and links included."""
    per = size.repositories
    repo = f"team{index % 50:02d}/app-{index:05d}"
    n_blobs = size.blobs // per + (index < size.blobs % per)
    n_manifests = size.manifests // per + (index < size.manifests % per)
    n_tags = min(size.tags // per + (index < size.tags % per), n_manifests)
    blobs = []
    for i in range(n_blobs):
        if i % 3 == 0:  # a config
            data = _encode({"architecture": "amd64", "os": "linux", "rootfs": {
                "type": "layers", "diff_ids": []}, "nonce": rng.getrandbits(64)})
            blobs.append((OCI_CONFIG, data))
        else:
            blobs.append((OCI_LAYER, rng.randbytes(rng.randint(64, 512))))
        digest = _digest(blobs[-1][1])
        yield layout.blob_data(digest), blobs[-1][1]
        yield layout.layer_link(repo, digest), layout.link_content(digest)
    configs = [b for b in blobs if b[0] == OCI_CONFIG] or blobs[:1]
    layers = [b for b in blobs if b[0] == OCI_LAYER] or blobs[:1]
    images: list[bytes] = []
    manifests: list[bytes] = []
    for i in range(n_manifests):
        if i % 10 == 9 and len(images) >= 2:
            payload = _encode({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
                _descriptor(OCI_MANIFEST, m) | {"platform": {"os": "linux",
                                                            "architecture": arch}}
                for m, arch in zip(images[-2:], ("amd64", "arm64"), strict=True)]})
        else:
            config = configs[i % len(configs)]
            chosen = [layers[(i + k) % len(layers)] for k in range(2)]
            payload = _encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": _descriptor(*config),
                               "layers": [_descriptor(*layer) for layer in chosen],
                               "annotations": {"org.example.n": str(i)}})
            images.append(payload)
        manifests.append(payload)
        digest = _digest(payload)
        yield layout.blob_data(digest), payload
        yield layout.revision_link(repo, digest), layout.link_content(digest)
    for i in range(n_tags):
        digest = _digest(manifests[-1 - i])
        link = layout.link_content(digest)
        yield layout.tag_index_link(repo, f"v{i}", digest), link
        yield layout.tag_current_link(repo, f"v{i}"), link


def generate(storage: StorageDriver, size: Size, jobs: int) -> int:
    """Write the synthetic bucket; returns the number of objects written."""
    rng = random.Random(42)
    written = 0
    with ThreadPoolExecutor(jobs) as pool:
        pending = []
        for index in range(size.repositories):
            for key, data in repository_objects(index, size, rng):
                pending.append(pool.submit(storage.put_bytes, key, data))
            if len(pending) > 5000:
                for future in pending:
                    future.result()
                written += len(pending)
                pending = []
                print(f"  generated {written} objects", file=sys.stderr, end="\r")
        for future in pending:
            future.result()
        written += len(pending)
    return written


def measure(storage: StorageDriver, url: str, jobs: int) -> list[dict[str, Any]]:
    db = Database(url, size=jobs + 2)
    try:
        return [rebuild(db, storage, RebuildOptions(jobs=jobs)) for _ in range(2)]
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--driver", choices=["s3", "filesystem"], default="s3")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get(
        "HAREG_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres"),
        help="admin URL of a PostgreSQL server (a scratch database is created on it)")
    args = parser.parse_args()
    size = Size(1000, 10_000, 20_000, 50_000).scaled(args.scale)
    print(f"size: {size} (scale {args.scale}), driver {args.driver}, jobs {args.jobs}", flush=True)

    with tempfile.TemporaryDirectory(prefix="hareg-bench-") as tmp, \
            (moto_driver() if args.driver == "s3"
             else _filesystem(Path(tmp))) as storage, \
            scratch_database(args.database_url) as url:
        start = time.monotonic()
        objects = generate(storage, size, args.jobs)
        print(f"generated {objects} objects in {time.monotonic() - start:.1f} s", flush=True)
        first, second = measure(storage, url, args.jobs)
        report(first, second)


def report(first: dict[str, Any], second: dict[str, Any]) -> None:
    for label, summary in (("rebuild, empty database", first), ("run again", second)):
        rates = summary["rates"]
        counts = summary["counts"]
        print(f"{label}: {summary['duration_seconds']:.1f} s, status {summary['status']},"
              f" {summary['objects_listed']} objects listed"
              f" ({rates['objects_listed_per_second']}/s),"
              f" {summary['manifests_parsed']} manifests parsed"
              f" ({rates['manifests_parsed_per_second']}/s),"
              f" repositories {counts['repositories']}, manifests {counts['manifests']},"
              f" tags {counts['tags']}, blobs {counts['blobs']}, errors {summary['error_count']}",
              flush=True)


@contextmanager
def _filesystem(root: Path) -> Iterator[StorageDriver]:
    yield FilesystemDriver(str(root / "bucket"))


if __name__ == "__main__":
    main()
