# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Manifest formats: parse and validate a pushed manifest, and find what it references.

Four formats are accepted: OCI image manifest and index, Docker schema 2 manifest and
manifest list. The payload is never re-serialized: hareg stores the bytes it was given.

Parsing runs on the event loop of a gevent worker: nothing else on that worker runs until it
returns. So its cost is bounded before it is paid, cheapest check first: the size (the
caller's), then a count of the payload's structural bytes (one C-speed pass), then the JSON
decoder (integers of at most :data:`MAX_INTEGER_DIGITS` digits, nesting bounded), then a
walk of the decoded document (depth, value count, no NUL in any string), and only then the
schema, with at most :data:`MAX_DESCRIPTORS` descriptors per list and
:data:`MAX_ANNOTATIONS` entries per annotation map.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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

#: Bounds on what one manifest may hold (each refusal is a 400 MANIFEST_INVALID). They are far
#: above what image builders write and keep the parse of a worst-case payload to tens of
#: milliseconds of CPU (benchmarks/manifest_parse.py measures it).
MAX_JSON_TOKENS = 100_000      # ``,`` plus ``:`` bytes: an upper bound on members and items
MAX_JSON_VALUES = 50_000       # values of every kind in the decoded document
MAX_JSON_DEPTH = 32            # nesting of objects and arrays
MAX_INTEGER_DIGITS = 20        # sizes are 64-bit at most
MAX_DESCRIPTORS = 1_000        # per list (layers, manifests)
MAX_ANNOTATIONS = 1_000        # entries per annotation map


class _StringMap(fields.Field):
    """A JSON object of string values with at most :data:`MAX_ANNOTATIONS` entries, checked in
    one pass (marshmallow's ``Dict(keys=..., values=...)`` costs a field call per entry)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ValidationError("Not a valid mapping type.")
        if len(value) > MAX_ANNOTATIONS:
            raise ValidationError(f"more than {MAX_ANNOTATIONS} entries")
        if not all(isinstance(v, str) for v in value.values()):
            raise ValidationError("values must be strings")
        return value


def _bounded_list(inner: fields.Field, **kwargs: Any) -> fields.List:
    return fields.List(inner, validate=validate.Length(max=MAX_DESCRIPTORS), **kwargs)


class DescriptorSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    mediaType = fields.String(required=True, validate=validate.Length(min=1, max=255))
    digest = fields.String(required=True, validate=validate.Regexp(DIGEST_RE))
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    urls = fields.List(fields.String())
    annotations = _StringMap()
    artifactType = fields.String(validate=validate.Length(max=255))
    platform = fields.Dict()


class _BaseSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    schemaVersion = fields.Integer(required=True, strict=True, validate=validate.Equal(2))
    mediaType = fields.String()
    artifactType = fields.String(validate=validate.Length(max=255))
    subject = fields.Nested(DescriptorSchema)
    annotations = _StringMap()


class ImageManifestSchema(_BaseSchema):
    config = fields.Nested(DescriptorSchema, required=True)
    layers = _bounded_list(fields.Nested(DescriptorSchema), required=True)


class IndexSchema(_BaseSchema):
    manifests = _bounded_list(fields.Nested(DescriptorSchema), required=True)


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


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ManifestInvalid(f"manifest holds an integer of more than {MAX_INTEGER_DIGITS}"
                              " digits", detail={"limit": MAX_INTEGER_DIGITS})
    return int(text)


def _no_constant(text: str) -> Any:
    raise ManifestInvalid(f"manifest is not valid JSON: {text} is not a JSON number")


def _check_shape(doc: Any) -> None:
    """Depth, value count and NUL characters of a decoded document, without recursion."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    values = 0
    while stack:
        value, depth = stack.pop()
        values += 1
        if values > MAX_JSON_VALUES:
            raise ManifestInvalid(f"manifest holds more than {MAX_JSON_VALUES} JSON values",
                                  detail={"limit": MAX_JSON_VALUES})
        if isinstance(value, str):
            if "\x00" in value:
                raise ManifestInvalid("manifest holds a NUL character in a string")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ManifestInvalid(f"manifest nested deeper than {MAX_JSON_DEPTH} levels",
                                  detail={"limit": MAX_JSON_DEPTH})
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    raise ManifestInvalid("manifest holds a NUL character in a key")
                stack.append((item, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in value)


def _decode(payload: bytes) -> dict[str, Any]:
    """The manifest's JSON object, its cost bounded before and while it is decoded."""
    tokens = payload.count(b",") + payload.count(b":")
    if tokens > MAX_JSON_TOKENS:
        raise ManifestInvalid(f"manifest too complex: more than {MAX_JSON_TOKENS} JSON"
                              " members and items", detail={"limit": MAX_JSON_TOKENS})
    try:
        doc = json.loads(payload, parse_int=_bounded_int, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from None
    except RecursionError:
        raise ManifestInvalid(f"manifest nested deeper than {MAX_JSON_DEPTH} levels",
                              detail={"limit": MAX_JSON_DEPTH}) from None
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    _check_shape(doc)
    return doc


def parse_manifest(payload: bytes, content_type: str) -> ParsedManifest:
    """Validate a manifest and list its references; raises ManifestInvalid."""
    doc = _decode(payload)
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
