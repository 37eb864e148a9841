# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""Token keys: the private signing key, and the public keys tokens are verified with.

Key types: RSA (RS256) and EC P-256/P-384/P-521 (ES256/ES384/ES512). A verification key file
holds one or more PEM public keys or certificates, or a JWKS (``{"keys": [...]}``) or single
JWK as JSON. Key ids (``kid``) are RFC 7638 thumbprints unless a JWK names its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.S)


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file, never key material."""


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    key: PublicKey
    algorithms: tuple[str, ...]
    source: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def thumbprint(key: PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of ``key``."""
    if isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        members: dict[str, str] = {"e": _int_b64(nums.e), "kty": "RSA", "n": _int_b64(nums.n)}
    else:
        nums_ec = key.public_numbers()
        size = (key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]
        members = {"crv": crv, "kty": "EC", "x": _b64(nums_ec.x.to_bytes(size, "big")),
                   "y": _b64(nums_ec.y.to_bytes(size, "big"))}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return _b64(hashlib.sha256(canonical).digest())


def algorithms_for(key: PublicKey | PrivateKey) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise KeyFileError("RSA keys must have at least 2048 bits")
        return ("RS256", "RS384", "RS512")
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        alg = _EC_ALGORITHMS.get(key.curve.name)
        if alg:
            return (alg,)
    raise KeyFileError("only RSA and EC (P-256, P-384, P-521) keys are supported")


@dataclass(frozen=True)
class SigningKey:
    key: PrivateKey
    algorithm: str
    kid: str

    def verification_key(self, source: str) -> VerificationKey:
        public = self.key.public_key()
        return VerificationKey(self.kid, public, algorithms_for(public), source)


def load_signing_key(path: str) -> SigningKey:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise KeyFileError(f"cannot read signing key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key ({type(exc).__name__})"
                        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyFileError(f"{path}: only RSA and EC keys are supported")
    try:
        algorithm = algorithms_for(key)[0]
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    return SigningKey(key, algorithm, thumbprint(key.public_key()))


def _pem_keys(data: bytes, source: str) -> list[VerificationKey]:
    out = []
    for match in _PEM_BLOCK.finditer(data):
        block, kind = match.group(0), match.group(1)
        if kind == b"CERTIFICATE":
            public: Any = x509.load_pem_x509_certificate(block).public_key()
        elif kind == b"PUBLIC KEY" or kind == b"RSA PUBLIC KEY":
            public = serialization.load_pem_public_key(block)
        else:
            raise ValueError(f"{source}: PEM block {kind.decode()} is not a public key or"
                             " certificate")
        out.append(VerificationKey(thumbprint(public), public, algorithms_for(public), source))
    return out


def _jwk_keys(doc: Any, source: str) -> list[VerificationKey]:
    entries = doc.get("keys") if isinstance(doc, dict) and "keys" in doc else [doc]
    if not isinstance(entries, list):
        raise ValueError(f"{source}: \"keys\" must be a list")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            public = jwt.PyJWK(entry).key
        except jwt.PyJWTError as exc:
            raise ValueError(f"{source}: unusable JWK ({exc})") from None
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise ValueError(f"{source}: JWKs must be RSA or EC public keys")
        algs = algorithms_for(public)
        if isinstance(entry.get("alg"), str):
            if entry["alg"] not in algs:
                raise ValueError(f"{source}: JWK alg {entry['alg']} does not fit its key")
            algs = (entry["alg"],)
        kid = entry["kid"] if isinstance(entry.get("kid"), str) else thumbprint(public)
        out.append(VerificationKey(kid, public, algs, source))
    return out


def parse_public_keys(data: bytes, source: str) -> list[VerificationKey]:
    """Every verification key in one file (PEM, JWKS or JWK). Raises ValueError."""
    try:
        if data.lstrip().startswith(b"{"):
            keys = _jwk_keys(json.loads(data), source)
        else:
            keys = _pem_keys(data, source)
    except KeyFileError as exc:
        raise ValueError(f"{source}: {exc}") from None
    except (ValueError, TypeError, KeyError, jwt.PyJWTError) as exc:
        message = str(exc) if str(exc).startswith(source) else f"{source}: {type(exc).__name__}"
        raise ValueError(message) from None
    if not keys:
        raise ValueError(f"{source}: no public key found")
    return keys
