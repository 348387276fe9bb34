"""The issuer-signed mobile security object (MSO) and the holder credential built around it.

The one module that defines the MSO's signed bytes and the per-element digests
(``specs/presentation.md`` §3–4). As in ISO/IEC 18013-5, the issuer signs
*digests* of salted elements plus the holder's device public key; the holder
later discloses chosen elements with their salts, and a verifier recomputes the
digests without learning the undisclosed elements.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from elicense.catalog import Catalog
from elicense.crypto.algorithms import Algorithm, PublicKey
from elicense.crypto.keys import Signer, key_id
from elicense.errors import PayloadError, UsageError
from elicense.model import Licence, require_utc
from elicense.qr import cbor
from elicense.qr import claims as claims_mod
from elicense.qr.cose import sign1

if TYPE_CHECKING:
    from elicense.catalog import Catalog, LicenceType

# MSO claim keys: 2-15 mean exactly what they mean in EL1 claims (specs/qr-payload.md §3);
# 4 and 5 (holder name/code) and 12 (fields) never appear: they are digested elements.
K_DEVICE_KEY = 20  # [alg: int, public key: bstr]
K_DIGESTS = 21  # {element id: bstr(16)}
_EL1_KEYS = frozenset({2, 3, 6, 7, 8, 9, 10, 13, 14, 15})
_REQUIRED = frozenset({2, 7, 8, 10, 13, K_DEVICE_KEY, K_DIGESTS})

E_HOLDER_NAME = 4
"""Element id of the holder name (catalogue field tag ``t`` has element id ``-t``)."""
E_HOLDER_CODE = 5
"""Element id of the holder code."""
HOLDER_ELEMENTS = {"holder_name": E_HOLDER_NAME, "holder_code": E_HOLDER_CODE}

SALT_LENGTH = 16
"""Random salt per element (ISO 18013-5 asks for ≥ 16 bytes)."""
DIGEST_LENGTH = 16
"""SHA-256 truncated to 128 bits (second preimages on issuer-salted inputs: 2^128 work)."""
MAX_ELEMENTS = 64
DEVICE_ALGORITHMS = frozenset({Algorithm.ES256, Algorithm.EDDSA})
"""Device key algorithms: compact keys (33 / 32 bytes) and signatures (64 bytes)."""


def element_digest(element_id: int, salt: bytes, value: str | int) -> bytes:
    """``SHA-256(salt ‖ CBOR([element id, value]))[:16]``."""
    return hashlib.sha256(salt + cbor.dumps([element_id, value])).digest()[:DIGEST_LENGTH]


def encode_device_key(key: PublicKey) -> list[Any]:
    """``[alg, bytes]``: P-256 as a compressed SEC1 point (33 bytes), Ed25519 raw (32 bytes)."""
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        return [Algorithm.ES256.cose_id, raw]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return [Algorithm.EDDSA.cose_id, key.public_bytes_raw()]
    raise UsageError("device keys must be P-256 (ES256) or Ed25519 (EdDSA)", message_zh="设备密钥须为 P-256 或 Ed25519")


def decode_device_key(value: object) -> tuple[Algorithm, PublicKey, bytes]:
    """Inverse of :func:`encode_device_key`, strict; also returns the raw key bytes."""
    if not isinstance(value, list | tuple) or len(value) != 2 or not isinstance(value[1], bytes):
        raise PayloadError("MSO device key must be [alg, key bytes]", message_zh="设备公钥格式错误")
    alg_id, raw = value
    try:
        alg = Algorithm.from_cose_id(alg_id)
    except Exception as exc:  # AlgorithmNotAllowed (unknown id) or a wrong type
        raise PayloadError("MSO device key algorithm unknown", message_zh="设备公钥算法未知") from exc
    try:
        if alg is Algorithm.ES256 and len(raw) == 33:
            return alg, ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw), raw
        if alg is Algorithm.EDDSA and len(raw) == 32:
            return alg, ed25519.Ed25519PublicKey.from_public_bytes(raw), raw
    except ValueError as exc:
        raise PayloadError("MSO device key is not a valid point", message_zh="设备公钥无效") from exc
    raise PayloadError("MSO device key has a wrong type or length", message_zh="设备公钥格式错误")


# -- elements of a licence ----------------------------------------------------------------------


def element_ids(licence_type: LicenceType) -> dict[str, int]:
    """Element name → id for a licence type: holder name/code, then every catalogue field."""
    out = dict(HOLDER_ELEMENTS)
    for spec in licence_type.fields:
        if spec.key in out:
            raise UsageError(f"catalogue field {spec.key!r} collides with a holder element name")
        out[spec.key] = -spec.tag
    return out


def licence_elements(licence: Licence, licence_type: LicenceType) -> dict[str, tuple[int, str | int]]:
    """Element name → (id, value) for the elements this licence has (absent optional fields: none)."""
    ids = element_ids(licence_type)
    out: dict[str, tuple[int, str | int]] = {
        "holder_name": (E_HOLDER_NAME, licence.holder.name),
        "holder_code": (E_HOLDER_CODE, licence.holder.code),
    }
    for key, value in licence_type.validate_fields(licence.fields).items():
        out[key] = (ids[key], claims_mod.date_to_days(value) if isinstance(value, dt.date) else value)
    return out


# -- the holder credential ---------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    """One disclosable element, as the holder keeps it."""

    name: str
    """Element name (``holder_name``, ``holder_code`` or a catalogue field key)."""
    id: int
    """Element id (4, 5, or ``-tag`` for a catalogue field)."""
    salt: bytes = field(repr=False)
    """The issuer's random salt for this element."""
    value: str | int
    """Value as digested (dates as day numbers since 1970-01-01)."""


