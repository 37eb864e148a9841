# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Tests for the resumable hash used by chunked blob uploads.

hashlib is the oracle: whatever the chunking, saving and restoring, the digest
must equal hashlib's over the concatenated data, because a mismatch means the
registry rejects (or mislabels) a client's blob.
"""

from __future__ import annotations

import array
import hashlib
import random
import struct
import subprocess
import sys

import pytest

from hareg.registry.hashing import SUPPORTED_ALGORITHMS, ResumableHash

ALGORITHMS = sorted(SUPPORTED_ALGORITHMS)
BLOCK = {"sha256": 64, "sha512": 128}
STATE_LEN = {"sha256": 114, "sha512": 218}
RNG = random.Random(0x4A12E6)
DATA = RNG.randbytes(3 * 1024 * 1024 + 17)

# FIPS 180-4 initial hash values, to pin the on-disk format independently of
# OpenSSL: states live in PostgreSQL and must stay readable across releases.
# fmt: off
IV = {
    "sha256": (
        0x6A09E667,
        0xBB67AE85,
        0x3C6EF372,
        0xA54FF53A,
        0x510E527F,
        0x9B05688C,
        0x1F83D9AB,
        0x5BE0CD19,
    ),
    "sha512": (
        0x6A09E667F3BCC908,
        0xBB67AE8584CAA73B,
        0x3C6EF372FE94F82B,
        0xA54FF53A5F1D36F1,
        0x510E527FADE682D1,
        0x9B05688C2B3E6C1F,
        0x1F83D9ABFB41BD6B,
        0x5BE0CD19137E2179,
    ),
}
# fmt: on
FORMAT = {"sha256": "<BB8III64sII", "sha512": "<BB8QQQ128sII"}
ALGO_ID = {"sha256": 1, "sha512": 2}


def expected(algorithm: str, data: bytes) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def test_supported_algorithms() -> None:
    assert frozenset({"sha256", "sha512"}) == SUPPORTED_ALGORITHMS


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    "size",
    [0, 1, 3, 55, 56, 57, 63, 64, 65, 111, 112, 113, 119, 120, 127, 128, 129, 255, 256, 1000],
)
def test_matches_hashlib_at_block_boundaries(algorithm: str, size: int) -> None:
    h = ResumableHash(algorithm)
    h.update(DATA[:size])
    assert h.algorithm == algorithm
    assert h.hexdigest() == expected(algorithm, DATA[:size])
    assert h.digest() == f"{algorithm}:{expected(algorithm, DATA[:size])}"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_input(algorithm: str) -> None:
    h = ResumableHash(algorithm)
    empty = expected(algorithm, b"")
    assert h.hexdigest() == empty
    h.update(b"")
    h.update(bytearray())
    h.update(memoryview(b""))
    assert h.hexdigest() == empty


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_large_random_data_in_random_chunks_of_every_buffer_type(algorithm: str) -> None:
    rng = random.Random(algorithm)
    h = ResumableHash(algorithm)
    pos = 0
    kinds = ["bytes", "bytearray", "ro_view", "rw_view", "array"]
    while pos < len(DATA):
        n = rng.choice([1, 63, 64, 127, 128, 129, 4096, 65536, 262144 + 7])
        piece = DATA[pos : pos + n]
        kind = rng.choice(kinds)
        if kind == "bytes":
            h.update(piece)
        elif kind == "bytearray":
            h.update(bytearray(piece))
        elif kind == "ro_view":  # a slice of bytes at a non-zero offset
            h.update(memoryview(DATA)[pos : pos + n])
        elif kind == "rw_view":
            h.update(memoryview(bytearray(b"xx" + piece + b"yy"))[2:-2])
        else:
            h.update(array.array("B", piece))
        pos += len(piece)
    assert h.hexdigest() == expected(algorithm, DATA)


def test_non_byte_item_formats_hash_their_raw_bytes() -> None:
    words = array.array("I", range(1000))
    for data in (words, memoryview(words)[10:500], memoryview(bytes(words)).cast("I")):
        h = ResumableHash("sha256")
        h.update(data)
        assert h.hexdigest() == hashlib.sha256(data).hexdigest()


def test_rejects_str_and_non_contiguous_buffers_like_hashlib() -> None:
    h = ResumableHash("sha256")
    with pytest.raises(TypeError):
        h.update("text")  # type: ignore[arg-type]
    with pytest.raises(BufferError):
        h.update(memoryview(DATA[:100])[::2])
    with pytest.raises(BufferError):
        h.update(memoryview(bytearray(100))[::2])
    assert h.hexdigest() == expected("sha256", b"")


def test_update_does_not_keep_buffers_exported() -> None:
    """A leaked export would make the caller's bytearray unresizable."""
    buf = bytearray(DATA[:1000])
    view = memoryview(buf)
    h = ResumableHash("sha256")
    h.update(buf)
    h.update(view[10:20])
    view.release()
    buf.extend(b"more")  # raises BufferError if an export leaked
    buf.clear()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_save_restore_at_every_split_point(algorithm: str) -> None:
    data = DATA[: 3 * BLOCK[algorithm] + 5]
    want = expected(algorithm, data)
    for cut in range(len(data) + 1):
        first = ResumableHash(algorithm)
        first.update(data[:cut])
        state = first.state()
        assert type(state) is bytes and len(state) == STATE_LEN[algorithm]
        resumed = ResumableHash(algorithm, state)
        assert resumed.state() == state
        resumed.update(data[cut:])
        assert resumed.hexdigest() == want, cut


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_chain_of_patches_each_on_a_fresh_object(algorithm: str) -> None:
    """Mimics an upload where every PATCH lands on another instance."""
    rng = random.Random(7)
    state: bytes | None = None
    pos = 0
    while pos < 1024 * 1024:
        h = ResumableHash(algorithm, state)
        n = rng.randint(0, 50_000)
        h.update(memoryview(DATA)[pos : pos + n])
        pos += n
        state = h.state()
    assert ResumableHash(algorithm, state).hexdigest() == expected(algorithm, DATA[:pos])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_state_is_canonical_regardless_of_chunking(algorithm: str) -> None:
    data = DATA[: 5 * BLOCK[algorithm] + 9]
    one = ResumableHash(algorithm)
    one.update(data)
    many = ResumableHash(algorithm)
    for i in range(0, len(data), 13):
        many.update(data[i : i + 13])
    assert one.state() == many.state()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_state_format_is_pinned(algorithm: str) -> None:
    """The documented v1 layout, built from first principles, not from OpenSSL."""
    h = ResumableHash(algorithm)
    h.update(b"abc")
    block = b"abc".ljust(BLOCK[algorithm], b"\0")
    md_len = hashlib.new(algorithm).digest_size
    golden = struct.pack(
        FORMAT[algorithm], 1, ALGO_ID[algorithm], *IV[algorithm], 24, 0, block, 3, md_len
    )
    assert h.state() == golden
    # ...and a hand-made state for "ab" continues correctly.
    handmade = struct.pack(
        FORMAT[algorithm],
        1,
        ALGO_ID[algorithm],
        *IV[algorithm],
        16,
        0,
        b"ab".ljust(BLOCK[algorithm], b"\0"),
        2,
        md_len,
    )
    resumed = ResumableHash(algorithm, handmade)
    resumed.update(b"c")
    assert resumed.hexdigest() == expected(algorithm, b"abc")


