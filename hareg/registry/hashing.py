# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Resumable SHA-256 / SHA-512 whose running state can be stored in PostgreSQL.

Why this exists
---------------
A chunked blob upload (``POST`` + ``PATCH``... + ``PUT``) may be served by a
different registry process, or host, for every request. The digest of the blob
must therefore be computed incrementally, and the *running* hash state has to
survive between requests. :mod:`hashlib` cannot export its state, and re-reading
everything already uploaded from S3 on each ``PATCH`` would make an upload
quadratic. So we drive OpenSSL's low-level ``SHA256_CTX`` / ``SHA512_CTX`` API
through :mod:`ctypes`: the context is a plain C struct that we can read and
write field by field.

Serialized state format (version 1)
-----------------------------------
The state is *never* a raw dump of the C struct (whose padding, endianness and
unused bytes are host details) and *never* pickle. It is a fixed little-endian
record, built with :mod:`struct`::

    offset  size  field
    0       1     format version, always 1
    1       1     algorithm id: 1 = sha256, 2 = sha512
    -- sha256 (total 114 bytes) --
    2       32    h[0..7]   uint32 each
    34      4     Nl        uint32  (low word of the message length in bits)
    38      4     Nh        uint32  (high word of the message length in bits)
    42      64    block     raw bytes of the pending partial block
    106     4     num       uint32  (bytes used in ``block``, < 64)
    110     4     md_len    uint32  (always 32)
    -- sha512 (total 218 bytes) --
    2       64    h[0..7]   uint64 each
    66      8     Nl        uint64  (low word of the message length in bits)
    74      8     Nh        uint64  (high word of the message length in bits)
    82      128   block     raw bytes of the pending partial block
    210     4     num       uint32  (bytes used in ``block``, < 128)
    214     4     md_len    uint32  (always 64)

The bytes of ``block`` beyond ``num`` are always written as zero (OpenSSL leaves
stale data there), which makes the state canonical: the same input prefix gives
the same state bytes on every host. On load every invariant is checked (length,
version, algorithm id, ``md_len``, ``num`` < block size, zero tail, and that the
bit counter agrees with ``num``), so a truncated or corrupted column raises
:class:`ValueError` instead of silently producing a wrong digest.

OpenSSL stores the pending block as bytes (it ``memcpy``\\ s input into it) and
the ``h``/``Nl``/``Nh``/``num``/``md_len`` fields as native integers, so this
format is portable across hosts and OpenSSL 1.1 / 3.x. The layout of the C
structs is verified once at load time by a self-test against :mod:`hashlib`
(see :func:`_self_test`), so an ABI surprise fails loudly instead of hashing
wrongly.

Concurrency: ctypes releases the GIL while OpenSSL hashes, which is what we
want under gunicorn. A single :class:`ResumableHash` must not be updated from
two threads at once (same rule as for one upload: PATCHes are serialized).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import os
import struct
from dataclasses import dataclass

from ..grammar import SUPPORTED_ALGORITHMS

__all__ = ["SUPPORTED_ALGORITHMS", "ResumableHash"]

_STATE_VERSION = 1

# Extra bytes allocated after each C context. OpenSSL never writes there if our
# struct description is right; the self-test checks that it stays zero, as a
# tripwire for a library whose context is larger than we think.
_GUARD_SIZE = 64


class _Sha256Ctx(ctypes.Structure):
    """Mirror of OpenSSL's ``SHA256_CTX`` (112 bytes) plus a guard area."""

    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        # Declared ``unsigned int data[16]`` in C but used as a byte buffer.
        ("data", ctypes.c_ubyte * 64),
        ("num", ctypes.c_uint32),
        ("md_len", ctypes.c_uint32),
        ("guard", ctypes.c_ubyte * _GUARD_SIZE),
    ]


class _Sha512Ctx(ctypes.Structure):
    """Mirror of OpenSSL's ``SHA512_CTX`` (216 bytes) plus a guard area."""

    _fields_ = [
        ("h", ctypes.c_uint64 * 8),
        ("Nl", ctypes.c_uint64),
        ("Nh", ctypes.c_uint64),
        # ``union { SHA_LONG64 d[16]; unsigned char p[128]; } u``: byte buffer.
        ("data", ctypes.c_ubyte * 128),
        ("num", ctypes.c_uint32),
        ("md_len", ctypes.c_uint32),
        ("guard", ctypes.c_ubyte * _GUARD_SIZE),
    ]


