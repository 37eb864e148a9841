# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Both storage drivers against the same tests: the filesystem in a temporary
directory, S3 against a real (moto) server over HTTP. Passing the same suite is
what lets the rest of hareg ignore which driver it runs on."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from hareg.storage import (
    FilesystemDriver,
    NotFound,
    S3Driver,
    StorageDriver,
    StorageError,
    create_driver,
)
from hareg.storage.base import CHUNK_SIZE, INTERNAL_PREFIX

pytest_plugins = ["tests.fixtures.s3"]

MIB = 1024 * 1024
PART = 5 * MIB

DriverFactory = Callable[[], StorageDriver]


def _pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes where every offset is distinguishable from its neighbours."""
    block = bytes((i * 7 + seed) % 251 for i in range(251 * 16))
    return (block * (size // len(block) + 1))[:size]


def _chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture(params=["filesystem", "s3"])
def driver_factory(request: pytest.FixtureRequest, tmp_path: Path) -> DriverFactory:
    """Builds independent driver instances on the same storage (as separate hosts would)."""
    if request.param == "filesystem":
        root = str(tmp_path / "root")
        return lambda: FilesystemDriver(root)
    server = request.getfixturevalue("s3_server")
    bucket = server.make_bucket()
    return lambda: server.make_driver(bucket, part_size=PART)


@pytest.fixture
def driver(driver_factory: DriverFactory) -> StorageDriver:
    return driver_factory()


def _read(driver: StorageDriver, key: str, offset: int = 0, length: int | None = None) -> bytes:
    chunks = list(driver.open_range(key, offset, length))
    assert all(0 < len(c) <= CHUNK_SIZE for c in chunks)
    return b"".join(chunks)


def _internal_files(root: str) -> list[str]:
    return [
        os.path.join(d, f)
        for d, _, files in os.walk(root)
        for f in files
        if f.startswith(INTERNAL_PREFIX)
    ]


# ------------------------------------------------------------------ whole objects


def test_put_get_bytes_and_stat(driver: StorageDriver) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    driver.put_bytes("a/b/link", b"sha256:abc")
    assert driver.get_bytes("a/b/link") == b"sha256:abc"
    assert driver.exists("a/b/link")
    info = driver.stat("a/b/link")
    assert (info.key, info.size) == ("a/b/link", 10)
    assert info.modified.utcoffset() == timedelta(0)
    assert before < info.modified < datetime.now(UTC) + timedelta(minutes=5)

    driver.put_bytes("a/b/link", b"replaced")
    assert driver.get_bytes("a/b/link") == b"replaced"
    driver.put_bytes("empty", b"")
    assert driver.get_bytes("empty") == b""
    assert driver.stat("empty").size == 0


def test_missing_objects_raise_not_found(driver: StorageDriver) -> None:
    driver.put_bytes("dir/present", b"x")
    for key in ("missing", "dir/missing", "dir"):
        with pytest.raises(NotFound) as excinfo:
            driver.get_bytes(key)
        assert excinfo.value.key == key
        with pytest.raises(NotFound):
            driver.stat(key)
        assert not driver.exists(key)


def test_open_range_raises_not_found_before_iteration(driver: StorageDriver) -> None:
    # No next(): the error must come from the call itself, before any header is sent.
    with pytest.raises(NotFound):
        driver.open_range("missing")
    with pytest.raises(NotFound):
        driver.open_range("missing", 10, 5)
    with pytest.raises(NotFound):
        driver.open_range("missing", 0, 0)


def test_put_stream_below_one_part(driver: StorageDriver) -> None:
    data = _pattern(3 * MIB + 17)
    assert driver.put_stream("small", _chunked(data, 64 * 1024)) == len(data)
    assert driver.get_bytes("small") == data
    assert driver.put_stream("nothing", iter(())) == 0
    assert driver.get_bytes("nothing") == b""


def test_put_stream_above_one_part(driver: StorageDriver) -> None:
    data = _pattern(12 * MIB, seed=3)
    # Odd chunk sizes, so part boundaries fall inside chunks.
    assert driver.put_stream("big", _chunked(data, 700 * 1024 + 3)) == len(data)
    assert driver.stat("big").size == len(data)
    assert _read(driver, "big") == data
    if isinstance(driver, S3Driver):
        etag = driver.client.head_object(Bucket=driver.bucket, Key="big")["ETag"]
        assert etag.strip('"').endswith("-3")  # 5 MiB + 5 MiB + 2 MiB


def test_put_stream_failure_leaves_nothing(driver: StorageDriver) -> None:
    driver.put_bytes("victim", b"old")

    def failing() -> Iterator[bytes]:
        yield _pattern(PART + MIB)  # past one part: S3 is already in a multipart upload
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        driver.put_stream("victim", failing())
    assert driver.get_bytes("victim") == b"old"
    if isinstance(driver, S3Driver):
        uploads = driver.client.list_multipart_uploads(Bucket=driver.bucket)
        assert not uploads.get("Uploads")
    else:
        assert isinstance(driver, FilesystemDriver)
        assert _internal_files(driver.root) == []


# ------------------------------------------------------------------------ ranges


def test_open_range_offsets_and_lengths(driver: StorageDriver) -> None:
    size = 2 * CHUNK_SIZE + CHUNK_SIZE // 2 + 3
    data = _pattern(size, seed=1)
    driver.put_stream("blob", _chunked(data, MIB))
    cases = [
        (0, None),
        (0, 1),
        (1, None),
        (CHUNK_SIZE - 1, 2),  # across a chunk boundary
        (CHUNK_SIZE, CHUNK_SIZE),
        (12345, 2 * CHUNK_SIZE),
        (size - 1, None),
        (size - 1, 10),  # clipped at the end
        (0, size),
        (5, 10 * size),  # clipped
        (size, None),  # at the end: nothing
        (size + 10, None),  # past the end: nothing
        (size + 10, 5),
        (100, 0),
    ]
    for offset, length in cases:
        end = size if length is None else offset + length
        assert _read(driver, "blob", offset, length) == data[offset:end], (offset, length)


def test_open_range_on_empty_object(driver: StorageDriver) -> None:
    driver.put_bytes("empty", b"")
    assert _read(driver, "empty") == b""
    assert _read(driver, "empty", 0, 10) == b""
    assert _read(driver, "empty", 3) == b""


def test_open_range_rejects_negative_values(driver: StorageDriver) -> None:
    driver.put_bytes("x", b"abc")
    with pytest.raises(ValueError):
        driver.open_range("x", -1)
    with pytest.raises(ValueError):
        driver.open_range("x", 0, -1)


def test_open_range_can_be_closed_early(driver: StorageDriver) -> None:
    data = _pattern(3 * CHUNK_SIZE)
    driver.put_stream("blob", _chunked(data, MIB))
    fds_before = len(os.listdir("/proc/self/fd"))
    stream = driver.open_range("blob")
    assert next(stream) == data[:CHUNK_SIZE]
    stream.close()  # type: ignore[attr-defined]
    stream.close()  # type: ignore[attr-defined]
    assert list(stream) == []
    if isinstance(driver, FilesystemDriver):
        assert len(os.listdir("/proc/self/fd")) == fds_before


# ----------------------------------------------------------------------- listing


LISTED = ["a/b/c/1", "a/b/c/2", "a/b/d", "a/b-x", "a/b0", "a/bx/e", "z"]


def test_list_is_recursive_sorted_and_bounded_by_directory(driver: StorageDriver) -> None:
    for i, key in enumerate(LISTED):
        driver.put_bytes(key, b"x" * i)
    assert [o.key for o in driver.list_objects("")] == sorted(LISTED)
    assert [(o.key, o.size) for o in driver.list_objects("a/b")] == [
        ("a/b/c/1", 0),
        ("a/b/c/2", 1),
        ("a/b/d", 2),
    ]
    assert [o.key for o in driver.list_objects("a/b/")] == ["a/b/c/1", "a/b/c/2", "a/b/d"]
    assert [o.key for o in driver.list_objects("a/b/c")] == ["a/b/c/1", "a/b/c/2"]
    assert list(driver.list_objects("nothing/here")) == []
    assert list(driver.list_objects("z")) == []  # an object is not a directory
    assert all(o.modified.utcoffset() == timedelta(0) for o in driver.list_objects(""))


def test_list_dirs_returns_immediate_children(driver: StorageDriver) -> None:
    for key in LISTED:
        driver.put_bytes(key, b"x")
    assert list(driver.list_dirs("")) == ["a/"]
    assert list(driver.list_dirs("a")) == ["a/b/", "a/bx/"]
    assert list(driver.list_dirs("a/")) == ["a/b/", "a/bx/"]
    assert list(driver.list_dirs("a/b")) == ["a/b/c/"]
    assert list(driver.list_dirs("a/b/c")) == []
    assert list(driver.list_dirs("missing")) == []


# ----------------------------------------------------------------------- deletes


def _put_all(driver: StorageDriver, keys: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: driver.put_bytes(k, k.encode()), keys))


def test_delete(driver: StorageDriver) -> None:
    driver.put_bytes("d/e/f", b"1")
    driver.put_bytes("d/g", b"2")
    driver.delete("d/e/f")
    driver.delete("d/e/f")  # missing: not an error
    driver.delete("never/existed")
    assert not driver.exists("d/e/f")
    assert driver.exists("d/g")
    # no empty "directory" is left behind (on S3 there never is one)
    assert list(driver.list_dirs("d")) == []


def test_list_and_delete_many_beyond_one_page(driver: StorageDriver) -> None:
    # S3 lists up to 1000 keys per page and deletes up to 1000 per DeleteObjects call; with
    # pages and batches of 100, 230 keys take three of each.
    calls: list[str] = []
    if isinstance(driver, S3Driver):
        driver.list_page_size = driver.delete_batch = 100
        for operation in ("ListObjectsV2", "DeleteObjects"):
            driver.client.meta.events.register(
                f"before-call.s3.{operation}",
                lambda model, **_: calls.append(model.name))
    keys = [f"bulk/{i % 7}/{i:04d}" for i in range(230)]
    _put_all(driver, keys)
    driver.put_bytes("keep", b"k")
    assert [o.key for o in driver.list_objects("bulk")] == sorted(keys)
    assert len(list(driver.list_dirs("bulk"))) == 7
    assert driver.delete_many(iter(keys)) == len(keys)
    if isinstance(driver, S3Driver):
        assert calls == ["ListObjectsV2"] * 4 + ["DeleteObjects"] * 3
    assert list(driver.list_objects("bulk")) == []
    assert list(driver.list_dirs("")) == []
    assert driver.exists("keep")
    assert driver.delete_many([]) == 0


def test_delete_prefix_stays_inside_the_directory(driver: StorageDriver) -> None:
    for key in ["r/foo/x", "r/foo/y/z", "r/foobar/x", "r/foo-x", "r/fo"]:
        driver.put_bytes(key, b"x")
    assert driver.delete_prefix("r/foo") == 2
    assert [o.key for o in driver.list_objects("r")] == ["r/fo", "r/foo-x", "r/foobar/x"]
    assert list(driver.list_dirs("r")) == ["r/foobar/"]
    assert driver.delete_prefix("r/foo/") == 0
    assert driver.delete_prefix("") == 3
    assert list(driver.list_objects("")) == []


# -------------------------------------------------------------------------- move


def test_move(driver: StorageDriver) -> None:
    driver.put_bytes("up/1/data", b"payload")
    driver.move("up/1/data", "blobs/ab/abc/data")
    assert driver.get_bytes("blobs/ab/abc/data") == b"payload"
    assert not driver.exists("up/1/data")
    assert list(driver.list_dirs("")) == ["blobs/"]

    driver.put_bytes("up/2/data", b"again")
    driver.move("up/2/data", "blobs/ab/abc/data")  # replaces
    assert driver.get_bytes("blobs/ab/abc/data") == b"again"

    with pytest.raises(NotFound):
        driver.move("up/3/data", "elsewhere")
    assert not driver.exists("elsewhere")


def test_s3_move_above_copy_limit_uses_part_copies(s3_server: object) -> None:
    driver = s3_server.make_driver()  # type: ignore[attr-defined]
    driver.copy_threshold = 6 * MIB  # stands in for S3's 5 GB CopyObject limit
    driver.copy_part_size = PART
    data = _pattern(12 * MIB + 5, seed=9)
    driver.put_stream("src", _chunked(data, MIB))
    driver.move("src", "dst")
    assert not driver.exists("src")
    assert driver.get_bytes("dst") == data
    etag = driver.client.head_object(Bucket=driver.bucket, Key="dst")["ETag"]
    assert etag.strip('"').endswith("-3")


# --------------------------------------------------------------------- multipart


def test_multipart_across_instances(driver_factory: DriverFactory) -> None:
    host_a, host_b = driver_factory(), driver_factory()
    parts_data = [_pattern(PART, 1), _pattern(PART, 2), _pattern(1024, 3)]
    key = "up/session/data"

    upload_id = host_a.multipart_start(key)
    assert isinstance(upload_id, str) and upload_id
    assert not host_b.exists(key)  # nothing visible until complete

    tokens = []
    offset = 0
    for number, data in enumerate(parts_data, start=1):
        host = host_b if number % 2 else driver_factory()  # every part on a fresh "host"
        token = host.multipart_put(key, upload_id, number, offset, memoryview(data))
        assert isinstance(token, str)
        tokens.append((number, token))
        offset += len(data)
    assert list(host_b.list_objects("up")) == []

    host_a.multipart_complete(key, upload_id, tokens)
    expected = b"".join(parts_data)
    assert host_b.stat(key).size == len(expected)
    assert _read(host_b, key) == expected


def test_multipart_retried_part_wins(driver: StorageDriver) -> None:
    key = "retry/data"
    upload_id = driver.multipart_start(key)
    driver.multipart_put(key, upload_id, 1, 0, _pattern(PART, 7))
    first = driver.multipart_put(key, upload_id, 1, 0, _pattern(PART, 1))  # a retry
    second = driver.multipart_put(key, upload_id, 2, PART, b"tail")
    driver.multipart_complete(key, upload_id, [(2, second), (1, first)])
    assert driver.get_bytes(key) == _pattern(PART, 1) + b"tail"


def test_multipart_abort_is_idempotent(driver: StorageDriver) -> None:
    key = "aborted/data"
    upload_id = driver.multipart_start(key)
    driver.multipart_put(key, upload_id, 1, 0, _pattern(PART))
    driver.multipart_abort(key, upload_id)
    driver.multipart_abort(key, upload_id)
    assert not driver.exists(key)
    # S3 answers NoSuchUpload (NotFound); moto answers 500, hence the base class.
    with pytest.raises(StorageError):
        driver.multipart_put(key, upload_id, 2, PART, b"late")
    assert list(driver.list_objects("")) == []
    if isinstance(driver, FilesystemDriver):
        assert _internal_files(driver.root) == []


def test_multipart_in_progress_survives_delete_prefix(driver: StorageDriver) -> None:
    key = "uploads/u1/data"
    driver.put_bytes("uploads/u1/startedat", b"now")
    upload_id = driver.multipart_start(key)
    token = driver.multipart_put(key, upload_id, 1, 0, b"abc")
    assert driver.delete_prefix("uploads") == 1
    driver.multipart_complete(key, upload_id, [(1, token)])
    assert driver.get_bytes(key) == b"abc"


def test_multipart_complete_rejects_bad_part_lists(driver: StorageDriver) -> None:
    key = "bad/data"
    upload_id = driver.multipart_start(key)
    t1 = driver.multipart_put(key, upload_id, 1, 0, _pattern(PART))
    with pytest.raises(StorageError):
        driver.multipart_complete(key, upload_id, [])
    with pytest.raises(StorageError):
        driver.multipart_complete(key, upload_id, [(1, t1), (2, "bogus")])
    driver.multipart_abort(key, upload_id)


def test_multipart_rejects_invalid_part_numbers(driver: StorageDriver) -> None:
    upload_id = driver.multipart_start("p/data")
    for number, offset in [(0, 0), (10001, 0), (1, -1)]:
        with pytest.raises(ValueError):
            driver.multipart_put("p/data", upload_id, number, offset, b"x")
    driver.multipart_abort("p/data", upload_id)


# ------------------------------------------------------------------ keys & misc


BAD_KEYS = ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..", "a\\b"]


def test_invalid_keys_are_rejected(driver: StorageDriver) -> None:
    driver.put_bytes("ok", b"x")
    for key in BAD_KEYS:
        with pytest.raises(ValueError):
            driver.put_bytes(key, b"x")
        with pytest.raises(ValueError):
            driver.get_bytes(key)
        with pytest.raises(ValueError):
            driver.open_range(key)
        with pytest.raises(ValueError):
            driver.move("ok", key)
        with pytest.raises(ValueError):
            driver.multipart_start(key)
    assert [o.key for o in driver.list_objects("")] == ["ok"]


def test_filesystem_keys_cannot_escape_root(tmp_path: Path) -> None:
    driver = FilesystemDriver(str(tmp_path / "root"))
    for key in ["../outside", "a/../../outside", "/tmp/outside", f"{INTERNAL_PREFIX}tmp-x"]:
        with pytest.raises(ValueError):
            driver.put_bytes(key, b"x")
        with pytest.raises(ValueError):
            driver.local_path(key)
    for prefix in ["..", "../", "a/../.."]:
        with pytest.raises(ValueError):
            list(driver.list_objects(prefix))
        with pytest.raises(ValueError):
            driver.delete_prefix(prefix)
    with pytest.raises(ValueError):
        driver.multipart_put("k", "../../x", 1, 0, b"x")
    assert sorted(os.listdir(tmp_path)) == ["root"]


def test_local_path_and_presigned_url(driver: StorageDriver) -> None:
    driver.put_bytes("dl/blob", b"download me")
    if isinstance(driver, FilesystemDriver):
        path = driver.local_path("dl/blob")
        assert path is not None and os.path.isabs(path)
        assert Path(path).read_bytes() == b"download me"
        assert driver.presigned_get_url("dl/blob", 60) is None
    else:
        assert driver.local_path("dl/blob") is None
        url = driver.presigned_get_url("dl/blob", 60)
        assert url is not None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=10) as response:
            assert response.read() == b"download me"


def test_check(driver: StorageDriver) -> None:
    driver.check()
    if isinstance(driver, FilesystemDriver):
        os.rmdir(driver.root)
        Path(driver.root).write_bytes(b"not a directory")
    else:
        assert isinstance(driver, S3Driver)
        driver.bucket = "no-such-bucket-here"
    with pytest.raises(StorageError):
        driver.check()


def test_s3_prefix_is_applied_and_stripped(s3_server: object) -> None:
    server = s3_server
    bucket = server.make_bucket()  # type: ignore[attr-defined]
    driver = server.make_driver(bucket, prefix="/tenant/one/")  # type: ignore[attr-defined]
    driver.put_bytes("a/b", b"x")
    raw = server.client.list_objects_v2(Bucket=bucket)  # type: ignore[attr-defined]
    assert [o["Key"] for o in raw["Contents"]] == ["tenant/one/a/b"]
    assert [o.key for o in driver.list_objects("")] == ["a/b"]
    assert list(driver.list_dirs("")) == ["a/"]
    assert driver.stat("a/b").key == "a/b"
    driver.move("a/b", "c")
    assert [o.key for o in driver.list_objects("")] == ["c"]
    assert driver.delete_prefix("") == 1


def test_create_driver(tmp_path: Path, s3_server: object) -> None:
    base = {
        "root": "",
        "bucket": "",
        "prefix": "",
        "endpoint_url": "",
        "region": "",
        "access_key_id": "",
        "secret_access_key": "",
        "path_style": False,
        "part_size": 8 * MIB,
    }
    fs = create_driver(SimpleNamespace(**{**base, "driver": "filesystem", "root": str(tmp_path)}))
    assert isinstance(fs, FilesystemDriver)
    fs.check()

    s3_cfg = {
        **base,
        "driver": "s3",
        "bucket": s3_server.make_bucket(),  # type: ignore[attr-defined]
        "endpoint_url": s3_server.endpoint_url,  # type: ignore[attr-defined]
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "path_style": True,
    }
    s3 = create_driver(SimpleNamespace(**s3_cfg))
    assert isinstance(s3, S3Driver)
    assert s3.min_part_size == PART
    s3.check()

    with pytest.raises(ValueError):
        create_driver(SimpleNamespace(**{**s3_cfg, "part_size": MIB}))
    with pytest.raises(ValueError):
        create_driver(SimpleNamespace(**{**base, "driver": "gcs"}))
    with pytest.raises(ValueError):
        create_driver(SimpleNamespace(**{**base, "driver": "filesystem"}))
