# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Storage driver for Amazon S3 and S3-compatible servers (MinIO, Ceph RGW, ...).

One boto3 client per driver: botocore clients are safe to share between
threads and greenlets, and sharing one keeps a single connection pool (sized
for a gevent worker's concurrency) instead of one per request. Data is streamed
in both directions, so memory stays bounded by one part no matter how large a
blob is. Upload state lives entirely in S3 (the multipart upload id and part
ETags), which is what lets each PATCH of an upload land on a different host.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import (
    CHUNK_SIZE,
    Buffer,
    ChunkStream,
    NotFound,
    ObjectInfo,
    StorageDriver,
    StorageError,
    check_part,
    check_range,
    normalize_prefix,
    validate_key,
)

MIB = 1024 * 1024
GIB = 1024 * MIB
#: S3's smallest non-final part.
S3_MIN_PART_SIZE = 5 * MIB
#: Largest object CopyObject can copy in one request; bigger ones need UploadPartCopy.
S3_MAX_COPY_SIZE = 5 * GIB
#: DeleteObjects accepts at most this many keys per request.
S3_DELETE_BATCH = 1000
#: ListObjectsV2 returns at most this many keys per page.
S3_LIST_PAGE = 1000
S3_MAX_PARTS = 10000

# Error codes that mean "no such object / upload". NoSuchBucket deliberately
# is not among them: a missing bucket is a misconfiguration, not a 404.
_MISSING = frozenset({"NoSuchKey", "NoSuchUpload", "404", "NotFound"})


@contextmanager
def _s3_errors(key: str) -> Iterator[None]:
    """Translate botocore errors into the driver's error family."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _MISSING:
            raise NotFound(key) from exc
        raise StorageError(f"S3 error on {key!r}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"S3 unreachable for {key!r}: {exc}") from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class S3Driver(StorageDriver):
    """Objects live in ``bucket`` under an optional ``prefix``."""

    min_part_size = S3_MIN_PART_SIZE

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str = "",
        secret_access_key: str = "",
        path_style: bool = False,
        part_size: int = 16 * MIB,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        if part_size < S3_MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {S3_MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix.strip("/"))
        self.part_size = part_size
        #: Objects above this size are moved with UploadPartCopy (tests lower it).
        self.copy_threshold = S3_MAX_COPY_SIZE
        #: Part size for UploadPartCopy: big, since the copy is server-side.
        self.copy_part_size = 512 * MIB
        #: Keys per ListObjectsV2 page and per DeleteObjects request: S3's maximum (tests lower
        #: them to cross page boundaries with fewer objects).
        self.list_page_size = S3_LIST_PAGE
        self.delete_batch = S3_DELETE_BATCH
        config = Config(
            max_pool_connections=64,
            retries={"mode": "standard"},
            s3={"addressing_style": "path" if path_style else "auto"},
            # botocore >= 1.36 sends CRC checksums by default, which many
            # S3-compatible servers reject; send them only where S3 requires.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            # Our keys and arguments are built by layout.py; botocore's per-call validation
            # of them costs CPU on every small request for nothing.
            parameter_validation=False,
            # Presigned URLs (``[storage] redirect``) in SigV4, as every request is: botocore
            # would presign in the deprecated SigV2 otherwise, which newer regions refuse.
            signature_version="s3v4",
        )
        session = boto3.session.Session(
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            region_name=region or None,
        )
        self.client: Any = session.client("s3", endpoint_url=endpoint_url or None, config=config)

    # ------------------------------------------------------------------- keys

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _strip(self, full_key: str) -> str:
        return full_key[len(self.prefix) :]

    # ----------------------------------------------------------------- writes

    def put_bytes(self, key: str, data: bytes) -> None:
        with _s3_errors(key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=bytes(data))

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Upload a stream: put_object if it fits in one part, else a multipart upload."""
        full = self._key(key)
        it = iter(chunks)
        buf = bytearray()
        for chunk in it:
            buf += chunk
            if len(buf) > self.part_size:
                break
        else:
            with _s3_errors(key):
                self.client.put_object(Bucket=self.bucket, Key=full, Body=bytes(buf))
            return len(buf)
        upload_id = self.multipart_start(key)
        try:
            parts: list[tuple[int, str]] = []
            size = 0
            while True:
                while len(buf) >= self.part_size:
                    number = len(parts) + 1
                    part = bytes(buf[: self.part_size])
                    del buf[: self.part_size]
                    parts.append((number, self.multipart_put(key, upload_id, number, size, part)))
                    size += len(part)
                next_chunk = next(it, None)
                if next_chunk is None:
                    break
                buf += next_chunk
            if buf:
                number = len(parts) + 1
                parts.append((number, self.multipart_put(key, upload_id, number, size, bytes(buf))))
                size += len(buf)
            self.multipart_complete(key, upload_id, parts)
        except BaseException:
            with suppress(StorageError):
                self.multipart_abort(key, upload_id)
            raise
        return size

    # ------------------------------------------------------------------ reads

    def get_bytes(self, key: str) -> bytes:
        with _s3_errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            with response["Body"] as body:
                return body.read()

    def open_range(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        check_range(offset, length)
        full = self._key(key)
        if length == 0:
            self.stat(key)  # still raise NotFound eagerly
            return iter(())
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            params["Range"] = f"bytes={offset}-{end}"
        try:
            with _s3_errors(key):
                response = self.client.get_object(**params)
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _error_code(cause) == "InvalidRange":
                return iter(())  # the object exists; the range starts at or past its end
            raise
        body = response["Body"]

        def chunks() -> Iterator[bytes]:
            with _s3_errors(key):
                yield from body.iter_chunks(CHUNK_SIZE)

        return ChunkStream(chunks(), body.close)

    def local_path(self, key: str) -> str | None:
        return None

    def presigned_get_url(self, key: str, expires: int) -> str | None:
        with _s3_errors(key):
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=expires,
            )

    def stat(self, key: str) -> ObjectInfo:
        with _s3_errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return ObjectInfo(key=key, size=head["ContentLength"], modified=_utc(head["LastModified"]))

    # ---------------------------------------------------------------- deletes

    def delete(self, key: str) -> None:
        with _s3_errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_many(self, keys: Iterable[str]) -> int:
        """Delete with DeleteObjects, :attr:`delete_batch` keys per request."""
        count = 0
        batch: list[str] = []
        for key in keys:
            batch.append(self._key(key))
            if len(batch) == self.delete_batch:
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        return count

    def _delete_batch(self, full_keys: list[str]) -> int:
        with _s3_errors(full_keys[0]):
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in full_keys], "Quiet": True},
            )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise StorageError(
                f"could not delete {len(errors)} of {len(full_keys)} objects, "
                f"e.g. {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
            )
        return len(full_keys)

    # ---------------------------------------------------------------- listing

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        full = self.prefix + normalize_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        with _s3_errors(prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full,
                                           PaginationConfig={"PageSize": self.list_page_size}):
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=self._strip(obj["Key"]),
                        size=obj["Size"],
                        modified=_utc(obj["LastModified"]),
                    )

    def list_dirs(self, prefix: str) -> Iterator[str]:
        full = self.prefix + normalize_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        with _s3_errors(prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/",
                                           PaginationConfig={"PageSize": self.list_page_size}):
                for common in page.get("CommonPrefixes", ()):
                    yield self._strip(common["Prefix"])

    # ------------------------------------------------------------------- move

    def move(self, src: str, dst: str) -> None:
        """Server-side copy, then delete the source (S3 has no rename)."""
        src_full, dst_full = self._key(src), self._key(dst)
        info = self.stat(src)
        if src_full == dst_full:
            return
        if info.size <= self.copy_threshold:
            with _s3_errors(src):
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=dst_full,
                    CopySource={"Bucket": self.bucket, "Key": src_full},
                )
        else:
            self._copy_multipart(src, dst, info.size)
        self.delete(src)

    def _copy_multipart(self, src: str, dst: str, size: int) -> None:
        part_size = max(self.copy_part_size, -(-size // S3_MAX_PARTS), S3_MIN_PART_SIZE)
        source = {"Bucket": self.bucket, "Key": self._key(src)}
        upload_id = self.multipart_start(dst)
        try:
            parts: list[tuple[int, str]] = []
            for number, start in enumerate(range(0, size, part_size), start=1):
                end = min(start + part_size, size) - 1
                with _s3_errors(src):
                    response = self.client.upload_part_copy(
                        Bucket=self.bucket,
                        Key=self._key(dst),
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource=source,
                        CopySourceRange=f"bytes={start}-{end}",
                    )
                parts.append((number, response["CopyPartResult"]["ETag"]))
            self.multipart_complete(dst, upload_id, parts)
        except BaseException:
            with suppress(StorageError):
                self.multipart_abort(dst, upload_id)
            raise

    # -------------------------------------------------------------- multipart

    def multipart_start(self, key: str) -> str:
        with _s3_errors(key):
            response = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._key(key))
        return str(response["UploadId"])

    def multipart_put(
        self, key: str, upload_id: str, part_number: int, offset: int, data: Buffer,
        durable: bool = True,
    ) -> str:
        check_part(part_number, offset)  # S3 keeps every part it acknowledged: always durable
        body = data if isinstance(data, bytes) else bytes(data)
        with _s3_errors(key):
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=self._key(key),
                UploadId=upload_id,
                PartNumber=part_number,
                Body=body,
            )
        return str(response["ETag"])

    def multipart_complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        with _s3_errors(key):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(key),
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": number, "ETag": etag}
                              for number, etag in sorted(parts)]
                },
            )

    def multipart_abort(self, key: str, upload_id: str) -> None:
        with suppress(NotFound), _s3_errors(key):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._key(key), UploadId=upload_id
            )

    # ------------------------------------------------------------------ check

    def check(self) -> None:
        """HEAD the bucket: proves the endpoint answers and the credentials work."""
        try:
            with _s3_errors(self.bucket):
                self.client.head_bucket(Bucket=self.bucket)
        except NotFound as exc:
            raise StorageError(f"S3 bucket {self.bucket!r} does not exist") from exc
