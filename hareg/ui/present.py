# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""What a manifest payload says, in the shape the pages show: sizes, platforms, config,
layers, annotations, referrer groups; and the formatting of sizes and times.

Pure functions over stored payloads (validated when they were pushed: hareg.registry.formats);
anything unexpected is shown as missing, never raised.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..registry.formats import INDEX_TYPES


def load(payload: bytes | None) -> dict[str, Any]:
    if not payload:
        return {}
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _descriptors(doc: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    items = doc.get(key)
    return [d for d in items if isinstance(d, dict)] if isinstance(items, list) else []


def _size(desc: Mapping[str, Any]) -> int:
    size = desc.get("size")
    return size if isinstance(size, int) and size >= 0 else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def platform_text(platform: Any) -> str:
    """``linux/arm64/v8`` (plus ``os.version`` when set); empty for no platform."""
    if not isinstance(platform, dict):
        return ""
    parts = [_text(platform.get("os")), _text(platform.get("architecture"))]
    if _text(platform.get("variant")):
        parts.append(_text(platform["variant"]))
    text = "/".join(p for p in parts if p)
    if _text(platform.get("os.version")):
        text += f" ({platform['os.version']})"
    return text


#: Short names of the manifest media types, for tables (the full type is the cell's title).
KIND_NAMES = {
    "application/vnd.oci.image.manifest.v1+json": "OCI image",
    "application/vnd.oci.image.index.v1+json": "OCI index",
    "application/vnd.docker.distribution.manifest.v2+json": "Docker image",
    "application/vnd.docker.distribution.manifest.list.v2+json": "Docker manifest list",
}
#: Config media types of plain images: their manifests are images, not artifacts.
IMAGE_CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                                "application/vnd.docker.container.image.v1+json"})


def kind_of(media_type: str, artifact_type: str | None) -> str:
    """What a table shows in its Type column: the artifact type of an artifact, else the
    manifest's kind."""
    if artifact_type and artifact_type not in IMAGE_CONFIG_TYPES:
        return artifact_type
    return KIND_NAMES.get(media_type, media_type)


def is_index(media_type: str) -> bool:
    return media_type in INDEX_TYPES


def image_size(doc: Mapping[str, Any]) -> int:
    """Config plus layers of an image manifest."""
    config = doc.get("config")
    return (_size(config) if isinstance(config, dict) else 0) + sum(
        _size(d) for d in _descriptors(doc, "layers"))


def platforms(doc: Mapping[str, Any]) -> list[str]:
    """The platforms of an index's children (``unknown/unknown`` entries are attestations
    that buildkit attaches, not platforms)."""
    out = []
    for desc in _descriptors(doc, "manifests"):
        text = platform_text(desc.get("platform"))
        if text and not text.startswith("unknown/unknown") and text not in out:
            out.append(text)
    return out


@dataclass(frozen=True)
class Layer:
    digest: str
    media_type: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Child:
    digest: str
    media_type: str
    size: int
    platform: str
    present: bool
    annotations: dict[str, str] = field(default_factory=dict)


def _annotations(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _layer(desc: Mapping[str, Any]) -> Layer:
    return Layer(_text(desc.get("digest")), _text(desc.get("mediaType")), _size(desc),
                 _annotations(desc.get("annotations")))


@dataclass(frozen=True)
class ManifestView:
    media_type: str
    artifact_type: str
    config: Layer | None
    layers: list[Layer]
    children: list[Child]
    annotations: dict[str, str]
    subject: str
    total_size: int


def manifest_view(payload: bytes, media_type: str, present: Iterable[str] = ()) -> ManifestView:
    """Everything the manifest page shows of one payload; ``present``: the child digests the
    repository has (the others are missing from a sparse index)."""
    doc = load(payload)
    config = doc.get("config")
    config_layer = _layer(config) if isinstance(config, dict) else None
    layers = [_layer(d) for d in _descriptors(doc, "layers")]
    have = set(present)
    children = [Child(_text(d.get("digest")), _text(d.get("mediaType")), _size(d),
                      platform_text(d.get("platform")), _text(d.get("digest")) in have,
                      _annotations(d.get("annotations")))
                for d in _descriptors(doc, "manifests")]
    subject = doc.get("subject")
    artifact_type = _text(doc.get("artifactType")) or (
        config_layer.media_type if config_layer and doc.get("artifactType") is None
        and config_layer.media_type not in ("application/vnd.oci.image.config.v1+json",
                                             "application/vnd.docker.container.image.v1+json",
                                             "application/vnd.oci.empty.v1+json") else "")
    return ManifestView(
        media_type=media_type, artifact_type=artifact_type, config=config_layer,
        layers=layers, children=children, annotations=_annotations(doc.get("annotations")),
        subject=_text(subject.get("digest")) if isinstance(subject, dict) else "",
        total_size=image_size(doc) if not is_index(media_type) else sum(
            c.size for c in children))


#: Artifact kinds the manifest page groups referrers into, with the substrings of an
#: artifact type that mark each (checked in this order).
REFERRER_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Signatures", ("signature", "cosign", ".sig")),
    ("SBOMs", ("spdx", "cyclonedx", "sbom", "syft")),
    ("Attestations", ("in-toto", "intoto", "attestation", "provenance", "slsa", "vex")),
)


def referrer_kind(artifact_type: str) -> str:
    lowered = artifact_type.lower()
    for kind, marks in REFERRER_KINDS:
        if any(m in lowered for m in marks):
            return kind
    return "Other artifacts"


def group_referrers(referrers: Iterable[Mapping[str, Any]]
                    ) -> list[tuple[str, list[tuple[str, list[Mapping[str, Any]]]]]]:
    """[(kind, [(artifact type, [descriptor, ...]), ...]), ...], kinds in the order of
    :data:`REFERRER_KINDS`, then the others."""
    kinds: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for ref in referrers:
        artifact_type = _text(ref.get("artifactType")) or _text(ref.get("mediaType"))
        kind = referrer_kind(artifact_type)
        kinds.setdefault(kind, {}).setdefault(artifact_type, []).append(ref)
    order = [k for k, _ in REFERRER_KINDS] + ["Other artifacts"]
    return [(kind, sorted(kinds[kind].items())) for kind in order if kind in kinds]


# --- formatting (Jinja filters) ---

NONE = "\N{EN DASH}"  # what a missing value shows

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: int | None) -> str:
    if size is None:
        return NONE
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def utc_text(when: datetime | None) -> str:
    if when is None:
        return NONE
    w = when.astimezone(UTC)  # no strftime: it is most of the cost of a 50-row table
    return f"{w.year:04d}-{w.month:02d}-{w.day:02d} {w.hour:02d}:{w.minute:02d} UTC"


def iso(when: datetime | None) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds") if when else ""


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            n = seconds // length
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s"


def short_digest(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}" if hexpart else digest
