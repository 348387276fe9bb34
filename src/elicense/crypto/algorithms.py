"""The algorithm allow-list: the one place that maps algorithm names to crypto.

Verification never takes an algorithm from the document alone: the document
names one, and it is used only if the caller's :class:`AlgorithmPolicy` allows
it *and* the signer's key is of the matching type. New suites (SM2) plug in
here and nowhere else.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from elicense.errors import AlgorithmNotAllowed, CryptoError

if TYPE_CHECKING:
    from elicense.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


class Algorithm(enum.Enum):
    """Signature algorithms, valued by their COSE identifier (RFC 9053)."""

    ES256 = -7
    """ECDSA P-256 with SHA-256: the default (fastest verify on kiosk hardware)."""
    EDDSA = -8
    """Ed25519."""
    PS256 = -37
    """RSASSA-PSS with SHA-256, MGF1-SHA-256, salt length 32."""
    SM2 = -65537
    """SM2 with SM3, default user id (GB/T 32918). COSE registers no SM2 id: this is the first
    private-use value (< -65536, RFC 9053 §11), documented in ``specs/sm2.md``. Signatures are
    ``r‖s`` like ES256. Not in :meth:`AlgorithmPolicy.default`: verifiers opt in."""

    @property
    def cose_id(self) -> int:
        """The COSE ``alg`` header value."""
        return self.value

    @property
    def label(self) -> str:
        """Name used on the command line and in specs (``ES256``, ``EdDSA``, ``PS256``)."""
        return _LABELS[self]

    @classmethod
    def from_label(cls, label: str) -> Algorithm:
        """Parse a user-supplied algorithm name (case-insensitive)."""
        for alg, name in _LABELS.items():
            if name.lower() == label.strip().lower():
                return alg
        raise AlgorithmNotAllowed(
            f"unknown algorithm {label!r} (known: {', '.join(_LABELS.values())})",
            message_zh=f"未知算法 {label!r}",
        )

    @classmethod
    def from_cose_id(cls, value: object) -> Algorithm:
        """Map a COSE ``alg`` value; anything unknown is refused, never guessed."""
        if isinstance(value, int) and not isinstance(value, bool):
            alg = _BY_COSE_ID.get(value)
            if alg is not None:
                return alg
        raise AlgorithmNotAllowed(f"unsupported COSE algorithm {value!r}", message_zh=f"不支持的签名算法 {value!r}")

    @classmethod
    def for_key(cls, key: PublicKey | PrivateKey | Sm2PublicKey | Sm2PrivateKey) -> Algorithm:
        """The algorithm this library uses with a key of that type."""
        if is_sm2_key(key):
            return cls.SM2
        if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
            if isinstance(key.curve, ec.SECP256R1):
                return cls.ES256
            raise CryptoError(f"unsupported EC curve {key.curve.name}")
        if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
            return cls.EDDSA
        if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
            if key.key_size < 2048:
                raise CryptoError("RSA keys below 2048 bits are not accepted")
            return cls.PS256
        raise CryptoError(f"unsupported key type {type(key).__name__}")


_LABELS = {Algorithm.ES256: "ES256", Algorithm.EDDSA: "EdDSA", Algorithm.PS256: "PS256", Algorithm.SM2: "SM2"}
_BY_COSE_ID = {alg.value: alg for alg in Algorithm}

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_SHA256 = hashes.SHA256()


@dataclass(frozen=True)
class AlgorithmPolicy:
    """Which algorithms a verifier accepts. Explicit, like pyjwt's ``algorithms=``."""

    allowed: frozenset[Algorithm]
    """The accepted algorithms; anything else is refused before any key is touched."""

    def __post_init__(self) -> None:
        if not self.allowed:
            raise CryptoError("an algorithm policy must allow at least one algorithm")

    @classmethod
    def of(cls, algorithms: Iterable[Algorithm | str]) -> AlgorithmPolicy:
        """Build from algorithms or their labels."""
        return cls(frozenset(a if isinstance(a, Algorithm) else Algorithm.from_label(a) for a in algorithms))

    @classmethod
    def default(cls) -> AlgorithmPolicy:
        """ES256, EdDSA and PS256; SM2 only when the caller opts in (``AlgorithmPolicy.of``)."""
        return cls(frozenset(a for a in Algorithm if a is not Algorithm.SM2))

    def check(self, alg: Algorithm) -> None:
        """Raise :class:`AlgorithmNotAllowed` unless ``alg`` is allowed."""
        if alg not in self.allowed:
            raise AlgorithmNotAllowed(
                f"algorithm {alg.label} is not allowed by this verifier's policy",
                message_zh=f"签名算法 {alg.label} 不在允许列表中",
            )