@dataclass(frozen=True)
class _Algo:
    """Everything that differs between SHA-256 and SHA-512."""

    name: str
    algo_id: int
    ctx_type: type[ctypes.Structure]
    block_size: int
    digest_size: int
    word_fmt: str  # struct code of h/Nl/Nh
    word_bits: int  # width of Nl/Nh, to rebuild the bit counter
    c_prefix: str  # "SHA256" -> SHA256_Init / SHA256_Update / SHA256_Final

    @functools.cached_property
    def state_struct(self) -> struct.Struct:
        w = self.word_fmt
        return struct.Struct(f"<BB8{w}{w}{w}{self.block_size}sII")


_ALGOS: dict[str, _Algo] = {
    "sha256": _Algo("sha256", 1, _Sha256Ctx, 64, 32, "I", 32, "SHA256"),
    "sha512": _Algo("sha512", 2, _Sha512Ctx, 128, 64, "Q", 64, "SHA512"),
}
_ALGOS_BY_ID: dict[int, _Algo] = {a.algo_id: a for a in _ALGOS.values()}
assert frozenset(_ALGOS) == SUPPORTED_ALGORITHMS


def _libcrypto_candidates() -> list[str]:
    """Names/paths of libcrypto to try, best first.

    We want the very libcrypto that ``_hashlib`` uses, so that only one OpenSSL
    is in the process and the self-test compares like with like. Order:
    ``ctypes.util.find_library`` (the linker's choice), then whatever libcrypto
    importing ``_hashlib`` mapped into this process (covers pyenv/conda builds
    against a private OpenSSL that the system linker does not know about), then
    the common sonames.
    """
    candidates: list[str] = []
    found = ctypes.util.find_library("crypto")
    if found:
        candidates.append(found)
    try:
        import _hashlib  # noqa: F401  (ensures its libcrypto is mapped)

        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if os.path.basename(path).startswith("libcrypto.") and path not in candidates:
                    candidates.append(path)
    except (ImportError, OSError):
        pass
    for soname in ("libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"):
        if soname not in candidates:
            candidates.append(soname)
    return candidates


def _bind(lib: ctypes.CDLL, algo: _Algo) -> None:
    """Declare prototypes so ctypes neither truncates pointers nor guesses types."""
    ctx_p = ctypes.POINTER(algo.ctx_type)
    init = getattr(lib, f"{algo.c_prefix}_Init")
    init.argtypes, init.restype = [ctx_p], ctypes.c_int
    update = getattr(lib, f"{algo.c_prefix}_Update")
    update.argtypes, update.restype = [ctx_p, ctypes.c_void_p, ctypes.c_size_t], ctypes.c_int
    final = getattr(lib, f"{algo.c_prefix}_Final")
    final.argtypes, final.restype = [ctypes.c_char_p, ctx_p], ctypes.c_int


def _serialize(algo: _Algo, ctx: ctypes.Structure) -> bytes:
    """Encode a C context as a version-1 state record (see module docstring)."""
    num = ctx.num
    block = bytes(ctx.data[:num]).ljust(algo.block_size, b"\0")
    return algo.state_struct.pack(
        _STATE_VERSION, algo.algo_id, *ctx.h, ctx.Nl, ctx.Nh, block, num, ctx.md_len
    )