def test_state_accepts_bytes_like_objects_from_db_drivers() -> None:
    h = ResumableHash("sha256")
    h.update(DATA[:100])
    state = h.state()
    for wrapped in (bytearray(state), memoryview(state)):
        assert ResumableHash("sha256", wrapped).state() == state  # type: ignore[arg-type]


_CHILD = """
import sys
from hareg.registry.hashing import ResumableHash
algorithm, state_hex = sys.argv[1], sys.argv[2]
h = ResumableHash(algorithm, bytes.fromhex(state_hex))
h.update(sys.stdin.buffer.read())
print(h.digest())
print(h.state().hex())
"""


def test_restore_in_another_process() -> None:
    """Only the serialized bytes cross the boundary; no shared memory, no pickle."""
    cut = 10_000 + 77
    data = DATA[:50_000]
    parent = {a: ResumableHash(a) for a in ALGORITHMS}
    for h in parent.values():
        h.update(data[:cut])
    for algorithm, h in parent.items():
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, algorithm, h.state().hex()],
            input=data[cut:],
            capture_output=True,
            check=True,
            timeout=60,
        )
        digest, child_state = proc.stdout.decode().split()
        assert digest == f"{algorithm}:{expected(algorithm, data)}"
        # And back: the child's state continues here.
        back = ResumableHash(algorithm, bytes.fromhex(child_state))
        back.update(b"tail")
        assert back.hexdigest() == expected(algorithm, data + b"tail")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_hexdigest_is_non_destructive(algorithm: str) -> None:
    h = ResumableHash(algorithm)
    h.update(DATA[:100])
    before = h.state()
    assert h.hexdigest() == expected(algorithm, DATA[:100])
    assert h.digest() == f"{algorithm}:{expected(algorithm, DATA[:100])}"
    assert h.state() == before
    h.update(DATA[100:300])
    assert h.hexdigest() == expected(algorithm, DATA[:300])


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA256", "sha384", "", "sha256:"])
def test_unknown_algorithm(algorithm: str) -> None:
    with pytest.raises(ValueError, match="unsupported digest algorithm"):
        ResumableHash(algorithm)


