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
_HDR_CRIT = 2
_HDR_KID = 4
_ES256 = -7
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""n of P-256: an ECDSA signature (r, s) also verifies as (r, n − s), so only s ≤ n/2 (low-S) is canonical."""
_P256_HALF = P256_ORDER // 2
NOT_CANONICAL = "payload_not_canonical"
CRITICAL_HEADER = "critical_header_unsupported"
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
_SMALL_BSTR_HEADS = tuple(bytes((0x40 | n,)) for n in range(24))


def _bstr_head(n: int) -> bytes:
    """Deterministic CBOR byte-string head (major type 2) for length ``n``."""
    if n < 24:
        return bytes((0x40 | n,))
    if n < 0x100:
        return bytes((0x58, n))
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big")
    return b"\x5a" + n.to_bytes(4, "big")


_SHORT_HEADS = tuple(bytes((0x40, 0x58, n)) for n in range(0x100))
"""``h''`` then the head of a 24-255 byte payload, by its length."""


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, h'', payload]`` in deterministic CBOR (built directly: hot path)."""
    n = len(payload)
    if len(protected) < 24 and 24 <= n < 0x100:  # the licence QR's shape: one-byte heads
        return b"".join((_SIG1_HEAD, _SMALL_BSTR_HEADS[len(protected)], protected, _SHORT_HEADS[n], payload))
    return b"".join((_SIG1_HEAD, _bstr_head(len(protected)), protected, b"\x40", _bstr_head(n), payload))


def sign1(payload: bytes, signer: Signer, kid: bytes) -> bytes:
    """Produce a tagged COSE_Sign1 message over ``payload`` (ES256: low-S, the one canonical form)."""
    alg = signer.algorithm
    protected = _protected_header(alg.cose_id, kid)
    signature = low_s(alg.cose_id, der_to_cose(alg, signer.sign(sig_structure(protected, payload))))
    # ``18([protected, {}, payload, signature])`` in deterministic CBOR, built directly (the shape
    # :func:`_parse_canonical` reads; the tests hold it equal to ``cbor.dumps`` of the same array)
    return b"".join(
        (b"\xd2\x84", _bstr_head(len(protected)), protected, b"\xa0", _bstr_head(len(payload)), payload,
         _bstr_head(len(signature)), signature)
    )  # fmt: skip


_PROTECTED: dict[tuple[int, bytes], bytes] = {}


def _protected_header(alg_id: int, kid: bytes) -> bytes:
    """The serialised protected header ``{alg, kid}``, encoded once per signer (bulk issuing signs twice a licence)."""
    header = _PROTECTED.get((alg_id, kid))
    if header is None:
        header = cbor.dumps({_HDR_ALG: alg_id, _HDR_KID: kid})
        if len(_PROTECTED) < 256:
            _PROTECTED[(alg_id, kid)] = header
    return header


def low_s(alg_id: int, signature: bytes) -> bytes:
    """An ES256 ``r‖s`` with s replaced by n − s when s > n/2 (OpenSSL signs high-S half the time; an HSM may
    too). Verifiers refuse high-S (:func:`sign1_parts`), so every signature we emit is normalised here."""
    if alg_id != _ES256 or len(signature) != 64:
        return signature
    s = int.from_bytes(signature[32:], "big")
    return signature if s <= _P256_HALF else signature[:32] + (P256_ORDER - s).to_bytes(32, "big")


def _not_canonical(what: str) -> PayloadError:
    return PayloadError(
        f"not the canonical encoding: {what}",
        message_zh=f"不是规范编码：{what}",
        details={"reason": NOT_CANONICAL, "attack": "second_encoding"},
    )


