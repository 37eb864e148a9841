# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Micro-benchmark: hashlib vs hareg's ResumableHash, plus save/restore cost.

Why: every chunked upload byte goes through ResumableHash, so its throughput
must stay close to hashlib's (the ctypes path is meant to add only a per-call
overhead, not a per-byte one), and the state round trip runs on every PATCH.

Run: .venv/bin/python benchmarks/hashing.py [--mib 256] [--chunk-kib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

from hareg.registry.hashing import SUPPORTED_ALGORITHMS, ResumableHash


def _throughput(make_hasher: Callable[[], Any], chunk: bytes | bytearray, count: int) -> float:
    """MB/s (10**6 bytes) for ``count`` updates of ``chunk``; best of 3 runs."""
    best = float("inf")
    for _ in range(3):
        hasher = make_hasher()
        start = time.perf_counter()
        for _ in range(count):
            hasher.update(chunk)
        hasher.hexdigest()
        best = min(best, time.perf_counter() - start)
    return len(chunk) * count / best / 1e6


def _state_roundtrip_us(algorithm: str, rounds: int = 20_000) -> tuple[float, float]:
    """Microseconds per ``state()`` and per ``ResumableHash(algorithm, state)``."""
    hasher = ResumableHash(algorithm)
    hasher.update(os.urandom(1000))
    start = time.perf_counter()
    for _ in range(rounds):
        state = hasher.state()
    save = (time.perf_counter() - start) / rounds * 1e6
    start = time.perf_counter()
    for _ in range(rounds):
        ResumableHash(algorithm, state)
    restore = (time.perf_counter() - start) / rounds * 1e6
    return save, restore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="data hashed per run (MiB)")
    parser.add_argument("--chunk-kib", type=int, default=1024, help="size of each update (KiB)")
    args = parser.parse_args()
    chunk = os.urandom(args.chunk_kib * 1024)
    count = args.mib * 1024 // args.chunk_kib
    writable = bytearray(chunk)
    print(f"{args.mib} MiB in {args.chunk_kib} KiB updates, best of 3")
    for algorithm in sorted(SUPPORTED_ALGORITHMS):
        ref = _throughput(lambda a=algorithm: hashlib.new(a), chunk, count)
        res = _throughput(lambda a=algorithm: ResumableHash(a), chunk, count)
        res_rw = _throughput(lambda a=algorithm: ResumableHash(a), writable, count)
        save, restore = _state_roundtrip_us(algorithm)
        print(
            f"{algorithm}: hashlib {ref:7.0f} MB/s | ResumableHash bytes {res:7.0f} MB/s"
            f" ({res / ref:.0%}), bytearray {res_rw:7.0f} MB/s"
            f" | state() {save:.1f} us, restore {restore:.1f} us"
        )


if __name__ == "__main__":
    main()