def _valid_state(algorithm: str, size: int = 70) -> bytes:
    h = ResumableHash(algorithm)
    h.update(DATA[:size])
    return h.state()


def _patched(algorithm: str, **fields: int | bytes) -> bytes:
    """A valid state with some fields replaced (names as in the format docs)."""
    names = ["version", "algo_id", *(f"h{i}" for i in range(8)), "Nl", "Nh", "block"]
    names += ["num", "md_len"]
    values = dict(
        zip(names, struct.unpack(FORMAT[algorithm], _valid_state(algorithm)), strict=True)
    )
    values.update(fields)
    return struct.pack(FORMAT[algorithm], *values.values())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_rejects_wrong_length(algorithm: str) -> None:
    good = _valid_state(algorithm)
    other = "sha512" if algorithm == "sha256" else "sha256"
    for bad in (b"", good[:-1], good + b"\0", good[:2], _valid_state(other)):
        with pytest.raises(ValueError, match="expected"):
            ResumableHash(algorithm, bad)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"version": 0}, "format version 0"),
        ({"version": 2}, "format version 2"),
        ({"version": 255}, "format version 255"),
        ({"algo_id": 0}, "unknown algorithm id 0"),
        ({"algo_id": 99}, "unknown algorithm id 99"),
        ({"md_len": 0}, "md_len"),
        ({"md_len": 28}, "md_len"),  # SHA-224 / SHA-384 contexts are not ours
        ({"md_len": 48}, "md_len"),
        ({"num": 10_000}, "num=10000 out of range"),
        ({"num": 0xFFFFFFFF}, "out of range"),
        ({"Nl": 8 * 71}, "counter mismatch"),
        ({"Nl": 8 * 70 + 1}, "counter mismatch"),
        ({"num": 1}, "garbage after pending bytes"),
    ],
)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_rejects_malformed_fields(algorithm: str, fields: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResumableHash(algorithm, _patched(algorithm, **fields))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_rejects_num_at_block_size_and_garbage_tail(algorithm: str) -> None:
    block = BLOCK[algorithm]
    with pytest.raises(ValueError, match="out of range"):
        ResumableHash(algorithm, _patched(algorithm, num=block, Nl=8 * block))
    dirty = (DATA[:6] + b"\x01").ljust(block, b"\0")
    with pytest.raises(ValueError, match="garbage"):
        ResumableHash(algorithm, _patched(algorithm, num=6, Nl=8 * 6, block=dirty))


def test_rejects_state_of_the_other_algorithm() -> None:
    # Same length as a sha256 state, but labelled sha512.
    with pytest.raises(ValueError, match="is for sha512, not sha256"):
        ResumableHash("sha256", _patched("sha256", algo_id=2))
    with pytest.raises(ValueError, match="is for sha256, not sha512"):
        ResumableHash("sha512", _patched("sha512", algo_id=1))


@pytest.mark.parametrize("bad", [12345, "00" * 114, object()])
def test_rejects_non_bytes_state(bad: object) -> None:
    with pytest.raises(ValueError):
        ResumableHash("sha256", bad)  # type: ignore[arg-type]


def test_random_garbage_never_loads_silently() -> None:
    rng = random.Random(3)
    for algorithm in ALGORITHMS:
        for _ in range(200):
            garbage = rng.randbytes(STATE_LEN[algorithm])
            with pytest.raises(ValueError):
                ResumableHash(algorithm, garbage)
