"""COSE_Sign1 (RFC 9052) with a deliberately narrow profile.

Profile (normative in ``specs/qr-payload.md``): tagged (18); the protected
header is a map holding exactly ``alg`` (1) and ``kid`` (4); the unprotected
header is an empty map — an ``alg`` or ``kid`` there is an attack
(algorithm substitution), not a convenience; no external AAD; ECDSA
signatures are fixed-length ``r‖s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cbor2

from elicense.crypto.algorithms import Algorithm, der_to_cose
from elicense.crypto.keys import Signer
from elicense.errors import PayloadError
from elicense.qr import cbor

COSE_SIGN1_TAG = 18
_HDR_ALG = 1
_HDR_KID = 4
MAX_KID_LENGTH = 32
_TAG18 = frozenset({COSE_SIGN1_TAG})


@dataclass(frozen=True)
class CoseSign1:
    """A parsed, not yet verified, COSE_Sign1 message."""

    protected: bytes
    """The serialised protected header (signed as is)."""
    alg_id: int
    """COSE ``alg`` from the protected header (validated against the allow-list later)."""
    kid: bytes
    """Key id from the protected header."""
    payload: bytes
    """The signed payload bytes."""
    signature: bytes
    """Signature in COSE form."""

    def to_be_signed(self) -> bytes:
        """The ``Sig_structure`` bytes the signature covers."""
        return sig_structure(self.protected, self.payload)


_SIG1_HEAD = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"


def _bstr_head(n: int) -> bytes:
    """Deterministic CBOR byte-string head (major type 2) for length ``n``."""
    if n < 24:
        return bytes((0x40 | n,))
    if n < 0x100:
        return bytes((0x58, n))
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big")
    return b"\x5a" + n.to_bytes(4, "big")


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, h'', payload]`` in deterministic CBOR (built directly: hot path)."""
    return b"".join((_SIG1_HEAD, _bstr_head(len(protected)), protected, b"\x40", _bstr_head(len(payload)), payload))


def sign1(payload: bytes, signer: Signer, kid: bytes) -> bytes:
    """Produce a tagged COSE_Sign1 message over ``payload``."""
    protected = cbor.dumps({_HDR_ALG: signer.algorithm.cose_id, _HDR_KID: kid})
    signature = der_to_cose(signer.algorithm, signer.sign(sig_structure(protected, payload)))
    return cbor.dumps(cbor.tag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def parse_sign1(data: bytes) -> CoseSign1:
    """Parse and check the structure (not the signature) of a COSE_Sign1 message."""
    obj = cbor.loads(data, allowed_tags=_TAG18, max_depth=4)
    if not isinstance(obj, cbor2.CBORTag) or obj.tag != COSE_SIGN1_TAG:
        raise PayloadError("not a tagged COSE_Sign1 message", message_zh="不是 COSE_Sign1 签名结构")
    body = obj.value
    if not isinstance(body, list | tuple) or len(body) != 4:
        raise PayloadError("COSE_Sign1 must be an array of four items", message_zh="COSE_Sign1 结构错误")
    protected, unprotected, payload, signature = body
    if not isinstance(protected, bytes) or not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise PayloadError("COSE_Sign1 items have wrong types", message_zh="COSE_Sign1 字段类型错误")
    if not isinstance(unprotected, Mapping) or len(unprotected) != 0:
        raise PayloadError(
            "COSE unprotected header must be empty (alg/kid belong in the protected header)",
            message_zh="COSE 非保护头必须为空",
            details={"attack": "unprotected_header"},
        )
    header = _HEADERS.get(protected)
    if header is None:
        header = _parse_protected(protected)
        if len(_HEADERS) >= _HEADER_CACHE_SIZE:
            _HEADERS.clear()
        _HEADERS[protected] = header
    return CoseSign1(protected, header[0], header[1], payload, signature)


_HEADER_CACHE_SIZE = 1024
_HEADERS: dict[bytes, tuple[int, bytes]] = {}
"""Parsed protected headers by their exact bytes: one per signing key, repeated on every payload."""


def _parse_protected(protected: bytes) -> tuple[int, bytes]:
    header = cbor.loads(protected, max_depth=1)
    if not isinstance(header, dict) or set(header) != {_HDR_ALG, _HDR_KID}:
        raise PayloadError(
            "COSE protected header must hold exactly alg and kid",
            message_zh="COSE 保护头必须且只能包含 alg 与 kid",
        )
    alg_id, kid = header[_HDR_ALG], header[_HDR_KID]
    if not isinstance(alg_id, int) or isinstance(alg_id, bool):
        raise PayloadError("COSE alg must be an integer", message_zh="COSE 算法标识错误")
    if not isinstance(kid, bytes) or not 1 <= len(kid) <= MAX_KID_LENGTH:
        raise PayloadError("COSE kid must be 1-32 bytes", message_zh="COSE 密钥标识错误")
    return alg_id, kid


def algorithm_of(message: CoseSign1) -> Algorithm:
    """The message's algorithm, if it is one this library knows (else AlgorithmNotAllowed)."""
    return Algorithm.from_cose_id(message.alg_id)
