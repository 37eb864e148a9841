# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""hareg against CNCF distribution, on the same machine and the same kind of storage.

``python -m benchmarks.run --storage filesystem|s3|both --out results.json [--quick]``

``--storage both`` runs the filesystem, then S3 (results in ``results-filesystem.json`` and
``results-s3.json``), trimmed to end within 15 minutes on 2 cores: see :func:`sizes_for` and
``BOTH_GROUPS_SKIPPED``.

Starts on loopback ports: hareg as ``hareg serve`` runs it (gunicorn, gevent workers, one per
core) on a fresh PostgreSQL database, and distribution (``docker-registry serve``) with the
same kind of storage (a directory each, or one bucket each on the same moto server). Every
scenario runs against both, alternating which goes first, ``--reps`` times; the table shows
medians. Each operation verifies what it receives; a scenario with errors shows the errors
instead of a figure. Besides speed, each run records the servers' CPU seconds and peak RSS
(master + workers, from /proc), hareg's PostgreSQL backend CPU, the client's own CPU, and on S3
the S3 calls (from moto's request log) and moto's CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from . import concurrency, gevent_check, images, limits, scale_rows
from . import ops as o
from .bench import DIST, FULL, FULL_S3, HAREG, LIMIT, MIB, QUICK, Bench, Row, Sizes
from .servers import Distribution, Hareg, Moto, Postgres, Server, StorageSpec

# ------------------------------------------------------------------------ scenarios


def bench_catalog(b: Bench) -> None:
    """_catalog over N repositories (each made by mounting one tiny blob), paginated n=100."""
    n = b.sizes.repos
    seed = b.content.blob(512, "catalog")
    repos = [f"bench/catalog/r{i:04d}" for i in range(n)]
    for server in b.servers.values():
        b.setup(server, "catalog seed", [partial(o.push_monolithic, repo="bench/catalog-src",
                                                 blob=seed)], 1)
        b.setup(server, "catalog repos",
                [partial(o.mount_blob, repo=r, source="bench/catalog-src", blob=seed)
                 for r in repos], 16)
    row = Row(f"_catalog walk {n} repos, n=100", "ms", target="ratio>=10")
    for rep in range(b.sizes.reps):
        for server in b.order(rep):
            stats: dict[str, int] = {}
            b.measure(row, server, rep,
                      [partial(o.walk_catalog, n=100, expected=repos, stats=stats)]
                      * b.sizes.walk_ops, 1, {"pages": stats})


def bench_blobs(b: Bench) -> None:
    """Monolithic push (POST + one PUT) then pull, fresh blobs every repetition."""
    for size, count in (b.sizes.small, b.sizes.large):
        label = f"{size // MIB} MiB x {count}"
        for conc in (1, 8):
            push = Row(f"push {label} c{conc}", "MiB/s", target="ratio>=1")
            pull = Row(f"pull {label} c{conc}", "MiB/s", target="ratio>=1")
            if count < conc:
                push.note = pull.note = f"only {count} blobs: effective concurrency {count}"
            for rep in range(b.sizes.reps):
                blobs = [b.content.blob(size, f"{label}/{conc}/{rep}") for _ in range(count)]
                repo = f"bench/blobs-{size // MIB}m-c{conc}-r{rep}"
                pushed: dict[str, list[int]] = {}
                for server in b.order(rep):
                    push_ops = [partial(o.push_monolithic, repo=repo, blob=x) for x in blobs]
                    sample = b.measure(push, server, rep, push_ops, conc)
                    if sample is not None:
                        pushed[b.name_of(server)] = sample.done
                    elif not b.over_budget(pull, server):
                        b.setup(server, "blobs to pull", push_ops, conc)
                        pushed[b.name_of(server)] = list(range(count))
                for server in b.order(rep + 1):
                    done = pushed.get(b.name_of(server))
                    if done:
                        b.measure(pull, server, rep,
                                  [partial(o.pull_blob, repo=repo, blob=blobs[i]) for i in done],
                                  conc)
                del blobs


def bench_chunked(b: Bench) -> None:
    size, count, chunk = b.sizes.chunked
    row = Row(f"chunked push {size // MIB} MiB x {count} ({chunk // MIB} MiB PATCH) c1", "MiB/s",
              target="ratio>=1")
    for rep in range(b.sizes.reps):
        blobs = [b.content.blob(size, f"chunked/{rep}") for _ in range(count)]
        for server in b.order(rep):
            b.measure(row, server, rep, [partial(o.push_chunked, repo=f"bench/chunked-r{rep}",
                                                 blob=x, chunk=chunk) for x in blobs], 1)


def _image_blobs(b: Bench, label: str) -> tuple[o.Blob, list[o.Blob]]:
    config = b.content.blob(1500, f"{label}/config")
    layers = [b.content.blob(4096, f"{label}/layer{i}") for i in range(3)]
    return config, layers


def _push_image_blobs(b: Bench, server: Server, repo: str, blobs: list[o.Blob]) -> None:
    b.setup(server, f"blobs of {repo}",
            [partial(o.push_monolithic, repo=repo, blob=x) for x in blobs], 4)


def bench_manifests(b: Bench) -> None:
    """PUT (with a tag), GET by tag, GET by digest, HEAD by tag; N manifests, c1 and c16."""
    n = b.sizes.manifests
    again = (f"each of the {n} manifests {b.sizes.get_passes} times"
             if b.sizes.get_passes > 1 else "")
    for conc in (1, 16):
        rows = {
            "put": Row(f"manifest PUT c{conc}", "req/s", note=f"{n} manifests, one tag each"),
            "get_tag": Row(f"manifest GET by tag c{conc}", "req/s",
                           target="ratio>=1" if conc == 16 else "", note=again),
            "get_digest": Row(f"manifest GET by digest c{conc}", "req/s",
                              target="ratio>=1" if conc == 16 else "", note=again),
            "head": Row(f"manifest HEAD by tag c{conc}", "req/s",
                        target="ratio>=1" if conc == 16 else "", note=again),
        }
        for rep in range(b.sizes.reps):
            config, layers = _image_blobs(b, f"manifests/{conc}/{rep}")
            mans = [o.image_manifest(config, layers, f"{conc}/{rep}/{i}") for i in range(n)]
            repo = f"bench/manifests-c{conc}-r{rep}"
            for server in b.servers.values():
                _push_image_blobs(b, server, repo, [config, *layers])
            stored: dict[str, list[int]] = {}
            for server in b.order(rep):
                put_ops = [partial(o.put_manifest, repo=repo, ref=f"t{i}", m=m)
                           for i, m in enumerate(mans)]
                sample = b.measure(rows["put"], server, rep, put_ops, conc)
                if sample is None:  # over budget: store them all, untimed
                    b.setup(server, "manifests", put_ops, conc)
                    stored[b.name_of(server)] = list(range(n))
                else:
                    stored[b.name_of(server)] = sample.done
            for key, fn, by_tag in (("get_tag", o.get_manifest, True),
                                    ("get_digest", o.get_manifest, False),
                                    ("head", o.head_manifest, True)):
                for server in b.order(rep):
                    b.measure(rows[key], server, rep,
                              [partial(fn, repo=repo, ref=f"t{i}" if by_tag else mans[i].digest,
                                       m=mans[i])
                               for _ in range(b.sizes.get_passes)
                               for i in stored[b.name_of(server)]], conc)


def bench_tags(b: Bench) -> None:
    n = b.sizes.tags
    repo = "bench/tags"
    config, layers = _image_blobs(b, "tags")
    man = o.image_manifest(config, layers, "tags")
    tags = sorted(f"v{i:05d}" for i in range(n))
    for server in b.servers.values():
        _push_image_blobs(b, server, repo, [config, *layers])
        b.setup(server, "tags", [partial(o.put_manifest, repo=repo, ref=t, m=man) for t in tags],
                16)
    whole = Row(f"tags/list {n} tags, whole", "ms", target="ratio>=10")
    paged = Row(f"tags/list {n} tags, walk n=100", "ms", target="ratio>=10",
                note="distribution 2.8 ignores n: it answers all tags in one page")
    for rep in range(b.sizes.reps):
        for server in b.order(rep):
            b.measure(whole, server, rep, [partial(o.list_tags, repo=repo, n=None,
                                                   expected=tags)] * b.sizes.list_ops, 1)
        for server in b.order(rep + 1):
            stats: dict[str, int] = {}
            b.measure(paged, server, rep,
                      [partial(o.list_tags, repo=repo, n=100, expected=tags, stats=stats)]
                      * b.sizes.walk_ops, 1, {"pages": stats})


def bench_scale(b: Bench) -> None:
    """Listings where they matter: a repository with many tags and a catalog walk, in a
    registry that also holds a repository with many manifests (both servers, loaded through
    the API); then hareg alone, rows generated in SQL, at each size of ``curve``: the time of
    one page must not grow with the tables."""
    s = b.sizes
    big, many, src = "bench/scale/tags", "bench/scale/manifests", "bench/scale/src"
    config, layers = _image_blobs(b, "scale")
    man = o.image_manifest(config, layers, "scale")
    tags = sorted(f"v{i:06d}" for i in range(s.scale_tags))
    mans = [o.image_manifest(config, layers, f"scale/{i}") for i in range(s.scale_manifests)]
    seed = b.content.blob(512, "scale/seed")
    repos = [f"bench/scale/r{i:05d}" for i in range(s.scale_repos)]
    hareg = b.servers[HAREG]
    assert isinstance(hareg, Hareg)
    for server in b.servers.values():
        _push_image_blobs(b, server, big, [config, *layers])
        _push_image_blobs(b, server, many, [config, *layers])
        if server is hareg:
            # Rows in SQL: the listing reads nothing else, and tens of thousands of manifest
            # PUTs would take minutes (manifest PUT is issue 11's target 1).
            b.setup(server, "scale: manifest", [partial(o.put_manifest, repo=big,
                                                        ref=tags[0], m=man)], 1)
            t0 = time.perf_counter()
            scale_rows.add_tags(hareg.database_url, big, len(tags), manifest=man.digest)
            print(f"  (setup: scale: {len(tags)} tag rows on hareg in SQL in "
                  f"{time.perf_counter() - t0:.1f} s)", flush=True)
        elif isinstance(server, Distribution) and server.root is not None:
            # Its tag files written directly likewise (20,000 tag PUTs take minutes too).
            b.setup(server, "scale: manifest", [partial(o.put_manifest, repo=big,
                                                        ref=tags[0], m=man)], 1)
            t0 = time.perf_counter()
            scale_rows.add_distribution_tags(server.root, big, tags[1:], man.digest)
            print(f"  (setup: scale: {len(tags)} tag files on distribution in "
                  f"{time.perf_counter() - t0:.1f} s)", flush=True)
        else:
            b.setup(server, "scale: tags",
                    [partial(o.put_manifest, repo=big, ref=t, m=man) for t in tags], 16)
        b.setup(server, "scale: manifests",
                [partial(o.put_manifest, repo=many, ref=m.digest, m=m) for m in mans], 16)
        b.setup(server, "scale: seed", [partial(o.push_monolithic, repo=src, blob=seed)], 1)
        b.setup(server, "scale: repositories",
                [partial(o.mount_blob, repo=r, source=src, blob=seed) for r in repos], 16)
    scale_rows.analyze(hareg.database_url)  # what autovacuum does after such a load
    whole = Row(f"tags/list {s.scale_tags} tags, whole, large db", "ms", target="ratio>=10",
                note="hareg pages the list by 10,000 tags (Link header, followed); "
                "distribution answers it in one page; hareg's tag rows made in SQL, "
                "distribution's tag files (on the filesystem) written directly")
    walk = Row(f"_catalog walk {s.scale_repos} repos n=100, large db", "ms",
               target="ratio>=10", note=f"the registry also holds {s.scale_tags} tags and "
               f"{s.scale_manifests} manifests in two repositories, and the other scenarios'")
    for rep in range(s.reps):
        for server in b.order(rep):
            b.measure(whole, server, rep, [partial(o.list_tags, repo=big, n=None,
                                                   expected=tags)] * s.list_ops, 1)
        for server in b.order(rep + 1):
            stats: dict[str, int] = {}
            b.measure(walk, server, rep,
                      [partial(o.walk_catalog, n=100, expected=repos, stats=stats)]
                      * s.walk_ops, 1, {"pages": stats})
    _scale_curve(b, hareg)


def _scale_curve(b: Bench, hareg: Hareg) -> None:
    """hareg's time for one page at growing table sizes (rows generated in SQL)."""
    s = b.sizes
    url = hareg.database_url
    have = 0
    for size in s.curve:
        t0 = time.perf_counter()
        repo = f"bench/curve/t{size}"
        names = scale_rows.add_tags(url, repo, size)
        more = [f"bench/curve/r{i:06d}" for i in range(have, size)]
        for i in range(0, len(more), 10_000):
            scale_rows.add_repositories(url, more[i:i + 10_000])
        have = size
        scale_rows.add_manifests(url, "bench/curve/manifests", size * 3 // 10)
        scale_rows.analyze(url)
        print(f"  (setup: {size} tags, {size} repositories, {size * 3 // 10} manifests in "
              f"SQL: {time.perf_counter() - t0:.1f} s)", flush=True)
        rng = random.Random(size)
        tag_pages = [f"/v2/{repo}/tags/list?n=100&last={names[rng.randrange(size - 100)]}"
                     for _ in range(s.curve_ops)]
        repo_names = [f"bench/curve/r{i:06d}" for i in range(size)]
        catalog_pages = [f"/v2/_catalog?n=100&last={repo_names[rng.randrange(size - 100)]}"
                         for _ in range(s.curve_ops)]
        rows = [
            (Row(f"curve: tags page n=100 of {size} tags", "ms", hareg_only=True,
                 target="flat", curve="tags/list page, n=100", size=size),
             [partial(o.list_page, path=p, key="tags", count=100) for p in tag_pages]),
            (Row(f"curve: _catalog page n=100 of {size} repos", "ms", hareg_only=True,
                 target="flat", curve="_catalog page, n=100", size=size,
                 note="curve rows: database rows generated in SQL, statistics fresh"),
             [partial(o.list_page, path=p, key="repositories", count=100)
              for p in catalog_pages]),
            (Row(f"curve: tags/list without n, {size} tags", "ms", hareg_only=True,
                 curve="tags/list without n (first page)", size=size,
                 note="without n a page holds at most 10,000 tags"),
             [partial(o.list_page, path=f"/v2/{repo}/tags/list", key="tags",
                      count=min(size, 10_000))] * max(3, s.curve_ops // 5)),
        ]
        for rep in range(s.reps):
            for row, ops in rows:
                b.measure(row, hareg, rep, ops, 1)


def bench_redirect(b: Bench) -> None:
    """Blob pulls with S3 redirects on (hareg ``[storage] redirect = true``, distribution's
    default), on a second pair of servers; the rows without redirects are the "pull" rows of
    the blobs scenario. The client follows the 307 to moto and verifies the bytes."""
    if b.redirecting is None:
        print("  (redirect: s3 only, skipped)", flush=True)
        return
    servers = b.redirecting()
    pair = Bench(servers, b.moto, b.sizes, b.procs)
    pair.content = b.content
    try:
        # The blobs of a repetition are pushed once and pulled at both concurrencies: the
        # bytes come from moto either way (no registry cache to warm), and pushing them to
        # moto is most of this group's time.
        for size, count in (b.sizes.small, b.sizes.large):
            label = f"{size // MIB} MiB x {count}"
            rows = {conc: Row(f"pull {label} c{conc}, S3 redirect", "MiB/s",
                              target="ratio>=1", note="both redirect blob GETs to presigned "
                              "S3 URLs; the client follows them")
                    for conc in (1, 8)}
            for rep in range(b.sizes.reps):
                blobs = [b.content.blob(size, f"redirect/{label}/{rep}") for _ in range(count)]
                repo = f"bench/redirect-{size // MIB}m-r{rep}"
                for server in pair.order(rep):
                    pair.setup(server, "blobs to pull",
                               [partial(o.push_monolithic, repo=repo, blob=x) for x in blobs],
                               8)
                for conc, row in rows.items():
                    for server in pair.order(rep + conc):
                        pair.measure(row, server, rep,
                                     [partial(o.pull_blob_redirected, repo=repo, blob=x)
                                      for x in blobs], conc)
                del blobs
    finally:
        for server in servers.values():
            server.stop()
        b.rows.update(pair.rows)
        b.samples += pair.samples


def bench_referrers(b: Bench) -> None:
    """An image with N referrers (two artifact types); GET referrers with and without filter.
    distribution 2.8 has no referrers API: hareg alone."""
    server = b.servers[HAREG]
    repo = "bench/referrers"
    config, layers = _image_blobs(b, "referrers")
    empty = o.Blob(o.sha256_digest(b"{}"), 2, b"{}")
    _push_image_blobs(b, server, repo, [config, *layers, empty])
    subject = o.image_manifest(config, layers, "subject")
    b.setup(server, "subject", [partial(o.put_manifest, repo=repo, ref="subject", m=subject)], 1)
    types = ("application/vnd.example.sbom.v1", "application/vnd.example.signature.v1")
    arts = [o.image_manifest(empty, [empty], f"ref{i}", artifact_type=types[i % 2],
                             subject=subject, config_type=o.OCI_EMPTY)
            for i in range(b.sizes.referrers)]
    b.setup(server, "referrers", [partial(o.put_manifest, repo=repo, ref=a.digest, m=a)
                                  for a in arts], 8)
    every = {a.digest for a in arts}
    sboms = {a.digest for i, a in enumerate(arts) if i % 2 == 0}
    n = b.sizes.referrers
    plain = Row(f"referrers of {n}, no filter c1", "ms", hareg_only=True, target="p50<20ms")
    filtered = Row(f"referrers of {n}, artifactType c1", "ms", hareg_only=True,
                   target="p50<20ms", note=f"{len(sboms)} match the filter")
    for rep in range(b.sizes.reps):
        b.measure(plain, server, rep, [partial(o.get_referrers, repo=repo, subject=subject,
                                               artifact_type=None, expected=every)]
                  * b.sizes.referrer_ops, 1)
        b.measure(filtered, server, rep, [partial(o.get_referrers, repo=repo, subject=subject,
                                                  artifact_type=types[0], expected=sboms)]
                  * b.sizes.referrer_ops, 1)


def bench_big(b: Bench) -> None:
    """One blob of 1 GiB pushed in one PUT and pulled back: RSS growth of the busiest process."""
    size = b.sizes.big
    label = f"{size // MIB} MiB" if size < 1024 * MIB else f"{size // (1024 * MIB)} GiB"
    blob = b.content.big(size, "big")
    push = Row(f"push {label} in one PUT", "MiB/s", target="growth<64MiB",
               hareg_only=not b.sizes.big_both)
    pull = Row(f"pull {label}", "MiB/s", target="growth<64MiB", hareg_only=not b.sizes.big_both)
    push.note = ("servers restarted and warmed up (one 1 MiB push and pull) first, so the RSS "
                 "rise is what the big blob adds to fresh workers")
    if not b.sizes.big_both:
        push.note += "; hareg only on S3 (moto needs minutes per GiB)"
    warm = b.content.blob(MIB, "warm")
    for server in b.order(0, push.hareg_only):
        server.restart()
        b.setup(server, "warm-up", [partial(o.push_monolithic, repo="bench/warm", blob=warm),
                                    partial(o.pull_blob, repo="bench/warm", blob=warm)], 1)
    for server in b.order(0, push.hareg_only):
        b.measure(push, server, 0, [partial(o.push_monolithic, repo="bench/big", blob=blob)], 1)
    for server in b.order(1, pull.hareg_only):
        b.measure(pull, server, 0, [partial(o.pull_blob, repo="bench/big", blob=blob)], 1)


SCENARIOS: dict[str, Callable[[Bench], None]] = {
    "catalog": bench_catalog,
    "blobs": bench_blobs,
    "limits": limits.bench_limits,
    "chunked": bench_chunked,
    "manifests": bench_manifests,
    "concurrency": concurrency.bench_concurrency,
    "tags": bench_tags,
    "referrers": bench_referrers,
    "big": bench_big,
    "images": images.bench_images,
    "scale": bench_scale,
    "redirect": bench_redirect,
}


# -------------------------------------------------------------------------- summary


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(b: Bench) -> list[dict[str, Any]]:
    out = []
    for row in b.rows.values():
        entry: dict[str, Any] = dataclasses.asdict(row)
        for name in (HAREG, DIST, LIMIT):
            samples = [s for s in b.samples if s.row == row.key and s.server == name]
            if not samples:
                continue
            errors = sum(s.errors for s in samples)
            gb = sum(s.payload_bytes for s in samples) / 1e9
            reqs = sum(s.requests for s in samples)
            cpu = sum(s.usage.cpu for s in samples)
            db_cpu = sum(s.usage.db_cpu for s in samples)
            wall = sum(s.wall_s for s in samples)
            ops = sum(s.ops for s in samples)
            calls: dict[str, int] = {}
            for s in samples:
                for k, v in s.usage.s3_calls.items():
                    calls[k] = calls.get(k, 0) + v
            entry[name] = {
                "value": None if errors else _median([s.value for s in samples
                                                      if s.value is not None]),
                "values": [s.value for s in samples],
                "p50_ms": _median([s.p50_ms for s in samples]),
                "p95_ms": _median([s.p95_ms for s in samples]),
                "p99_ms": _median([s.p99_ms for s in samples]),
                "errors": errors,
                "error_samples": [e for s in samples for e in s.error_samples][:5],
                "cpu_s": _median([s.usage.cpu for s in samples]),
                "db_cpu_s": _median([s.usage.db_cpu for s in samples]),
                "cpu_s_per_gb": cpu / gb if gb else None,
                "cpu_s_per_1k_req": cpu / reqs * 1000 if reqs else None,
                "db_cpu_s_per_gb": db_cpu / gb if gb else None,
                "db_cpu_s_per_1k_req": db_cpu / reqs * 1000 if reqs else None,
                "peak_rss_mib": max(s.usage.peak_rss_mib for s in samples),
                "growth_mib": max(s.usage.growth_mib for s in samples),
                "client_cpu_pct": 100 * sum(s.client_cpu_s for s in samples) / wall
                if wall else None,
                "s3_cpu_s": _median([s.usage.s3_cpu for s in samples]),
                "s3_calls_per_op": sum(calls.values()) / ops if ops and calls else None,
                "s3_calls": calls,
                "extra": [s.extra for s in samples if s.extra],
            }
        h, d = entry.get(HAREG, {}).get("value"), entry.get(DIST, {}).get("value")
        ratio = None
        if h and d:
            ratio = d / h if row.unit in ("ms", "s") else h / d
        entry["ratio"] = ratio
        entry["target_met"] = _target_met(row, entry)
        out.append(entry)
    for entry in out:  # "flat": against the first point of the same curve
        if entry["target"] == "flat" and entry["target_met"] is not False:
            first = min((e for e in out if e["curve"] == entry["curve"]),
                        key=lambda e: e["size"])
            base = (first.get(HAREG) or {}).get("value")
            value = (entry.get(HAREG) or {}).get("value")
            entry["target_met"] = (base is not None and value is not None
                                   and value <= 2 * base)
    return out


def _target_met(row: Row, entry: dict[str, Any]) -> bool | None:
    h = entry.get(HAREG) or {}
    if not row.target or h.get("value") is None:
        return None if not row.target else False
    if row.target.startswith("ratio>="):
        r = entry.get("ratio")
        return r is not None and r >= float(row.target[7:])
    if row.target == "p50<20ms":
        return h["p50_ms"] < 20
    if row.target == "growth<64MiB":
        return h["growth_mib"] < 64
    return None  # "flat" is decided in summarize(), which sees the whole curve


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _rst_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
             rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    lines.append(rule)
    return "\n".join(lines)


def _figure(entry: dict[str, Any], name: str, unit: str, p99: bool = False) -> str:
    s = entry.get(name)
    if s is None:
        return "n/a"
    if s["errors"]:
        return f"ERRORS ({s['errors']})"
    text = _fmt(s["value"], 2 if unit == "s" else 1)
    if unit == "req/s":
        tail = s["p99_ms"] if p99 else s["p95_ms"]
        text += f" ({_fmt(s['p50_ms'], 2)}/{_fmt(tail, 2)})"
    if unit == "ms":
        text += f" (p95 {_fmt(s['p95_ms'])})"
    if unit == "s":  # the spread of the repetitions
        values = [v for v in s["values"] if v is not None]
        if len(values) > 1:
            text += f" ({_fmt(min(values), 2)}-{_fmt(max(values), 2)})"
    return text


def speed_table(summary: list[dict[str, Any]]) -> str:
    rows = []
    for e in summary:
        if HAREG not in e and DIST not in e:
            continue  # a limit alone (``--only limits``)
        unit = e["unit"]
        met = {True: "met", False: "MISSED", None: ""}[e["target_met"]]
        target = e["target"].replace("ratio", "").replace(">=", "≥")
        p99 = e.get("p99", False)
        rows.append([e["key"], {"ms": "ms p50", "s": "s wall"}.get(unit, unit),
                     _figure(e, HAREG, unit, p99), _figure(e, DIST, unit, p99),
                     _fmt(e["ratio"], 2) if e["ratio"] else "-",
                     f"{target} {met}".strip()])
    return _rst_table(["scenario", "unit", "hareg", "distribution", "ratio", "target"], rows)


def resource_table(summary: list[dict[str, Any]], s3: bool) -> str:
    rows = []
    for e in summary:
        if HAREG not in e and DIST not in e:
            continue
        per = {"MiB/s": "gb", "s": "run"}.get(e["unit"], "1k_req")
        h, d = e.get(HAREG), e.get(DIST)

        def cpu(s: dict[str, Any] | None, db: bool = False, per: str = per) -> str:
            if s is None:
                return "-"
            key = ("db_" if db else "") + ("cpu_s" if per == "run" else f"cpu_s_per_{per}")
            return _fmt(s[key], 2)

        row = [e["key"], {"gb": "s/GB", "run": "s/run"}.get(per, "s/1k req"), cpu(h),
               cpu(h, db=True), cpu(d),
               f"{_fmt(h and h['peak_rss_mib'], 0)} / {_fmt(d and d['peak_rss_mib'], 0)}",
               f"{_fmt(h and h['growth_mib'], 1)} / {_fmt(d and d['growth_mib'], 1)}",
               f"{_fmt(h and h['client_cpu_pct'], 0)} / {_fmt(d and d['client_cpu_pct'], 0)}"]
        if s3:
            row += [(f"{_fmt(h and h['s3_calls_per_op'], 1)} / "
                     f"{_fmt(d and d['s3_calls_per_op'], 1)}"),
                    f"{_fmt(h and h['s3_cpu_s'], 1)} / {_fmt(d and d['s3_cpu_s'], 1)}"]
        rows.append(row)
    header = ["scenario", "CPU per", "hareg CPU", "+ its PG", "distr. CPU",
              "peak RSS MiB h / d", "max RSS rise MiB h / d", "client CPU % h / d"]
    if s3:
        header += ["S3 calls/op h / d", "moto CPU s h / d"]
    return _rst_table(header, rows)


def limit_table(summary: list[dict[str, Any]]) -> str:
    """Rows with a limit (``benchmarks.limits``): each server's speed as % of it."""
    rows = []
    for e in summary:
        lim = e.get(LIMIT)
        if lim is None:
            continue
        pull = e["key"].startswith("pull")
        limit = lim["value"]

        def share(name: str, limit: float | None = limit, e: dict[str, Any] = e) -> str:
            v = (e.get(name) or {}).get("value")
            if v is None:
                return "n/a"
            return f"{_fmt(v)} ({100 * v / limit:.0f} %)" if limit else _fmt(v)

        coreutils = [x["coreutils_mib_s"] for x in lim["extra"] if "coreutils_mib_s" in x]
        rows.append([e["key"], "nginx sendfile" if pull else "SHA-256 + write + fsync",
                     "ERRORS" if lim["errors"] else _fmt(limit), share(HAREG), share(DIST),
                     _fmt(_median(coreutils)) if coreutils else "-"])
    return _rst_table(["scenario", "limit: what", "limit MiB/s", "hareg MiB/s (% of limit)",
                       "distribution (% of limit)", "coreutils MiB/s"], rows) if rows else ""


def curves(summary: list[dict[str, Any]]) -> list[str]:
    """One line per growth curve: hareg's median per table size."""
    lines: dict[str, list[str]] = {}
    for e in sorted((e for e in summary if e.get("curve")), key=lambda e: e["size"]):
        value = (e.get(HAREG) or {}).get("value")
        lines.setdefault(e["curve"], []).append(f"{e['size']:,}: {_fmt(value, 2)} ms")
    return [f"{curve}: " + ", ".join(points) for curve, points in lines.items()]


def notes(summary: list[dict[str, Any]]) -> list[str]:
    out = []
    by_note: dict[str, list[str]] = {}
    for e in summary:
        if e["note"]:
            by_note.setdefault(e["note"], []).append(e["key"])
        extra = [x.get("done") for name in (HAREG, DIST) for x in (e.get(name) or {}).get(
            "extra", []) if x.get("done")]
        if extra:
            out.append(f"{e['key']}: time cap reached, operations done: {', '.join(extra)}")
    out = [f"{', '.join(keys)}: {note}" for note, keys in by_note.items()] + out
    for e in summary:
        for name in (HAREG, DIST):
            s = e.get(name)
            if s and s["errors"]:
                out.append(f"{e['key']} / {name}: {s['errors']} errors, e.g. "
                           + " | ".join(s["error_samples"][:2]))
            if s and s["client_cpu_pct"] and s["client_cpu_pct"] > 80:
                out.append(f"{e['key']} / {name}: client used {s['client_cpu_pct']:.0f}% of a "
                           "core: the client may be the bottleneck")
    return out


# ----------------------------------------------------------------------------- main


STORAGES = ("filesystem", "s3")


def _storages(text: str) -> list[str]:
    names = list(STORAGES) if text == "both" else [x for x in text.split(",") if x]
    bad = [x for x in names if x not in STORAGES]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"--storage: one of {', '.join(STORAGES)}, a comma-separated list, or both")
    return names


def sizes_for(storage: str, quick: bool, several: bool) -> Sizes:
    """The sizes of one storage's run; ``several``: one of a run over both storages, which
    must end within 15 minutes on 2 cores (see ``BOTH_GROUPS_SKIPPED``)."""
    if quick:
        return dataclasses.replace(QUICK)
    if several and storage == "s3":
        # On S3 every speed is moto's (single-threaded Python); CPU and S3 calls per
        # operation, what the S3 table is read for, are as clear in two repetitions, with
        # 1,000 tags instead of 2,000 (the setup PUTs) and an image of 10 layers of 10 MiB.
        return dataclasses.replace(FULL_S3, reps=2, tags=1000, image_layer=10 * MIB)
    if several:
        # 300 manifests a repetition instead of 500 (the manifest rows are rates; 900 GETs
        # a row are plenty): the manifest PUT setup is the longest part of the run.
        return dataclasses.replace(FULL, manifests=300)
    return dataclasses.replace(FULL_S3 if storage == "s3" else FULL)


#: Groups left out on a storage in a run over both storages (the default full run): the
#: ``scale`` group's listings and curves read only PostgreSQL on hareg's side (they are the
#: same on either storage), and on S3 distribution's setup alone (thousands of tag PUTs at
#: about 40 a second on moto) would take minutes; ``limits`` measures the machine (nginx
#: and the local disk), not the storage; ``big`` is hareg alone on S3 (moto needs minutes
#: per GiB) and none of issue 11's targets.
BOTH_GROUPS_SKIPPED: dict[str, set[str]] = {"s3": {"scale", "limits", "big"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=_storages, default=["filesystem"],
                        help="filesystem, s3, or both (= filesystem,s3: one run after the "
                        "other, results in OUT-filesystem.json and OUT-s3.json)")
    parser.add_argument("--out", type=Path, default=Path("results.json"))
    parser.add_argument("--quick", action="store_true", help="a ~2 minute smoke run")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="hareg gevent workers (default: cores)")
    parser.add_argument("--client-procs", type=int, default=1,
                        help="client processes per scenario (threads are split among them)")
    parser.add_argument("--only", default="", help="comma-separated scenario groups: "
                        + ",".join(SCENARIOS) + ",gevent")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="admin URL of the PostgreSQL server hareg's database is made on")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--report", type=Path, metavar="RESULTS_JSON",
                        help="only print the tables of an earlier run's results file")
    args = parser.parse_args(argv)
    if args.report:
        print(report(json.loads(args.report.read_text())))
        return 0
    several = len(args.storage) > 1
    started = time.time()
    failed = 0
    outs = []
    for storage in args.storage:
        out = args.out.with_name(f"{args.out.stem}-{storage}{args.out.suffix}") if several \
            else args.out
        sizes = sizes_for(storage, args.quick, several)
        if args.reps:
            sizes.reps = args.reps
        groups = [g for g in args.only.split(",") if g] or [*SCENARIOS, "gevent"]
        if several and not args.only:
            groups = [g for g in groups if g not in BOTH_GROUPS_SKIPPED.get(storage, set())]
        print(f"=== storage {storage}: {', '.join(groups)}", flush=True)
        failed += not run_storage(args, storage, sizes, groups, out, argv)
        outs.append(str(out))
    if several:
        print(f"\nall storages: {time.time() - started:.0f} s; results in {', '.join(outs)}")
    return 1 if failed else 0


def run_storage(args: argparse.Namespace, storage: str, sizes: Sizes, groups: list[str],
                out: Path, argv: list[str] | None) -> bool:
    """Start the servers on one storage, run ``groups``, write and print the results."""
    work = Path(tempfile.mkdtemp(prefix="hareg-bench-", dir="/var/tmp"))
    pg = Postgres(args.database)
    moto: Moto | None = None
    servers: dict[str, Server] = {}
    started = time.time()
    load_before = os.getloadavg()
    result: dict[str, Any] = {}
    try:
        if storage == "s3":
            moto = Moto(work)
            moto.start()
        spec = StorageSpec(storage, root=work / "storage", moto=moto)
        servers = {HAREG: Hareg(work / HAREG, spec, pg, args.workers),
                   DIST: Distribution(work / DIST, spec)}
        for server in servers.values():
            server.start()

        def redirecting() -> dict[str, Server]:
            pair: dict[str, Server] = {
                HAREG: Hareg(work / "hareg-redirect", spec, pg, args.workers, redirect=True),
                DIST: Distribution(work / "distribution-redirect", spec, redirect=True)}
            for server in pair.values():
                server.start()
            return pair

        bench = Bench(servers, moto, sizes, args.client_procs,
                      redirecting if storage == "s3" else None)
        bench.work = work
        print(f"hareg pid {servers[HAREG].pids()}  distribution pid {servers[DIST].pids()}  "
              f"work dir {work}", flush=True)
        timings: dict[str, float] = {}
        for group in groups:
            if group in SCENARIOS:
                print(f"== {group}", flush=True)
                t0 = time.perf_counter()
                SCENARIOS[group](bench)
                timings[group] = round(time.perf_counter() - t0, 1)
                print(f"   ({group}: {timings[group]:.0f} s)", flush=True)
        gevent: dict[str, Any] | None = None
        if "gevent" in groups:
            print("== gevent check", flush=True)
            gevent = gevent_check.run(work / "gevent", pg)
            print(f"  16 x pg_sleep(0.05) on 1 worker: {gevent['wall_ms_median']:.0f} ms "
                  f"(serialized would be {gevent['serialized_ms']} ms), at most "
                  f"{gevent['max_overlapping_queries']} queries overlapped", flush=True)
        summary = summarize(bench)
        result = {
            "meta": {
                "command": "python -m benchmarks.run " + shlex.join(
                    sys.argv[1:] if argv is None else argv),
                "storage": storage, "quick": args.quick, "reps": sizes.reps,
                "groups": groups, "group_seconds": timings,
                "hareg_workers": args.workers, "client_procs": args.client_procs,
                "cores": os.cpu_count(), "python": platform.python_version(),
                "distribution": _distribution_version(),
                "hareg_commit": _git_commit(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                "duration_s": round(time.time() - started, 1),
                "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
            },
            "summary": summary,
            "gevent_check": gevent,
            "samples": [{k: v for k, v in dataclasses.asdict(s).items() if k != "done"}
                        for s in bench.samples],
        }
        out.write_text(json.dumps(result, indent=1, default=str) + "\n")
        print()
        print(report(result))
        print(f"\nresults in {out}")
    finally:
        for server in servers.values():
            server.stop()
        if moto is not None:
            moto.stop()
        pg.drop_all()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return bool(result)


def report(result: dict[str, Any]) -> str:
    """The tables and notes of one run, as reStructuredText."""
    meta, summary = result["meta"], result["summary"]
    parts = [
        (
            f"``{meta['command']}`` — storage {meta['storage']}, {meta['reps']} repetition(s) "
            f"(medians), {meta['cores']} cores, hareg {meta['hareg_workers']} workers, "
            f"distribution {meta['distribution']}, {meta['duration_s']:.0f} s, load average "
            f"{meta['loadavg_before'][0]:.1f} before / {meta['loadavg_after'][0]:.1f} after."
        ),
        "",
        (
            "Speed (req/s rows: p50/p95 latency ms in brackets; ratio = hareg speed / "
            "distribution speed, > 1 means hareg is faster):"
        ),
        "",
        speed_table(summary),
        "",
        (
            "Resources (CPU seconds per GB moved or per 1,000 requests; peak RSS summed over "
            "master + workers; RSS rise = largest rise of one process over its RSS before the "
            "run; client CPU in % of one core):"
        ),
        "",
        resource_table(summary, meta["storage"] == "s3"),
    ]
    limits_ = limit_table(summary)
    if limits_:
        parts += ["", (
            "The limit (what the machine does without a registry, same sizes and concurrency: "
            "nginx serving the blob files from disk over loopback for pulls; SHA-256 and a "
            "write with fsync in one Python process for pushes; coreutils: ``tee | sha256sum`` "
            "then ``sync``):"), "", limits_]
    gevent = result.get("gevent_check")
    if gevent:
        parts += ["", (
            f"gevent check: {gevent['concurrency']} concurrent requests, each running "
            f"one {gevent['query_ms']} ms query, on one worker: "
            f"{gevent['wall_ms_median']:.0f} ms in total (median; serialized would be "
            f"{gevent['serialized_ms']} ms); up to {gevent['max_overlapping_queries']} "
            "queries overlapped."
        )]
    growth = curves(summary)
    if growth:
        parts += ["", ("Growth curves (hareg, median time of one request by table size; the "
                  "whole curve is in one database):"), ""] + [f"- {line}" for line in growth]
    extra = notes(summary)
    if extra:
        parts += ["", "Notes:", ""] + [f"- {n}" for n in extra]
    return "\n".join(parts)


def _distribution_version() -> str:
    try:
        out = subprocess.run(["/usr/bin/docker-registry", "--version"], capture_output=True,
                             text=True, timeout=10).stdout
        return out.split()[-1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