def _deserialize(algo: _Algo, state: bytes, ctx: ctypes.Structure) -> None:
    """Validate a state record completely, then install it into ``ctx``.

    Every check exists because a wrong-but-accepted state would make the
    registry compute a wrong digest and reject (or worse, mislabel) a blob.
    """
    try:
        raw = bytes(memoryview(state))  # psycopg2 hands bytea out as memoryview
    except TypeError:
        raise ValueError("hash state must be a bytes-like object") from None
    layout = algo.state_struct
    if len(raw) != layout.size:
        raise ValueError(
            f"malformed {algo.name} hash state: {len(raw)} bytes, expected {layout.size}"
        )
    version, algo_id, *h, nl, nh, block, num, md_len = layout.unpack(raw)
    if version != _STATE_VERSION:
        raise ValueError(f"unsupported hash state format version {version}")
    if algo_id != algo.algo_id:
        other = _ALGOS_BY_ID.get(algo_id)
        found = other.name if other else f"unknown algorithm id {algo_id}"
        raise ValueError(f"hash state is for {found}, not {algo.name}")
    if md_len != algo.digest_size:
        raise ValueError(f"malformed {algo.name} hash state: md_len={md_len}")
    if num >= algo.block_size:
        raise ValueError(f"malformed {algo.name} hash state: num={num} out of range")
    if any(block[num:]):
        raise ValueError(f"malformed {algo.name} hash state: garbage after pending bytes")
    bits = (nh << algo.word_bits) | nl
    if bits % 8 or (bits // 8) % algo.block_size != num:
        raise ValueError(f"malformed {algo.name} hash state: length counter mismatch")
    ctx.h[:] = h
    ctx.Nl, ctx.Nh = nl, nh
    ctypes.memmove(ctx.data, block, algo.block_size)
    ctx.num, ctx.md_len = num, md_len


def _self_test(lib: ctypes.CDLL, algo: _Algo) -> None:
    """Prove our struct mirror matches this libcrypto before trusting it.

    Checks field offsets through observable effects (``md_len``, counter and
    pending bytes after a short update), that nothing is written into the guard
    area, and a serialize/deserialize round trip across a block boundary
    against :mod:`hashlib`.
    """
    init = getattr(lib, f"{algo.c_prefix}_Init")
    update = getattr(lib, f"{algo.c_prefix}_Update")
    final = getattr(lib, f"{algo.c_prefix}_Final")
    probe, tail = b"hareg-self-test", bytes(range(256)) * 2
    ctx = algo.ctx_type()
    if init(ctypes.byref(ctx)) != 1:
        raise OSError(f"{algo.c_prefix}_Init failed")
    update(ctypes.byref(ctx), probe, len(probe))
    fields_ok = (
        ctx.md_len == algo.digest_size
        and ctx.num == len(probe)
        and (ctx.Nl, ctx.Nh) == (8 * len(probe), 0)
        and bytes(ctx.data[: len(probe)]) == probe
    )
    resumed = algo.ctx_type()
    if fields_ok:
        _deserialize(algo, _serialize(algo, ctx), resumed)
        update(ctypes.byref(resumed), tail, len(tail))
    out = ctypes.create_string_buffer(algo.digest_size)
    final(out, ctypes.byref(resumed))
    expected = hashlib.new(algo.name, probe + tail).digest()
    if not (fields_ok and out.raw == expected and not any(ctx.guard) and not any(resumed.guard)):
        raise OSError(f"{algo.c_prefix}_CTX layout does not match hareg's description")


@functools.cache
def _libcrypto() -> ctypes.CDLL:
    """Load, bind and self-test libcrypto once per process, on first use.

    Lazy so that merely importing this module (e.g. in tools or tests that never
    hash) does not require OpenSSL's deprecated low-level API.
    """
    errors: list[str] = []
    for candidate in _libcrypto_candidates():
        try:
            lib = ctypes.CDLL(candidate)
            for algo in _ALGOS.values():
                _bind(lib, algo)
                _self_test(lib, algo)
        except (OSError, AttributeError, ValueError) as exc:
            errors.append(f"{candidate}: {exc}")
            continue
        return lib
    raise OSError(
        "no usable libcrypto exporting SHA256_*/SHA512_* found; tried: " + "; ".join(errors)
    )


class ResumableHash:
    """Incremental SHA-256/SHA-512 whose state survives process boundaries.

    ``ResumableHash(algo)`` starts a new hash; ``ResumableHash(algo, state)``
    continues from bytes previously returned by :meth:`state` (possibly on
    another host). Not thread-safe for concurrent :meth:`update` calls.
    """

    __slots__ = ("_algo", "_ctx", "_final", "_update", "algorithm")

    algorithm: str

    def __init__(self, algorithm: str, state: bytes | None = None) -> None:
        algo = _ALGOS.get(algorithm) if isinstance(algorithm, str) else None
        if algo is None:
            raise ValueError(
                f"unsupported digest algorithm {algorithm!r}; "
                f"expected one of {sorted(SUPPORTED_ALGORITHMS)}"
            )
        lib = _libcrypto()
        self.algorithm = algorithm
        self._algo = algo
        self._update = getattr(lib, f"{algo.c_prefix}_Update")
        self._final = getattr(lib, f"{algo.c_prefix}_Final")
        self._ctx = algo.ctx_type()
        if state is None:
            if getattr(lib, f"{algo.c_prefix}_Init")(ctypes.byref(self._ctx)) != 1:
                raise OSError(f"{algo.c_prefix}_Init failed")
        else:
            _deserialize(algo, state, self._ctx)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed ``data`` to the hash without copying it.

        ``bytes`` are passed by pointer; writable buffers through
        ``c_char.from_buffer`` (which also pins a ``bytearray`` against resizing
        while OpenSSL reads it with the GIL released); read-only buffers such as
        a ``memoryview`` slice of ``bytes`` through ``PyObject_GetBuffer``.
        Non-contiguous buffers raise :class:`BufferError`, like :mod:`hashlib`.
        """
        ctx = ctypes.byref(self._ctx)
        if type(data) is bytes:
            self._update(ctx, data, len(data))
            return
        if isinstance(data, str):
            raise TypeError("strings must be encoded before hashing")
        with memoryview(data) as view:
            if not view.c_contiguous:
                raise BufferError("hashing requires a C-contiguous buffer")
            size = view.nbytes
            if size == 0:
                return
            if not view.readonly:
                chunk = (ctypes.c_char * size).from_buffer(view)
                try:
                    self._update(ctx, chunk, size)
                finally:
                    del chunk  # drop the export before the view is released
                return
        with _ReadOnlyBuffer(data) as (address, size):
            self._update(ctx, address, size)

    def state(self) -> bytes:
        """Serialize the running state (format documented in the module docstring)."""
        return _serialize(self._algo, self._ctx)

    def hexdigest(self) -> str:
        """Hex digest of the data so far; finalizes a copy, so hashing can go on."""
        ctx_copy = self._algo.ctx_type.from_buffer_copy(self._ctx)
        out = ctypes.create_string_buffer(self._algo.digest_size)
        if self._final(out, ctypes.byref(ctx_copy)) != 1:
            raise OSError(f"{self._algo.c_prefix}_Final failed")
        return out.raw.hex()

    def digest(self) -> str:
        """OCI digest string, e.g. ``"sha256:<hex>"`` (a str, unlike hashlib)."""
        return f"{self.algorithm}:{self.hexdigest()}"

    def __repr__(self) -> str:
        return f"<ResumableHash {self.algorithm} at {id(self):#x}>"


class _PyBuffer(ctypes.Structure):
    """CPython's ``Py_buffer`` (part of the stable ABI since 3.11)."""

    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_PyObject_GetBuffer = ctypes.pythonapi.PyObject_GetBuffer
_PyObject_GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_PyObject_GetBuffer.restype = ctypes.c_int
_PyBuffer_Release = ctypes.pythonapi.PyBuffer_Release
_PyBuffer_Release.argtypes = [ctypes.POINTER(_PyBuffer)]
_PyBuffer_Release.restype = None
_PyBUF_SIMPLE = 0


class _ReadOnlyBuffer:
    """Borrow the address of a read-only contiguous buffer without copying it.

    ``ctypes`` can only wrap *writable* buffers (``from_buffer``), and a
    ``memoryview`` does not reveal its offset into the exporting ``bytes``; the
    buffer protocol itself does, and holding the export keeps the memory alive
    while OpenSSL reads it with the GIL released.
    """

    __slots__ = ("_obj", "_view")

    def __init__(self, obj: object) -> None:
        self._obj = obj
        self._view = _PyBuffer()

    def __enter__(self) -> tuple[int, int]:
        # PyDLL raises the Python exception (e.g. BufferError) set on failure.
        _PyObject_GetBuffer(self._obj, ctypes.byref(self._view), _PyBUF_SIMPLE)
        return self._view.buf or 0, self._view.len

    def __exit__(self, *exc_info: object) -> None:
        _PyBuffer_Release(ctypes.byref(self._view))
