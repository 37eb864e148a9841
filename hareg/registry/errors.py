# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Domain errors, each carrying the OCI error code and HTTP status it maps to.

The domain raises these; hareg/api/errors.py turns every one into the spec's JSON body in one
place. Nothing here knows about Flask.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    code = "UNKNOWN"
    status = 500
    message = "unknown error"

    def __init__(self, message: str | None = None, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.detail = detail
        self.headers = headers or {}


class BlobUnknown(RegistryError):
    code, status, message = "BLOB_UNKNOWN", 404, "blob unknown to registry"


class BlobUploadInvalid(RegistryError):
    code, status, message = "BLOB_UPLOAD_INVALID", 400, "blob upload invalid"


class RangeInvalid(BlobUploadInvalid):
    """A chunk that does not start where the upload stands: 416 with the current Range."""
    status = 416


class BlobUploadUnknown(RegistryError):
    code, status, message = "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"


class DigestInvalid(RegistryError):
    code, status, message = "DIGEST_INVALID", 400, "provided digest did not match uploaded content"


class ManifestBlobUnknown(RegistryError):
    code, status, message = "MANIFEST_BLOB_UNKNOWN", 400, "blob unknown to registry"


class ManifestInvalid(RegistryError):
    code, status, message = "MANIFEST_INVALID", 400, "manifest invalid"


class ManifestTooLarge(ManifestInvalid):
    status = 413
    message = "manifest too large"


class ManifestUnknown(RegistryError):
    code, status, message = "MANIFEST_UNKNOWN", 404, "manifest unknown"


class ManifestReferenced(RegistryError):
    """Deleting a manifest that an index still lists (the foreign key refuses it)."""
    code, status, message = "DENIED", 409, "manifest is referenced by an index in this repository"


class NameInvalid(RegistryError):
    code, status, message = "NAME_INVALID", 400, "invalid repository name"


class NameUnknown(RegistryError):
    code, status, message = "NAME_UNKNOWN", 404, "repository name not known to registry"


class SizeInvalid(RegistryError):
    code, status, message = "SIZE_INVALID", 400, "provided length did not match content length"


class TagInvalid(ManifestInvalid):
    message = "invalid tag"


class RangeNotSatisfiable(RegistryError):
    code, status, message = "BLOB_UNKNOWN", 416, "requested range not satisfiable"


class PaginationInvalid(RegistryError):
    code, status, message = "UNSUPPORTED", 400, "n must be a non-negative integer"


class Unsupported(RegistryError):
    code, status, message = "UNSUPPORTED", 405, "the operation is unsupported"


class Unavailable(RegistryError):
    """A dependency (database, storage) failed: retryable by the client."""
    code, status, message = "UNAVAILABLE", 503, "service temporarily unavailable"


class Denied(RegistryError):
    """The request is understood but refused by policy (e.g. moving an immutable tag)."""
    code, status, message = "DENIED", 403, "requested access to the resource is denied"


class RequestInvalid(RegistryError):
    """A malformed admin API request body (the spec has no closer code than UNSUPPORTED)."""
    code, status, message = "UNSUPPORTED", 400, "invalid request"