@dataclass(frozen=True)
class HolderCredential:
    """What a holder app stores for one licence: the issuer-signed MSO and the salted elements."""

    licence_id: str
    """Full dotted GB/T 36904 licence identifier."""
    type_code: str
    """Licence type code."""
    mso: bytes
    """The issuer-signed MSO (tagged COSE_Sign1, issuer's key and kid)."""
    elements: Mapping[str, Element]
    """Element name → element (private: only disclosed ones leave the device)."""
    device_public_key: bytes
    """The device public key the MSO binds, as encoded there (33 or 32 bytes)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "elements", MappingProxyType(dict(self.elements)))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (the home stores it as ``holder/<id>.json``)."""
        b64 = base64.b64encode
        return {
            "format": CREDENTIAL_FORMAT,
            "licence_id": self.licence_id,
            "type_code": self.type_code,
            "mso": b64(self.mso).decode("ascii"),
            "device_public_key": b64(self.device_public_key).decode("ascii"),
            "elements": [
                {"name": e.name, "id": e.id, "salt": b64(e.salt).decode("ascii"), "value": e.value}
                for e in self.elements.values()
            ],
        }

    @classmethod
    def from_json(cls, doc: object) -> HolderCredential:
        """Inverse of :meth:`to_json`; :class:`PayloadError` on anything malformed."""
        try:
            if not isinstance(doc, dict) or doc.get("format") != CREDENTIAL_FORMAT:
                raise ValueError("unknown format")
            elements = {}
            for e in doc["elements"]:
                value = e["value"]
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise ValueError("element value type")
                elements[str(e["name"])] = Element(
                    str(e["name"]), int(e["id"]), base64.b64decode(e["salt"], validate=True), value
                )
            return cls(
                licence_id=str(doc["licence_id"]),
                type_code=str(doc["type_code"]),
                mso=base64.b64decode(doc["mso"], validate=True),
                elements=elements,
                device_public_key=base64.b64decode(doc["device_public_key"], validate=True),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"holder credential is malformed: {exc}", message_zh="持证人凭据格式错误") from exc


CREDENTIAL_FORMAT = "elicense-holder-credential/1"


