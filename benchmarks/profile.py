# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Profile hareg's workers with py-spy while one benchmark operation runs in a loop.

``python -m benchmarks.profile OPERATION [--storage filesystem|s3] [--seconds 10]
[--concurrency N] [--out DIR]``

Starts hareg as the benchmark does, prepares what the operation needs, then repeats the
operation for ``--seconds`` while ``py-spy record --subprocesses`` samples the master and its
workers (``pip install py-spy`` into the venv). Writes a flame graph (SVG) and the collapsed
stacks, and prints the functions with the most samples: inclusive (the function or anything it
calls) and self (the function's own code). Operations: see ``OPERATIONS``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path

from . import ops as o
from .httpclient import Op, run_ops
from .servers import Hareg, Moto, Postgres, Server, StorageSpec

MIB = 1024 * 1024


def _prepare(server: Server, name: str, content: o.Content) -> tuple[list[Op], int]:
    """Return the operations to loop over and the default concurrency."""
    repo = "profile/repo"

    def setup(ops: list[Op], concurrency: int = 8) -> None:
        res = run_ops(server.host, server.port, ops, concurrency)
        if res.errors:
            raise RuntimeError(f"setup failed: {res.error_samples}")

    config = content.blob(1500, "config")
    layers = [content.blob(4096, f"layer{i}") for i in range(3)]
    setup([partial(o.push_monolithic, repo=repo, blob=x) for x in (config, *layers)])
    if name in ("push-large", "pull-large", "push-small", "pull-small", "push-chunked"):
        size = 64 * MIB if "large" in name or "chunked" in name else MIB
        blobs = [content.blob(size, f"{name}{i}") for i in range(8 if size > MIB else 64)]
        if name.startswith("pull"):
            setup([partial(o.push_monolithic, repo=repo, blob=x) for x in blobs])
            return [partial(o.pull_blob, repo=repo, blob=x) for x in blobs], 2
        if name == "push-chunked":
            return [partial(o.push_chunked, repo=repo, blob=x, chunk=5 * MIB) for x in blobs], 1
        return [partial(o.push_monolithic, repo=repo, blob=x) for x in blobs], 2 if \
            size > MIB else 8
    mans = [o.image_manifest(config, layers, f"m{i}") for i in range(500)]
    if name == "manifest-put":
        return [partial(o.put_manifest, repo=repo, ref=f"t{i}", m=m)
                for i, m in enumerate(mans)], 16
    setup([partial(o.put_manifest, repo=repo, ref=f"t{i}", m=m) for i, m in enumerate(mans)], 16)
    if name == "manifest-get-tag":
        return [partial(o.get_manifest, repo=repo, ref=f"t{i}", m=m)
                for i, m in enumerate(mans)], 16
    if name == "manifest-get-digest":
        return [partial(o.get_manifest, repo=repo, ref=m.digest, m=m) for m in mans], 16
    if name == "manifest-head":
        return [partial(o.head_manifest, repo=repo, ref=f"t{i}", m=m)
                for i, m in enumerate(mans)], 16
    if name in ("tags-list", "tags-walk"):
        man = mans[0]
        tags = sorted(f"v{i:05d}" for i in range(2000))
        setup([partial(o.put_manifest, repo=repo, ref=t, m=man) for t in tags], 8)
        expected = sorted([*tags, *(f"t{i}" for i in range(500))])
        n = None if name == "tags-list" else 100
        return [partial(o.list_tags, repo=repo, n=n, expected=expected)] * 20, 1
    if name == "catalog":
        repos = [f"profile/cat/r{i:04d}" for i in range(500)]
        setup([partial(o.mount_blob, repo=r, source=repo, blob=config) for r in repos])
        return [partial(o.walk_catalog, n=100, expected=repos)] * 5, 1
    if name == "referrers":
        empty = o.Blob(o.sha256_digest(b"{}"), 2, b"{}")
        setup([partial(o.push_monolithic, repo=repo, blob=empty)], 1)
        subject = mans[0]
        arts = [o.image_manifest(empty, [empty], f"r{i}", artifact_type="application/x.a",
                                 subject=subject, config_type=o.OCI_EMPTY) for i in range(200)]
        setup([partial(o.put_manifest, repo=repo, ref=a.digest, m=a) for a in arts])
        every = {a.digest for a in arts}
        return [partial(o.get_referrers, repo=repo, subject=subject, artifact_type=None,
                        expected=every)] * 50, 1
    raise SystemExit(f"unknown operation {name!r}; choose from {', '.join(OPERATIONS)}")


OPERATIONS = ("push-large", "pull-large", "push-small", "pull-small", "push-chunked",
              "manifest-put", "manifest-get-tag", "manifest-get-digest", "manifest-head",
              "tags-list", "tags-walk", "catalog", "referrers")


def top_functions(collapsed: Path, limit: int = 25) -> str:
    """Summarize py-spy's collapsed stacks: inclusive and self sample counts per function."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"-- {title}")
        for frame, count in counter.most_common(limit):
            lines.append(f"{100 * count / total:5.1f}%  {frame[:150]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("operation", choices=OPERATIONS)
    parser.add_argument("--storage", choices=("filesystem", "s3"), default="filesystem")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=Path("profile-out"))
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hareg-profile-", dir="/var/tmp"))
    pg = Postgres(args.database)
    moto = None
    server = None
    try:
        if args.storage == "s3":
            moto = Moto(work)
            moto.start()
        server = Hareg(work / "hareg", StorageSpec(args.storage, work / "storage", moto), pg,
                       args.workers)
        server.start()
        operations, concurrency = _prepare(server, args.operation, o.Content(64 * MIB))
        concurrency = args.concurrency or concurrency
        stop = threading.Event()
        done = Counter()

        def loop(server: Server = server) -> None:
            while not stop.is_set():
                res = run_ops(server.host, server.port, operations, concurrency)
                done["ops"] += res.ops
                done["errors"] += res.errors
                done["bytes"] += res.payload_bytes

        base = args.out / f"{args.operation}-{args.storage}"
        runner = threading.Thread(target=loop, daemon=True)
        runner.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        subprocess.run([py_spy, "record", "--subprocesses", "--nonblocking", "-r",
                        str(args.rate), "-d", str(args.seconds), "-f", "raw", "-o",
                        f"{base}.txt", "-p", str(server.pids()[0])],
                       check=True, capture_output=True)
        elapsed = time.perf_counter() - t0
        stop.set()
        runner.join()
        print(f"{args.operation} on {args.storage}: {done['ops']} ops, {done['errors']} errors, "
              f"{done['bytes'] / MIB:.0f} MiB in about {elapsed:.1f} s (profiled)")
        print(top_functions(Path(str(base) + ".txt")))
        print(f"collapsed stacks: {base}.txt (flamegraph.pl or speedscope.app read them)")
    finally:
        if server is not None:
            server.stop()
        if moto is not None:
            moto.stop()
        pg.drop_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

