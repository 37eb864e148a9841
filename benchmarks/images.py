# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Whole images as users move them (issue 11, target 4), with ``skopeo copy``.

- ``skopeo copy`` of an image of 10 random (incompressible) layers, about 200 MiB, from an
  OCI layout directory to each registry (push), then from each registry to a fresh OCI layout
  directory (pull); every pulled file is hashed and compared with what was pushed.
- A CI burst: a base image is pushed once (untimed), then 20 skopeo processes push, at once,
  20 images into 20 repositories; each image is the base's layers plus small layers of its
  own. Each process starts with the blob-info cache the base push left (as a CI runner that
  pulled its base image from the registry has), so skopeo does what real clients do: a HEAD
  per layer in the target repository, a cross-repository mount for each base layer, an
  upload of each new layer, then the manifest. Every image is then checked over HTTP
  (manifest bytes and digest, a HEAD of each blob).

The rows are wall times (lower is better); the ratio is distribution's time / hareg's.
skopeo's blob-info cache lives in the work directory (``XDG_DATA_HOME``, with
``_CONTAINERS_ROOTLESS_UID`` so that a root run does not use /var/lib/containers).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from . import ops as o
from .bench import MIB, Bench, Row
from .httpclient import Connection, VerifyError, run_ops
from .servers import Meter, Server

SKOPEO = "/usr/bin/skopeo"
REF_NAME = "org.opencontainers.image.ref.name"
CACHE_FILE = Path("containers/cache/blob-info-cache-v1.boltdb")


# ------------------------------------------------------------------------- content


@dataclass
class Image:
    ref: str
    manifest: o.Manifest
    blobs: dict[str, int] = field(default_factory=dict)  # config and layers: digest -> size

    @property
    def size(self) -> int:
        return sum(self.blobs.values()) + len(self.manifest.payload)


class Layout:
    """An OCI image layout directory (``oci:`` for skopeo) holding images by ref name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.images: list[Image] = []

    def add_blob(self, data: bytes) -> o.Blob:
        digest = o.sha256_digest(data)
        target = self.path / "blobs" / "sha256" / digest.split(":", 1)[1]
        if not target.exists():
            target.write_bytes(data)
        return o.Blob(digest, len(data), b"")

    def add_layer(self, data: bytes, name: str) -> tuple[o.Blob, str]:
        """A gzipped tar holding ``data`` as one file; returns the blob and its diff ID.
        gzip level 0 (stored blocks): the bytes stay incompressible and skopeo sees a
        compressed layer, so it sends it as it is."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(f"bench/{name}.bin")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
        raw = buf.getvalue()
        diff_id = o.sha256_digest(raw)
        return self.add_blob(gzip.compress(raw, compresslevel=0, mtime=0)), diff_id

    def add_image(self, ref: str, layers: list[tuple[o.Blob, str]], note: str) -> Image:
        config = self.add_blob(json.dumps({
            "architecture": "amd64", "os": "linux", "config": {"Labels": {"bench": note}},
            "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]},
        }, separators=(",", ":")).encode())
        manifest = o.image_manifest(config, [b for b, _ in layers], note)
        self.add_blob(manifest.payload)
        image = Image(ref, manifest, {config.digest: config.size,
                                      **{b.digest: b.size for b, _ in layers}})
        self.images.append(image)
        self._write_index()
        return image

    def _write_index(self) -> None:
        index = {"schemaVersion": 2, "mediaType": o.OCI_INDEX, "manifests": [
            {"mediaType": o.OCI_MANIFEST, "digest": i.manifest.digest,
             "size": len(i.manifest.payload), "annotations": {REF_NAME: i.ref}}
            for i in self.images]}
        (self.path / "index.json").write_text(json.dumps(index))


def verify_pulled(path: Path, image: Image) -> list[str]:
    """Errors of an OCI layout skopeo pulled ``image`` into: its manifest must be the one
    pushed, and every blob must be there with the right bytes (each file hashed)."""
    errors = []
    try:
        index = json.loads((path / "index.json").read_text())
        digests = [m["digest"] for m in index["manifests"]]
    except (OSError, ValueError, KeyError) as exc:
        return [f"pulled layout unreadable: {exc}"]
    if digests != [image.manifest.digest]:
        errors.append(f"pulled manifest {digests}, expected {image.manifest.digest}")
    expected = {image.manifest.digest: len(image.manifest.payload), **image.blobs}
    for digest, size in expected.items():
        blob = path / "blobs" / "sha256" / digest.split(":", 1)[1]
        hasher = hashlib.sha256()
        try:
            with open(blob, "rb") as f:
                while chunk := f.read(4 * MIB):
                    hasher.update(chunk)
            have = blob.stat().st_size
        except OSError as exc:
            errors.append(f"{digest[:19]}: {exc}")
            continue
        if "sha256:" + hasher.hexdigest() != digest or have != size:
            errors.append(f"{digest[:19]}: pulled bytes differ ({have} bytes)")
    return errors


