# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The limit (issue 11, target 6): what this machine does without a registry, on the rows of
the ``blobs`` scenario (same sizes, counts and concurrency; fresh blobs).

- pull: nginx (Debian's, started here on a loopback port with a generated configuration,
  ``sendfile on``, as many workers as cores) serves the blob files from a directory in the
  work directory, under the same URL and with the same ``Docker-Content-Digest`` header, so
  the benchmark client fetches and compares them exactly as it does from the registries.
- push: the bytes hashed (SHA-256) and written to a new file in 1 MiB writes, fsynced,
  renamed into place and the directory fsynced: what a registry must do at least before it
  answers 201 (in this process, ``c`` threads at once; hashlib and os.write release the GIL).
  A second figure, ``tee < blob > file | sha256sum`` then ``sync file`` (coreutils, hashing
  and writing in two processes), is in the notes.

The "limit" table shows hareg and distribution as a fraction of these figures.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from . import ops as o
from .bench import LIMIT, MIB, Bench, Row
from .servers import Server, Usage, cpu_seconds

NGINX = "/usr/sbin/nginx"


class Nginx(Server):
    """nginx serving ``root/<digest>`` at ``/v2/<repo>/blobs/<digest>``."""

    name = "nginx"

    def __init__(self, work: Path, root: Path, workers: int) -> None:
        super().__init__(work)
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.config_path = work / "nginx.conf"
        temp = work / "temp"
        temp.mkdir(exist_ok=True)
        user = pwd.getpwuid(os.geteuid()).pw_name  # as root, workers would be "nobody"
        self.config_path.write_text(f"""\
worker_processes {workers};
user {user};
pid {work}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    default_type application/octet-stream;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        location = /v2/ {{ return 200 "{{}}"; }}
        location ~ "^/v2/.+/blobs/(sha256:[0-9a-f]{{64}})$" {{
            alias {root}/$1;
            add_header Docker-Content-Digest $1;
        }}
    }}
}}
""")

    def command(self) -> list[str]:
        return [NGINX, "-e", "stderr", "-p", str(self.work), "-c", str(self.config_path),
                "-g", "daemon off;"]


def hash_write(blob: o.Blob, directory: Path) -> int:
    """SHA-256 and a durable write of ``blob`` (1 MiB writes, fsync, rename, directory
    fsync), as a registry stores a pushed blob; raises if the digest differs."""
    hasher = hashlib.sha256()
    tmp = directory / f".tmp-{blob.digest[7:]}"
    view = memoryview(blob.data)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        for start in range(0, blob.size, MIB):
            chunk = view[start:start + MIB]
            hasher.update(chunk)
            written = 0
            while written < len(chunk):
                written += os.write(fd, chunk[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    if "sha256:" + hasher.hexdigest() != blob.digest:
        raise RuntimeError(f"hash of {blob.digest} differs")
    os.rename(tmp, directory / blob.digest)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return blob.size


def coreutils_write(source: Path, directory: Path, digest: str) -> int:
    """``tee < source > file | sha256sum`` then ``sync file`` (fsync)."""
    target = directory / f"cu-{digest[7:]}"
    out = subprocess.run(["bash", "-c", 'tee < "$1" "$2" | sha256sum && sync "$2"', "-",
                          str(source), str(target)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    if "sha256:" + out.split()[0] != digest:
        raise RuntimeError(f"sha256sum of {digest} differs")
    return source.stat().st_size


def _threads(tasks: list[partial[int]], conc: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=conc) as pool:
        for f in [pool.submit(t) for t in tasks]:
            f.result()
    return time.perf_counter() - t0


def bench_limits(b: Bench) -> None:
    s = b.sizes
    work = Path(b.work) / "limits"
    nginx = Nginx(work / "nginx", work / "nginx-root", len(os.sched_getaffinity(0)))
    disk = work / "disk"
    disk.mkdir(parents=True)
    nginx.start()
    # A Bench of its own: its one server is named LIMIT, its rows are the blobs rows' keys.
    lim = Bench({LIMIT: nginx}, None, s, b.procs, content=b.content)
    try:
        for size, count in (s.small, s.large):
            label = f"{size // MIB} MiB x {count}"
            for conc in (1, 8):
                pull = Row(f"pull {label} c{conc}", "MiB/s")
                push = Row(f"push {label} c{conc}", "MiB/s")
                for rep in range(s.reps):
                    blobs = [b.content.blob(size, f"limit/{label}/{conc}/{rep}")
                             for _ in range(count)]
                    for blob in blobs:
                        (nginx.root / blob.digest).write_bytes(blob.data)
                    lim.measure(pull, nginx, rep,
                                [partial(o.pull_blob, repo="bench/limit", blob=x)
                                 for x in blobs], conc)
                    _push_limit(lim, push, rep, blobs, disk, conc)
                    for blob in blobs:
                        (nginx.root / blob.digest).unlink()
                        (disk / blob.digest).unlink(missing_ok=True)
                    del blobs
    finally:
        nginx.stop()
        for key, row in lim.rows.items():
            b.rows.setdefault(key, row)
        b.samples += lim.samples


def _push_limit(lim: Bench, row: Row, rep: int, blobs: list[o.Blob], disk: Path,
                conc: int) -> None:
    pid = os.getpid()
    cpu0 = cpu_seconds(pid)
    errors: list[str] = []
    wall = 0.0
    try:
        wall = _threads([partial(hash_write, x, disk) for x in blobs], conc)
    except (OSError, RuntimeError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    cpu = cpu_seconds(pid) - cpu0
    total = sum(x.size for x in blobs)
    extra = {}
    # coreutils, from files in the page cache (written untimed first)
    sources = []
    for x in blobs:
        src = disk / f"src-{x.digest[7:]}"
        src.write_bytes(x.data)
        sources.append(src)
    try:
        cu_wall = _threads([partial(coreutils_write, src, disk, x.digest)
                                  for src, x in zip(sources, blobs, strict=True)], conc)
        extra["coreutils_mib_s"] = round(total / MIB / cu_wall, 1)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        errors.append(f"coreutils: {type(exc).__name__}: {exc}")
    for x, src in zip(blobs, sources, strict=True):
        src.unlink(missing_ok=True)
        (disk / f"cu-{x.digest[7:]}").unlink(missing_ok=True)
    # The work is this process's own: its CPU is the "server" CPU of the limit.
    lim.record(row, LIMIT, rep, total / MIB / wall if wall else None, wall,
               Usage(cpu=cpu), errors=errors, payload_bytes=total, ops=len(blobs),
               extra=extra)