def build_mso(
    licence: Licence,
    licence_type: LicenceType,
    digests: Mapping[int, bytes],
    device_key: PublicKey,
    *,
    signed_at: dt.datetime,
) -> bytes:
    """Canonical CBOR of the MSO claims (EL1 claim numbers for the always-visible part)."""
    el1 = claims_mod.flat_claims(licence, licence_type, signed_at=signed_at)
    mso: dict[int, Any] = {k: v for k, v in el1.items() if k in _EL1_KEYS}
    mso[K_DEVICE_KEY] = encode_device_key(device_key)
    mso[K_DIGESTS] = dict(digests)
    return cbor.dumps(mso)


def issue_holder_credential(
    licence: Licence,
    signer: Signer,
    device_public_key: PublicKey,
    *,
    at: dt.datetime,
    catalog: Catalog | None = None,
) -> HolderCredential:
    """Issuer side: salt every element, sign the MSO binding ``device_public_key``.

    The holder app generates its device key and sends only the public key; the
    issuer returns the credential (MSO + salts + values) to the holder.
    """

    when = require_utc(at, "at").replace(microsecond=0)
    lt = (catalog or Catalog.default()).get(licence.type_code)
    elements = {
        name: Element(name, eid, secrets.token_bytes(SALT_LENGTH), value)
        for name, (eid, value) in licence_elements(licence, lt).items()
    }
    digests = {e.id: element_digest(e.id, e.salt, e.value) for e in elements.values()}
    payload = build_mso(licence, lt, digests, device_public_key, signed_at=when)
    mso = sign1(payload, signer, key_id(signer.certificate))
    return HolderCredential(
        licence_id=str(licence.id),
        type_code=licence.type_code,
        mso=mso,
        elements=elements,
        device_public_key=encode_device_key(device_public_key)[1],
    )


# -- verifier side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedMso:
    """An MSO payload whose issuer signature has verified."""

    el1_claims: bytes
    """The always-visible part re-encoded as EL1 claims (placeholders for holder name/code),
    so :func:`elicense.qr.claims.parse_claims` applies the very same checks."""
    device_alg: Algorithm
    """Device key algorithm."""
    device_key: PublicKey
    """Device public key."""
    device_key_bytes: bytes
    """Device public key as encoded."""
    digests: Mapping[int, bytes]
    """Element id → digest."""


HIDDEN = "\u2014"
"""Placeholder for an undisclosed holder name/code inside the re-encoded claims."""


def parse_mso(payload: bytes) -> ParsedMso:
    """Decode and check the MSO claims map (after the issuer signature verified)."""
    mso = cbor.loads(payload, max_depth=3)
    if not isinstance(mso, dict):
        raise PayloadError("MSO must be a CBOR map", message_zh="MSO 必须为 CBOR 映射")
    keys = set(mso)
    known = _EL1_KEYS | {K_DEVICE_KEY, K_DIGESTS}
    if not keys <= known:
        raise PayloadError(f"unknown MSO claims {sorted(map(str, keys - known))}", message_zh="MSO 含未知声明")
    if not keys >= _REQUIRED:
        raise PayloadError(f"missing MSO claims {sorted(_REQUIRED - keys)}", message_zh="MSO 缺少必需声明")
    alg, key, raw = decode_device_key(mso[K_DEVICE_KEY])
    digests = mso[K_DIGESTS]
    if not isinstance(digests, dict) or not 1 <= len(digests) <= MAX_ELEMENTS:
        raise PayloadError("MSO digests must be a map of 1-64 entries", message_zh="MSO 摘要格式错误")
    for eid, digest in digests.items():
        if not isinstance(eid, int) or isinstance(eid, bool) or not -255 <= eid <= 255 or eid == 0:
            raise PayloadError("MSO element ids must be small non-zero integers", message_zh="MSO 元素标识错误")
        if not isinstance(digest, bytes) or len(digest) != DIGEST_LENGTH:
            raise PayloadError(f"MSO digests must be {DIGEST_LENGTH} bytes", message_zh="MSO 摘要长度错误")
    el1 = {k: v for k, v in mso.items() if k in _EL1_KEYS}
    el1[claims_mod.K_HOLDER_NAME] = HIDDEN
    el1[claims_mod.K_HOLDER_CODE] = HIDDEN
    return ParsedMso(cbor.dumps(claims_mod.to_cwt(el1)), alg, key, raw, MappingProxyType(dict(digests)))