def _bstr_at(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """The minimally encoded byte string at ``pos`` and the position after it, else ``None``."""
    head = data[pos] if pos < len(data) else -1
    if 0x40 <= head < 0x58:
        n, pos = head - 0x40, pos + 1
    elif head == 0x58:
        n, pos = (data[pos + 1] if pos + 1 < len(data) else 0), pos + 2
        if n < 24:
            return None
    elif head == 0x59:
        n, pos = int.from_bytes(data[pos + 1 : pos + 3], "big"), pos + 3
        if n < 0x100:
            return None
    else:
        return None
    end = pos + n
    if end > len(data):
        return None
    return data[pos:end], end


def _parse_canonical(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(protected, payload, signature) when ``data`` is exactly the canonical profile shape, else ``None``.

    ``D2 84 bstr A0 bstr bstr`` with minimal length heads and nothing after: the
    shape every conforming signer emits, read without a general CBOR decoder (hot
    path). Anything else, valid or not, goes to the strict general parser, so
    this shortcut never accepts what that parser refuses.
    """
    if data[:2] != b"\xd2\x84":
        return None
    item = _bstr_at(data, 2)
    if item is None:
        return None
    protected, pos = item
    if data[pos : pos + 1] != b"\xa0":
        return None
    item = _bstr_at(data, pos + 1)
    if item is None:
        return None
    payload, pos = item
    item = _bstr_at(data, pos)
    if item is None or item[1] != len(data):
        return None
    return protected, payload, item[0]


def parse_sign1(data: bytes) -> CoseSign1:
    """Parse and check the structure (not the signature) of a COSE_Sign1 message."""
    protected, alg_id, kid, payload, signature = sign1_parts(data)
    message = object.__new__(CoseSign1)  # every field checked: skip the frozen __init__'s setattr calls
    message.__dict__.update(protected=protected, alg_id=alg_id, kid=kid, payload=payload, signature=signature)
    return message


def sign1_parts(data: bytes) -> tuple[bytes, int, bytes, bytes, bytes]:
    """:func:`parse_sign1` as a tuple ``(protected, alg_id, kid, payload, signature)`` (the verify hot path)."""
    data = bytes(data)
    size = len(data)
    # The licence QR's own shape, read at fixed offsets (hot path): D2 84, a short protected header,
    # A0, a payload of 24-255 bytes (58 n), a 64-byte signature (58 40), nothing after.
    p = data[2] - 0x40 if size > 2 else -1
    if 0 <= p < 24 and size > 6 + p and data[:2] == b"\xd2\x84" and data[3 + p] == 0xA0 and data[4 + p] == 0x58:
        end = 6 + p + data[5 + p]
        if data[5 + p] >= 24 and size == end + 66 and data[end] == 0x58 and data[end + 1] == 0x40:
            fast: tuple[bytes, bytes, bytes] | None = (data[3 : 3 + p], data[6 + p : end], data[end + 2 :])
        else:
            fast = _parse_canonical(data)
    else:
        fast = _parse_canonical(data)
    if fast is None:
        m = _parse_general(data)
        fast = m.protected, m.payload, m.signature
    protected, payload, signature = fast
    header = _HEADERS.get(protected)
    if header is None:
        header = _header(protected)
    if header[0] == _ES256 and len(signature) == 64 and int.from_bytes(signature[32:], "big") > _P256_HALF:
        raise _not_canonical("high-S ECDSA signature (s > n/2)")
    return protected, header[0], header[1], payload, signature


def sign1_envelope(data: bytes) -> tuple[cbor2.CBORTag, bytes, bytes, bytes]:
    """A tagged COSE_Sign1's shape, for every COSE_Sign1 elicense reads (licence and device messages): four
    items, byte strings, an empty unprotected header. Returns the decoded message, protected header,
    payload and signature; their meaning is the caller's."""
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
    return obj, protected, payload, signature


def _parse_general(data: bytes) -> CoseSign1:
    """The strict general parser (any encoding cbor2 reads; the tests hold the canonical shortcut equal to it)."""
    obj, protected, payload, signature = sign1_envelope(data)
    header = _HEADERS.get(protected)
    if header is None:
        header = _header(protected)
    if cbor.dumps(obj) != data:  # non-minimal heads, a long-form tag 18...: same message, other bytes
        raise _not_canonical("COSE_Sign1 structure")
    if header[0] == _ES256 and len(signature) == 64 and int.from_bytes(signature[32:], "big") > _P256_HALF:
        raise _not_canonical("high-S ECDSA signature (s > n/2)")
    return CoseSign1(protected, header[0], header[1], payload, signature)


def _header(protected: bytes) -> tuple[int, bytes]:
    header = _parse_protected(protected)
    if len(_HEADERS) >= _HEADER_CACHE_SIZE:
        _HEADERS.clear()
    _HEADERS[protected] = header
    return header


_HEADER_CACHE_SIZE = 1024
_HEADERS: dict[bytes, tuple[int, bytes]] = {}
"""Parsed protected headers by their exact bytes: one per signing key, repeated on every payload."""


def _parse_protected(protected: bytes) -> tuple[int, bytes]:
    header = cbor.loads(protected, max_depth=2)  # 2: a crit array is read, then refused by name
    if isinstance(header, dict) and _HDR_CRIT in header:
        raise PayloadError(
            "COSE protected header marks parameters critical (crit): none is supported",
            message_zh="COSE 保护头含有不支持的关键参数（crit）",
            details={"reason": CRITICAL_HEADER},
        )
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
    if cbor.dumps(header) != protected:
        raise _not_canonical("COSE protected header")
    return alg_id, kid


def algorithm_of(message: CoseSign1) -> Algorithm:
    """The message's algorithm, if it is one this library knows (else AlgorithmNotAllowed)."""
    return Algorithm.from_cose_id(message.alg_id)
