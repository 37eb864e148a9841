# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Micro-benchmark: CPU that one manifest PUT spends parsing, worst cases included.

Why: a gevent worker runs one greenlet at a time, so the parse of a manifest holds every
other request on that worker (pulls included) for as long as it takes. The limits in
hareg/registry/formats.py bound it; this prints the CPU time of the payloads that come closest
to them (accepted or refused) next to an ordinary manifest.

Run: .venv/bin/python benchmarks/manifest_parse.py [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from hareg.registry.errors import ManifestInvalid
from hareg.registry.formats import (
    MAX_ANNOTATIONS,
    MAX_DESCRIPTORS,
    MAX_JSON_TOKENS,
    OCI_INDEX,
    OCI_MANIFEST,
    parse_manifest,
)

DIGEST = "sha256:" + "a" * 64
LIMIT = 4 * 1024 * 1024  # the default max_manifest_size


def _descriptor(i: int) -> dict[str, Any]:
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": "sha256:" + f"{i:064x}", "size": i}


def _image(layers: int = 5, annotations: int = 0) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST,
                   "size": 1},
        "layers": [_descriptor(i) for i in range(layers)],
        "annotations": {f"k{i}": "v" for i in range(annotations)},
    }).encode()


def _index(manifests: int) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [_descriptor(i) for i in range(manifests)]}).encode()


def _cases() -> dict[str, Callable[[], bytes]]:
    return {
        "ordinary image (5 layers)": _image,
        f"image, {MAX_ANNOTATIONS} annotations (the limit)":
            lambda: _image(annotations=MAX_ANNOTATIONS),
        "image, 260,000 annotations (4 MiB, issue 14)": lambda: _image(annotations=260_000),
        f"index, {MAX_DESCRIPTORS} manifests (the limit)": lambda: _index(MAX_DESCRIPTORS),
        "99% of the token limit in one array":
            lambda: _image()[:-1] + b', "x": [' + b"1," * (MAX_JSON_TOKENS - 1_000) + b"1]}",
        "array nested 100,000 deep": lambda: b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "one long string (4 MiB)":
            lambda: _image()[:-1] + b', "x": "' + b"y" * (LIMIT - 2_000) + b'"}',
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    print(f"{'payload':52} {'bytes':>9} {'CPU ms (max)':>13}  result")
    for label, make in _cases().items():
        payload = make()
        worst, result = 0.0, "accepted"
        for _ in range(args.reps):
            start = time.process_time()
            try:
                parse_manifest(payload, "")
            except ManifestInvalid as exc:
                result = f"400 {exc.message[:60]}"
            worst = max(worst, time.process_time() - start)
        print(f"{label:52} {len(payload):>9} {worst * 1000:>13.1f}  {result}")


if __name__ == "__main__":
    main()
