# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Write and read OCI image layouts (the directory format of ``oci:DIR:TAG``).

The client tests feed these layouts to skopeo and compare what comes back out
of the registry with what went in, digest by digest. Everything is generated
here: real gzip'ed tar layers holding a few small random files, a config whose
``rootfs.diff_ids`` are the digests of the uncompressed tars, image manifests
and a multi-platform image index. Nothing is downloaded.

See the OCI image-layout spec: ``oci-layout`` ({"imageLayoutVersion": "1.0.0"}),
``index.json`` (an image index whose descriptors carry
``org.opencontainers.image.ref.name``), and ``blobs/<alg>/<hex>``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_LAYOUT_VERSION = "1.0.0"
REF_NAME = "org.opencontainers.image.ref.name"

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

# A fixed timestamp keeps tar headers and configs reproducible for one seed.
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z
CREATED = "2026-01-01T00:00:00Z"

DEFAULT_PLATFORMS: tuple[tuple[str, str], ...] = (("linux", "amd64"), ("linux", "arm64"))


def sha256_digest(data: bytes) -> str:
    """The OCI digest string (``sha256:<hex>``) of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """Compact, key-sorted JSON: the exact bytes that get hashed and pushed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    platform: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Image:
    """A single-platform image written into a layout."""

    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]
    platform: dict[str, str]
    # path inside the layer tar -> file content, for checks after a round trip
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def blob_digests(self) -> list[str]:
        """Config and layer digests, config first."""
        return [self.config.digest, *(layer.digest for layer in self.layers)]


@dataclass(frozen=True)
class ImageIndex:
    """A multi-platform image index written into a layout."""

    index: Descriptor
    images: tuple[Image, ...]

    @property
    def child_digests(self) -> list[str]:
        return [image.manifest.digest for image in self.images]


def make_layer(
    rng: random.Random, n_files: int = 3, prefix: str = "data"
) -> tuple[bytes, bytes, dict[str, bytes]]:
    """A tar with ``n_files`` small random files, and its gzip'ed form.

    Returns ``(tar_bytes, gzip_bytes, {path: content})``. The gzip header carries
    no name and mtime 0, so the compressed digest depends only on the content.
    """
    files: dict[str, bytes] = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dir_info = tarfile.TarInfo(prefix)
        dir_info.type = tarfile.DIRTYPE
        dir_info.mode = 0o755
        dir_info.mtime = EPOCH
        tar.addfile(dir_info)
        for i in range(n_files):
            name = f"{prefix}/file-{i}-{rng.getrandbits(32):08x}.bin"
            content = rng.randbytes(rng.randint(16, 4096))
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = EPOCH
            tar.addfile(info, io.BytesIO(content))
            files[name] = content
    tar_bytes = buf.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0) as zf:
        zf.write(tar_bytes)
    return tar_bytes, gz.getvalue(), files