def sign_raw(key: PrivateKey | Sm2PrivateKey, alg: Algorithm, data: bytes) -> bytes:
    """Sign ``data``; ECDSA and SM2 signatures come back as DER (the CMS/X.509 form)."""
    _require_match(key, alg)
    if alg is Algorithm.SM2:
        from elicense.crypto.sm2 import Sm2PrivateKey

        assert isinstance(key, Sm2PrivateKey)
        return key.sign(data)
    if alg is Algorithm.ES256:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.sign(data, _ECDSA_SHA256)
    if alg is Algorithm.EDDSA:
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        return key.sign(data)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(data, _PSS, _SHA256)


def raw_signer(key: PrivateKey | Sm2PrivateKey, alg: Algorithm) -> Callable[[bytes], bytes]:
    """:func:`sign_raw` with ``key`` and ``alg`` checked once: the signing function itself (bulk issuing
    signs twice a licence, and the key-type checks cost a tenth of an ES256 signature)."""
    _require_match(key, alg)
    if alg is Algorithm.ES256:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return functools.partial(key.sign, signature_algorithm=_ECDSA_SHA256)
    return functools.partial(sign_raw, key, alg)


def verify_cose_signature(key: PublicKey | Sm2PublicKey, alg: Algorithm, signature: bytes, data: bytes) -> bool:
    """Verify a COSE-format signature (ECDSA and SM2 as fixed-length ``r‖s``, RFC 9053 §2.1).

    Strict: an ECDSA/SM2 signature of any other length is rejected, never re-parsed as DER.
    """
    if alg is Algorithm.SM2:
        return _verify_sm2(key, signature, data)
    try:
        if alg is Algorithm.ES256:
            if not isinstance(key, ec.EllipticCurvePublicKey) or len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, data, _ECDSA_SHA256)
        elif alg is Algorithm.EDDSA:
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return False
            key.verify(signature, data)
        else:
            if not isinstance(key, rsa.RSAPublicKey) or len(signature) != key.key_size // 8:
                return False
            key.verify(signature, data, _PSS, _SHA256)
    except InvalidSignature:
        return False
    return True


def der_to_cose(alg: Algorithm, signature: bytes) -> bytes:
    """Convert a signer's output to the COSE form (ECDSA/SM2 DER → ``r‖s``)."""
    if alg is Algorithm.SM2:
        from elicense.crypto.sm2 import der_to_raw

        return der_to_raw(signature)
    if alg is Algorithm.ES256:
        r, s = decode_dss_signature(signature)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return signature


def is_sm2_key(key: object) -> TypeGuard[Sm2PublicKey | Sm2PrivateKey]:
    """Whether ``key`` is an SM2 key, without importing :mod:`elicense.crypto.sm2` on the ES256 path."""
    return type(key).__name__ in ("Sm2PublicKey", "Sm2PrivateKey") and type(key).__module__ == ("elicense.crypto.sm2")


def _verify_sm2(key: object, signature: bytes, data: bytes) -> bool:
    from elicense.crypto.sm2 import Sm2PublicKey, raw_to_der

    if not isinstance(key, Sm2PublicKey) or len(signature) != 64:
        return False
    try:
        der = raw_to_der(signature)
    except CryptoError:
        return False
    return key.verify(der, data)


def _require_match(key: PrivateKey | PublicKey | Sm2PrivateKey | Sm2PublicKey, alg: Algorithm) -> None:
    if Algorithm.for_key(key) is not alg:
        raise CryptoError(f"key type does not match algorithm {alg.label}")
