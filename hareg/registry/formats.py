# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Manifest formats: parse and validate a pushed manifest, and find what it references.

Four formats are accepted: OCI image manifest and index, Docker schema 2 manifest and
manifest list. The payload is never re-serialized: hareg stores the bytes it was given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from .errors import ManifestInvalid
from .names import DIGEST_RE, parse_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = IMAGE_TYPES | INDEX_TYPES
_GENERIC_TYPES = frozenset({"", "application/json", "application/octet-stream"})


class DescriptorSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    mediaType = fields.String(required=True, validate=validate.Length(min=1, max=255))
    digest = fields.String(required=True, validate=validate.Regexp(DIGEST_RE))
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    urls = fields.List(fields.String())
    annotations = fields.Dict(keys=fields.String(), values=fields.String())
    artifactType = fields.String()
    platform = fields.Dict()


class _BaseSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    schemaVersion = fields.Integer(required=True, strict=True, validate=validate.Equal(2))
    mediaType = fields.String()
    artifactType = fields.String()
    subject = fields.Nested(DescriptorSchema)
    annotations = fields.Dict(keys=fields.String(), values=fields.String())


class ImageManifestSchema(_BaseSchema):
    config = fields.Nested(DescriptorSchema, required=True)
    layers = fields.List(fields.Nested(DescriptorSchema), required=True)


class IndexSchema(_BaseSchema):
    manifests = fields.List(fields.Nested(DescriptorSchema), required=True)


# Built once: a schema instance is stateless between loads, and building one is most of the
# cost of parsing a small manifest.
_INDEX_SCHEMA = IndexSchema()
_IMAGE_SCHEMA = ImageManifestSchema()


@dataclass(frozen=True)
class ParsedManifest:
    media_type: str
    required_blobs: tuple[str, ...] = ()     # config and layers that must be present
    optional_blobs: tuple[str, ...] = ()     # non-distributable layers (with urls)
    children: tuple[str, ...] = ()           # child manifests of an index
    subject: str | None = None
    artifact_type: str | None = None         # what the referrers API reports
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def _first_message(messages: Any, path: str = "") -> str:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_message(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        return _first_message(messages[0], path)
    return f"{path}: {messages}" if path else str(messages)


def _media_type(doc: dict[str, Any], content_type: str) -> str:
    content_type = (content_type or "").split(";")[0].strip().lower()
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("mediaType must be a string")
    if declared and content_type not in _GENERIC_TYPES and declared != content_type:
        raise ManifestInvalid(
            f"mediaType {declared!r} does not match Content-Type {content_type!r}")
    media_type = declared or content_type
    if media_type in _GENERIC_TYPES:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media_type not in MANIFEST_TYPES:
        raise ManifestInvalid(f"unsupported manifest media type: {media_type[:200]!r}",
                              detail={"mediaType": media_type[:200]})
    return media_type


def parse_manifest(payload: bytes, content_type: str) -> ParsedManifest:
    """Validate a manifest and list its references; raises ManifestInvalid."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    media_type = _media_type(doc, content_type)
    schema = _INDEX_SCHEMA if media_type in INDEX_TYPES else _IMAGE_SCHEMA
    try:
        data = schema.load(doc)
    except ValidationError as exc:
        raise ManifestInvalid(f"invalid manifest: {_first_message(exc.messages)}",
                              detail=exc.messages) from None
    for desc in _descriptors(data):
        parse_digest(desc["digest"])  # only verifiable digests may be referenced
    subject = data.get("subject")
    annotations = data.get("annotations") or {}
    if media_type in INDEX_TYPES:
        return ParsedManifest(
            media_type=media_type,
            children=tuple(d["digest"] for d in data["manifests"]),
            subject=subject["digest"] if subject else None,
            artifact_type=data.get("artifactType"),
            annotations=annotations,
        )
    blobs = [data["config"], *data["layers"]]
    return ParsedManifest(
        media_type=media_type,
        required_blobs=tuple(dict.fromkeys(d["digest"] for d in blobs if not d.get("urls"))),
        optional_blobs=tuple(dict.fromkeys(d["digest"] for d in blobs if d.get("urls"))),
        subject=subject["digest"] if subject else None,
        artifact_type=data.get("artifactType") or data["config"]["mediaType"],
        annotations=annotations,
    )


def _descriptors(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = list(data.get("manifests") or [])
    if "config" in data:
        out.append(data["config"])
        out.extend(data["layers"])
    if data.get("subject"):
        out.append(data["subject"])
    return out