# --------------------------------------------------------------------------- skopeo


class Skopeo:
    """Runs ``skopeo copy`` processes with a policy, a temporary directory and a blob-info
    cache of their own in the work directory."""

    def __init__(self, work: Path, timeout: float) -> None:
        self.work = work
        self.timeout = timeout
        work.mkdir(parents=True, exist_ok=True)
        self.policy = work / "policy.json"
        self.policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
        (work / "tmp").mkdir(exist_ok=True)

    def cache(self, name: str) -> Path:
        """A directory for ``XDG_DATA_HOME``: skopeo keeps its blob-info cache in it."""
        path = self.work / "cache" / name
        (path / CACHE_FILE.parent).mkdir(parents=True, exist_ok=True)
        return path

    def command(self, src: str, dest: str) -> list[str]:
        return [SKOPEO, "--policy", str(self.policy), "--tmpdir", str(self.work / "tmp"),
                "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                "--src-no-creds", "--dest-no-creds", src, dest]

    def env(self, cache: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["XDG_DATA_HOME"] = str(cache)
        env["_CONTAINERS_ROOTLESS_UID"] = str(os.getuid() or 1000)
        return env

    def run(self, copies: list[tuple[str, str, Path]]) -> tuple[float, float, list[str]]:
        """Start every ``(src, dest, cache)`` copy at once, wait for all: (wall seconds,
        their CPU seconds, errors)."""
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        procs = [subprocess.Popen(self.command(src, dest), env=self.env(cache),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, cwd=self.work)
                 for src, dest, cache in copies]
        errors = []
        deadline = t0 + self.timeout
        for proc, (_, dest, _) in zip(procs, copies, strict=True):
            try:
                out, _ = proc.communicate(timeout=max(0.1, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                errors.append(f"skopeo copy to {dest}: no answer in {self.timeout:.0f} s")
                continue
            if proc.returncode:
                text = out.decode("utf-8", "replace").strip().splitlines()
                errors.append(f"skopeo copy to {dest}: exit {proc.returncode}: "
                              f"{text[-1][:200] if text else ''}")
        wall = time.perf_counter() - t0
        return wall, _children_cpu() - cpu0, errors


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _docker(server: Server, repo: str, tag: str) -> str:
    return f"docker://{server.host}:{server.port}/{repo}:{tag}"


def head_blob(conn: Connection, repo: str, digest: str, size: int) -> int:
    r = conn.request("HEAD", f"/v2/{repo}/blobs/{digest}")
    o.expect(r, 200, "HEAD blob")
    o.expect_header(r, "docker-content-digest", digest, "HEAD blob")
    if r.header("content-length") != str(size):
        raise VerifyError(f"HEAD blob: Content-Length {r.header('content-length')}, "
                          f"expected {size}")
    return 0


def verify_pushed(server: Server, pushed: list[tuple[str, Image]]) -> list[str]:
    """Errors of images skopeo pushed: each manifest by tag (bytes, digest) and each blob
    (HEAD: status, digest, length) in its repository."""
    ops = []
    for repo, image in pushed:
        ops.append(partial(o.get_manifest, repo=repo, ref=image.ref, m=image.manifest))
        ops += [partial(head_blob, repo=repo, digest=d, size=n) for d, n in image.blobs.items()]
    res = run_ops(server.host, server.port, ops, 8)
    return [f"verify: {e}" for e in res.error_samples] if res.errors else []


# ------------------------------------------------------------------------ scenarios


def bench_images(b: Bench) -> None:
    s = b.sizes
    skopeo = Skopeo(Path(b.work) / "skopeo", s.skopeo_timeout_s)
    total = s.image_layers * s.image_layer
    label = f"{s.image_layers} layers, {total / MIB:.0f} MiB"
    push = Row(f"skopeo push {label}", "s", target="ratio>=1",
               note="skopeo copy from an OCI layout; a fresh blob-info cache per copy")
    pull = Row(f"skopeo pull {label}", "s", target="ratio>=1",
               note="skopeo copy to a fresh OCI layout directory, every blob then hashed")
    for rep in range(s.reps):
        t0 = time.perf_counter()
        layout = Layout(skopeo.work / f"image-r{rep}")
        layers = [layout.add_layer(b.content.blob(s.image_layer, f"image/{rep}/{i}").data,
                                   f"layer{i}") for i in range(s.image_layers)]
        image = layout.add_image("v1", layers, f"image/{rep}")
        print(f"  (setup: image of {len(layers)} layers, {image.size / MIB:.0f} MiB, built in "
              f"{time.perf_counter() - t0:.1f} s)", flush=True)
        repo = f"bench/image-r{rep}"
        pushed = set()
        for server in b.order(rep):
            name = b.name_of(server)
            with Meter(server, b.moto) as meter:
                wall, cpu, errors = skopeo.run([(f"oci:{layout.path}:v1",
                                                 _docker(server, repo, "v1"),
                                                 skopeo.cache(f"push-{name}-{rep}"))])
            b.record(push, name, rep, wall, wall, meter.usage, errors=errors,
                     payload_bytes=image.size, client_cpu=cpu)
            if not errors:
                pushed.add(name)
        for server in b.order(rep + 1):
            name = b.name_of(server)
            if name not in pushed:
                continue
            dest = skopeo.work / f"pulled-{name}-r{rep}"
            with Meter(server, b.moto) as meter:
                wall, cpu, errors = skopeo.run([(_docker(server, repo, "v1"), f"oci:{dest}:v1",
                                                 skopeo.cache(f"pull-{name}-{rep}"))])
            errors = errors or verify_pulled(dest, image)
            shutil.rmtree(dest, ignore_errors=True)
            b.record(pull, name, rep, wall, wall, meter.usage, errors=errors,
                     payload_bytes=image.size, client_cpu=cpu)
        shutil.rmtree(layout.path, ignore_errors=True)
    _burst(b, skopeo)


def _burst(b: Bench, skopeo: Skopeo) -> None:
    s = b.sizes
    n_base, base_size = s.burst_base
    row = Row(f"CI burst: {s.burst_images} skopeo pushes at once", "s", target="ratio>=1",
              note=f"each image: {n_base} base layers of {base_size / MIB:.0f} MiB (pushed "
              f"before, mounted: skopeo's cache knows them) + "
              f"{len(s.burst_unique)} of its own ("
              + ", ".join(f"{x / MIB:g} MiB" for x in s.burst_unique)
              + f"); {s.burst_images} repositories")
    for rep in range(s.reps):
        layout = Layout(skopeo.work / f"burst-r{rep}")
        base_layers = [layout.add_layer(b.content.blob(base_size, f"burst/{rep}/base{i}").data,
                                        f"base{i}") for i in range(n_base)]
        base = layout.add_image("base", base_layers, f"burst/{rep}/base")
        apps = []
        for i in range(s.burst_images):
            own = [layout.add_layer(b.content.blob(size, f"burst/{rep}/{i}/{j}").data,
                                    f"app{i}-{j}") for j, size in enumerate(s.burst_unique)]
            apps.append(layout.add_image(f"app{i}", base_layers + own, f"burst/{rep}/{i}"))
        unique = sum(a.size for a in apps) - n_base * base_size * len(apps)
        for server in b.order(rep):
            name = b.name_of(server)
            prefix = f"bench/ci-r{rep}"
            seed = skopeo.cache(f"burst-{name}-{rep}-base")
            _, _, errors = skopeo.run([(f"oci:{layout.path}:base",
                                        _docker(server, f"{prefix}/base", "base"), seed)])
            if errors:
                raise RuntimeError(f"setup: base image push to {name} failed: {errors}")
            copies = []
            for i, app in enumerate(apps):
                cache = skopeo.cache(f"burst-{name}-{rep}-{i}")
                shutil.copyfile(seed / CACHE_FILE, cache / CACHE_FILE)
                copies.append((f"oci:{layout.path}:{app.ref}",
                               _docker(server, f"{prefix}/app{i}", app.ref), cache))
            with Meter(server, b.moto) as meter:
                wall, cpu, errors = skopeo.run(copies)
            if not errors:
                errors = verify_pushed(server, [(f"{prefix}/app{i}", app)
                                                for i, app in enumerate(apps)]
                                       + [(f"{prefix}/base", base)])
            b.record(row, name, rep, wall, wall, meter.usage, errors=errors,
                     payload_bytes=unique, client_cpu=cpu, ops=len(apps),
                     extra={"processes": len(apps)})
        shutil.rmtree(layout.path, ignore_errors=True)
