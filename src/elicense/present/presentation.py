"""The ``EP1:`` presentation (亮证): holder side (make) and codec (wrap/unwrap/parse).

The one module that defines a presentation's signed bytes (``specs/presentation.md`` §5):
a COSE_Sign1 made with the holder's **device key** over a CBOR map that holds the
issuer-signed MSO, a fresh nonce, the issue and expiry times and the disclosed
elements with their salts. Decoding is bounded exactly like ``EL2:``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from elicense.crypto.algorithms import Algorithm, PrivateKey, PublicKey, der_to_cose, sign_raw
from elicense.errors import PayloadError, UsageError
from elicense.model import require_utc
from elicense.qr import cbor
from elicense.qr.base45 import b45encode
from elicense.qr.cose import COSE_SIGN1_TAG, sig_structure, sign1_envelope
from elicense.qr.mso import HolderCredential
from elicense.qr.payload import compact
from elicense.qr.payload import unwrap as unwrap_payload

PREFIX = "EP1:"
DEFAULT_TTL = 300
"""Default lifetime of a presentation, seconds (5 minutes)."""
MAX_TTL = 3600
"""Longest lifetime a verifier accepts (``expires_at - issued_at``), seconds."""
CLOCK_SKEW = dt.timedelta(seconds=30)
"""Tolerance between holder and verifier clocks, both for expiry and for issue time."""
NONCE_LENGTH = 12
"""Random presentation id; 96 bits make an accidental repeat impossible in practice."""

# presentation body keys
P_MSO = 1
P_NONCE = 2
P_ISSUED_AT = 3
P_EXPIRES_AT = 4
P_DISCLOSED = 5
_BODY_KEYS = frozenset({P_MSO, P_NONCE, P_ISSUED_AT, P_EXPIRES_AT, P_DISCLOSED})
_HDR_ALG = 1
MAX_VALUE_TEXT = 512


class DeviceSigner(Protocol):
    """The holder device's key (a phone keystore or secure element implements this)."""

    @property
    def algorithm(self) -> Algorithm:
        """ES256 or EdDSA."""

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (ECDSA: DER, as :func:`~elicense.crypto.algorithms.sign_raw` returns)."""


@dataclass(frozen=True)
class SoftwareDeviceKey:
    """A :class:`DeviceSigner` over an in-memory private key (the demo holder app)."""

    private_key: PrivateKey = field(repr=False)
    """P-256 or Ed25519 private key."""

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) or (
            isinstance(self.private_key, ec.EllipticCurvePrivateKey)
            and not isinstance(self.private_key.curve, ec.SECP256R1)
        ):
            raise UsageError("device keys must be P-256 or Ed25519")

    @classmethod
    def generate(cls, algorithm: Algorithm = Algorithm.ES256) -> SoftwareDeviceKey:
        """A fresh device key."""
        if algorithm is Algorithm.EDDSA:
            return cls(ed25519.Ed25519PrivateKey.generate())
        if algorithm is Algorithm.ES256:
            return cls(ec.generate_private_key(ec.SECP256R1()))
        raise UsageError("device keys must be ES256 or EdDSA")

    @property
    def algorithm(self) -> Algorithm:
        """Derived from the key type."""
        return Algorithm.for_key(self.private_key)

    @property
    def public_key(self) -> PublicKey:
        """The public key (what the issuer binds in the MSO)."""
        return self.private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        """Sign with the in-memory key."""
        return sign_raw(self.private_key, self.algorithm, data)


@dataclass(frozen=True)
class Presentation:
    """A presentation ready to show as a QR code."""

    payload: str
    """``EP1:`` text (QR alphanumeric mode, ECC M)."""
    nonce: bytes
    """The presentation id."""
    issued_at: dt.datetime
    """When it was made (UTC)."""
    expires_at: dt.datetime
    """When it stops being valid (UTC)."""
    disclosed: tuple[str, ...]
    """Names of the disclosed elements."""
    licence_id: str
    """The licence presented."""


def make_presentation(
    credential: HolderCredential,
    device_signer: DeviceSigner,
    *,
    show: Iterable[str] = (),
    ttl: int = DEFAULT_TTL,
    now: dt.datetime,
    nonce: bytes | None = None,
) -> Presentation:
    """Holder side: disclose ``show`` (element names) and sign with the device key."""
    when = require_utc(now, "now").replace(microsecond=0)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise UsageError(f"ttl must be 1..{MAX_TTL} seconds", message_zh=f"有效时长须为 1-{MAX_TTL} 秒")
    names = list(dict.fromkeys(show))
    unknown = [n for n in names if n not in credential.elements]
    if unknown:
        allowed = ", ".join(credential.elements)
        raise UsageError(
            f"unknown field {', '.join(unknown)} (this licence has: {allowed})",
            message_zh=f"未知字段 {', '.join(unknown)}（该证照可出示：{allowed}）",
            details={"allowed": list(credential.elements)},
        )
    nonce = secrets.token_bytes(NONCE_LENGTH) if nonce is None else nonce
    if not isinstance(nonce, bytes) or not 8 <= len(nonce) <= 32:
        raise UsageError("nonce must be 8-32 bytes")
    issued = int(when.timestamp())
    body = cbor.dumps({
        P_MSO: credential.mso,
        P_NONCE: nonce,
        P_ISSUED_AT: issued,
        P_EXPIRES_AT: issued + ttl,
        P_DISCLOSED: {credential.elements[n].id: [credential.elements[n].salt, credential.elements[n].value]
                      for n in names},
    })  # fmt: skip
    alg = device_signer.algorithm
    protected = cbor.dumps({_HDR_ALG: alg.cose_id})
    signature = der_to_cose(alg, device_signer.sign(sig_structure(protected, body)))
    message = cbor.dumps(cbor.tag(COSE_SIGN1_TAG, [protected, {}, body, signature]))
    return Presentation(
        payload=wrap(message),
        nonce=nonce,
        issued_at=dt.datetime.fromtimestamp(issued, dt.UTC),
        expires_at=dt.datetime.fromtimestamp(issued + ttl, dt.UTC),
        disclosed=tuple(names),
        licence_id=credential.licence_id,
    )


# -- codec --------------------------------------------------------------------------------------


def wrap(message: bytes) -> str:
    """COSE bytes → ``EP1:`` text (zlib only when shorter, as ``EL2:``)."""
    return PREFIX + b45encode(compact(message))


def is_presentation(text: str | bytes) -> bool:
    """Whether ``text`` carries the ``EP1:`` prefix (leading whitespace ignored)."""
    head = text[:64].lstrip()
    return head[:4] == (PREFIX.encode() if isinstance(head, bytes | bytearray) else PREFIX)


def unwrap(text: str | bytes) -> bytes:
    """``EP1:`` text → COSE bytes, with the bounds of ``specs/qr-payload.md`` §5 (the ``EL2:`` unwrapping)."""
    return unwrap_payload(text, PREFIX, ("a presentation", "亮证载荷"))


@dataclass(frozen=True)
class ParsedPresentation:
    """A decoded presentation; nothing in it is verified yet."""

    alg_id: int
    """Device signature algorithm (COSE id)."""
    to_be_signed: bytes
    """``Sig_structure`` the device signature covers."""
    signature: bytes
    """Device signature (COSE form)."""
    mso: bytes
    """The embedded issuer-signed MSO (COSE_Sign1 bytes)."""
    nonce: bytes
    """Presentation id."""
    issued_at: int
    """Seconds since the epoch."""
    expires_at: int
    """Seconds since the epoch."""
    disclosed: Mapping[int, tuple[bytes, str | int]]
    """Element id → (salt, value)."""


def parse(message: bytes) -> ParsedPresentation:
    """Check the structure of the device COSE_Sign1 and its body (not the signatures)."""
    _, protected, body, signature = sign1_envelope(message)
    header = cbor.loads(protected, max_depth=1)
    if not isinstance(header, dict) or set(header) != {_HDR_ALG} or type(header[_HDR_ALG]) is not int:
        raise PayloadError("device COSE protected header must hold exactly alg", message_zh="设备签名保护头错误")
    doc = cbor.loads(body, max_depth=3)
    if not isinstance(doc, dict) or set(doc) != _BODY_KEYS:
        raise PayloadError("presentation body must hold exactly keys 1-5", message_zh="亮证内容结构错误")
    mso, nonce, iat, exp, disclosed = (doc[k] for k in (P_MSO, P_NONCE, P_ISSUED_AT, P_EXPIRES_AT, P_DISCLOSED))
    if not isinstance(mso, bytes) or not isinstance(nonce, bytes) or not 8 <= len(nonce) <= 32:
        raise PayloadError("presentation MSO or nonce malformed", message_zh="亮证 MSO 或随机数格式错误")
    for t in (iat, exp):
        if type(t) is not int or not 0 <= t < 2**40:
            raise PayloadError("presentation times must be seconds since the epoch", message_zh="亮证时间格式错误")
    if not isinstance(disclosed, dict) or len(disclosed) > 64:
        raise PayloadError("disclosed elements must be a small map", message_zh="出示字段格式错误")
    out: dict[int, tuple[bytes, str | int]] = {}
    for eid, item in disclosed.items():
        if type(eid) is not int or not isinstance(item, list | tuple) or len(item) != 2:
            raise PayloadError("disclosed element must be id: [salt, value]", message_zh="出示字段格式错误")
        salt, value = item
        if not isinstance(salt, bytes) or not 16 <= len(salt) <= 32:
            raise PayloadError("disclosed element salt must be 16-32 bytes", message_zh="出示字段盐值错误")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise PayloadError("disclosed values must be text or integers", message_zh="出示字段值类型错误")
        if isinstance(value, str) and len(value) > MAX_VALUE_TEXT:
            raise PayloadError("disclosed value too long", message_zh="出示字段值过长")
        out[eid] = (salt, value)
    return ParsedPresentation(
        alg_id=header[_HDR_ALG],
        to_be_signed=sig_structure(protected, body),
        signature=signature,
        mso=mso,
        nonce=nonce,
        issued_at=iat,
        expires_at=exp,
        disclosed=out,
    )