class OCILayout:
    """An OCI image layout directory being written."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        layout_file = self.root / "oci-layout"
        if not layout_file.exists():
            layout_file.write_bytes(canonical_json({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
        self._index_path = self.root / "index.json"
        if not self._index_path.exists():
            self._write_index([])

    # -- low level -----------------------------------------------------------

    def add_blob(self, data: bytes, media_type: str, **kwargs: Any) -> Descriptor:
        """Store ``data`` under blobs/sha256 and return its descriptor."""
        digest = sha256_digest(data)
        path = self.root / "blobs" / "sha256" / digest.split(":", 1)[1]
        if not path.exists():
            path.write_bytes(data)
        return Descriptor(media_type, digest, len(data), **kwargs)

    def _write_index(self, manifests: list[dict[str, Any]]) -> None:
        index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}
        self._index_path.write_bytes(json.dumps(index, indent=2).encode())

    def tag(self, descriptor: Descriptor, ref: str) -> None:
        """Name ``descriptor`` ``ref`` in index.json (replacing an older entry of that name)."""
        index = json.loads(self._index_path.read_bytes())
        manifests = [
            m for m in index["manifests"] if (m.get("annotations") or {}).get(REF_NAME) != ref
        ]
        entry = Descriptor(descriptor.media_type, descriptor.digest, descriptor.size).to_json()
        entry["annotations"] = {REF_NAME: ref}
        manifests.append(entry)
        self._write_index(manifests)

    # -- images --------------------------------------------------------------

    def add_image(
        self,
        rng: random.Random,
        *,
        os_name: str = "linux",
        architecture: str = "amd64",
        variant: str | None = None,
        n_layers: int = 2,
        files_per_layer: int = 3,
    ) -> Image:
        """Write layers, config and manifest of a single-platform image."""
        platform = {"os": os_name, "architecture": architecture}
        if variant:
            platform["variant"] = variant
        layers: list[Descriptor] = []
        diff_ids: list[str] = []
        files: dict[str, bytes] = {}
        history: list[dict[str, Any]] = []
        for i in range(n_layers):
            tar_bytes, gz_bytes, layer_files = make_layer(
                rng, files_per_layer, prefix=f"layer{i}-{architecture}"
            )
            layers.append(self.add_blob(gz_bytes, MT_LAYER_GZIP))
            diff_ids.append(sha256_digest(tar_bytes))
            files.update(layer_files)
            history.append({"created": CREATED, "created_by": f"hareg tests: layer {i}"})
        config_obj: dict[str, Any] = {
            "created": CREATED,
            "architecture": architecture,
            "os": os_name,
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
                "Labels": {"org.example.hareg.nonce": f"{rng.getrandbits(64):016x}"},
            },
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
        if variant:
            config_obj["variant"] = variant
        config = self.add_blob(canonical_json(config_obj), MT_CONFIG)
        manifest_obj = {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": config.to_json(),
            "layers": [layer.to_json() for layer in layers],
            "annotations": {"org.opencontainers.image.created": CREATED},
        }
        manifest = self.add_blob(canonical_json(manifest_obj), MT_MANIFEST, platform=platform)
        return Image(manifest, config, tuple(layers), tuple(diff_ids), platform, files)

    def add_index(
        self,
        rng: random.Random,
        platforms: Iterable[tuple[str, str]] = DEFAULT_PLATFORMS,
        **image_kwargs: Any,
    ) -> ImageIndex:
        """Write one image per (os, architecture) and an image index over them."""
        images: list[Image] = []
        for os_name, arch in platforms:
            variant = "v8" if arch == "arm64" else None
            images.append(
                self.add_image(
                    rng, os_name=os_name, architecture=arch, variant=variant, **image_kwargs
                )
            )
        index_obj = {
            "schemaVersion": 2,
            "mediaType": MT_INDEX,
            "manifests": [image.manifest.to_json() for image in images],
        }
        index = self.add_blob(canonical_json(index_obj), MT_INDEX)
        return ImageIndex(index, tuple(images))


def write_image_layout(
    root: Path, tag: str = "v1", *, seed: int | None = None, n_layers: int = 2
) -> Image:
    """A layout at ``root`` holding one linux/amd64 image named ``tag``."""
    rng = random.Random(seed)
    layout = OCILayout(root)
    image = layout.add_image(rng, n_layers=n_layers)
    layout.tag(image.manifest, tag)
    return image


def write_index_layout(
    root: Path,
    tag: str = "v1",
    *,
    seed: int | None = None,
    platforms: Sequence[tuple[str, str]] = DEFAULT_PLATFORMS,
) -> ImageIndex:
    """A layout at ``root`` holding a multi-platform index named ``tag``."""
    rng = random.Random(seed)
    layout = OCILayout(root)
    index = layout.add_index(rng, platforms)
    layout.tag(index.index, tag)
    return index


# -- reading (what a client wrote) ---------------------------------------------


def read_blob(root: Path, digest: str) -> bytes:
    """The bytes of ``digest`` in the layout at ``root``; checks that they hash to it."""
    alg, hexpart = digest.split(":", 1)
    data = (Path(root) / "blobs" / alg / hexpart).read_bytes()
    actual = f"{alg}:{hashlib.new(alg, data).hexdigest()}"
    if actual != digest:
        raise AssertionError(f"blob {digest} in {root} hashes to {actual}")
    return data


def ref_descriptor(root: Path, tag: str) -> dict[str, Any]:
    """The index.json descriptor named ``tag`` in the layout at ``root``."""
    index = json.loads((Path(root) / "index.json").read_bytes())
    found = [m for m in index["manifests"] if (m.get("annotations") or {}).get(REF_NAME) == tag]
    if len(found) != 1:
        raise AssertionError(f"{root}/index.json has {len(found)} entries named {tag!r}: {index}")
    return found[0]


def closure(root: Path, digest: str) -> dict[str, str]:
    """Every digest reachable from manifest/index ``digest``, mapped to its media type.

    Reads (and hash-checks) each blob, recursing through indexes.
    """
    seen: dict[str, str] = {}

    def walk(d: str) -> None:
        doc = json.loads(read_blob(root, d))
        media_type = doc.get("mediaType", "")
        seen[d] = media_type
        if "manifests" in doc:
            for child in doc["manifests"]:
                walk(child["digest"])
            return
        seen[doc["config"]["digest"]] = doc["config"]["mediaType"]
        read_blob(root, doc["config"]["digest"])
        for layer in doc["layers"]:
            read_blob(root, layer["digest"])
            seen[layer["digest"]] = layer["mediaType"]

    walk(digest)
    return seen


def layer_files(gz_bytes: bytes) -> dict[str, bytes]:
    """The regular files inside a gzip'ed tar layer."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(gz_bytes), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                out[member.name] = extracted.read()
    return out
