"""Licence ↔ claims: the one module that defines the signed bytes of a licence.

Two encodings, both deterministic CBOR:

* the **QR claims** (integer keys, dates as ``YYYYMMDD`` integers, holder and
  fields masked as the catalogue says) — small enough for a version ≤ 10 QR;
* the **full record** (text keys, every field), whose SHA-256 the QR claims
  carry as ``digest`` so the QR binds to the full licence in the PDF.

Key numbers are normative (``specs/qr-payload.md``); never reuse one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from elicense.errors import IdentifierError, PayloadError
from elicense.identifiers import LicenceId
from elicense.model import FieldValue, HolderType, Licence
from elicense.qr import cbor

if TYPE_CHECKING:
    from elicense.catalog import LicenceType

CLAIMS_VERSION = 1

K_ID = 2  # [type code, serial, version]: the issuer code comes from the signer (kid);
# an all-digit serial without leading zero is an unsigned integer
K_NUMBER = 3  # absent when equal to the serial
K_HOLDER_NAME = 4
K_HOLDER_CODE = 5
K_HOLDER_TYPE = 6  # integer form of the GB/T 36903 code (1 = "001", 111 = "111");
# absent when the licence type allows only one holder type
K_VALID_FROM = 7  # days since 1970-01-01 (as RFC 8943)
K_VALID_UNTIL = 8  # days since 1970-01-01, or null = long-term
K_ISSUED_ON = 9  # absent when equal to valid_from
K_SIGNED_AT = 10  # seconds since the epoch, UTC
K_FIELDS = 12
K_DIGEST = 13  # first 16 bytes of SHA-256(full record)
K_STATUS_INDEX = 14
K_SUPERSEDES = 15

_REQUIRED = frozenset({K_ID, K_HOLDER_NAME, K_HOLDER_CODE, K_VALID_FROM, K_VALID_UNTIL, K_SIGNED_AT, K_DIGEST})
_KNOWN = _REQUIRED | {K_NUMBER, K_HOLDER_TYPE, K_ISSUED_ON, K_FIELDS, K_STATUS_INDEX, K_SUPERSEDES}
MAX_TEXT = 512
MAX_FIELDS = 32
DIGEST_LENGTH = 16
_EPOCH = dt.date(1970, 1, 1)
_MAX_DAY = (dt.date(9999, 12, 31) - _EPOCH).days


def date_to_days(day: dt.date) -> int:
    """Days since 1970-01-01 (the RFC 8943 epoch), the compact QR date form."""
    return (day - _EPOCH).days


def days_to_date(value: object, what: str) -> dt.date:
    """Inverse of :func:`date_to_days`, strict."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_DAY:
        raise PayloadError(f"{what} is not a day number", message_zh=f"{what} 日期格式错误")
    return _EPOCH + dt.timedelta(days=value)


def _qr_value(value: FieldValue) -> str | int:
    return date_to_days(value) if isinstance(value, dt.date) else value


# -- full record ------------------------------------------------------------------------------


def full_record(licence: Licence) -> bytes:
    """Canonical CBOR of the whole licence (the PDF attachment's signed payload)."""
    return cbor.dumps({"v": CLAIMS_VERSION, **licence.to_dict(), "source_id": None})


def licence_digest(licence: Licence) -> bytes:
    """SHA-256 of :func:`full_record`, truncated to 16 bytes: the QR's ``digest`` claim."""
    return record_digest(full_record(licence))


def record_digest(record: bytes) -> bytes:
    """Digest of full-record bytes as carried in the QR."""
    return hashlib.sha256(record).digest()[:DIGEST_LENGTH]


# -- QR claims --------------------------------------------------------------------------------


def _holder_view(licence: Licence, licence_type: LicenceType) -> tuple[str, str]:
    from elicense.catalog import mask

    name, code = licence.holder.name, licence.holder.code
    if licence_type.holder_name_qr == "mask":
        name = mask(name, keep_start=1, keep_end=0)
    if licence_type.holder_code_qr == "mask":
        code = mask(code, keep_start=1, keep_end=1)
    return name, code


def _compact_serial(serial: str) -> str | int:
    return int(serial) if serial.isdigit() and serial[0] != "0" and len(serial) <= 19 else serial


def build_claims(licence: Licence, licence_type: LicenceType, *, signed_at: dt.datetime) -> bytes:
    """Canonical CBOR of the QR claims for ``licence``."""
    if licence_type.code != licence.type_code:
        raise PayloadError("licence type does not match the licence id's type code")
    name, code = _holder_view(licence, licence_type)
    serial = licence.id.serial
    claims: dict[int, Any] = {
        K_ID: [licence.id.type_code, _compact_serial(serial), licence.id.version],
        K_HOLDER_NAME: name,
        K_HOLDER_CODE: code,
        K_VALID_FROM: date_to_days(licence.validity.start),
        K_VALID_UNTIL: date_to_days(licence.validity.end) if licence.validity.end else None,
        K_SIGNED_AT: int(signed_at.timestamp()),
        K_DIGEST: licence_digest(licence),
    }
    if len(licence_type.holder_types) != 1:
        claims[K_HOLDER_TYPE] = int(licence.holder.code_type.value)
    if licence.number != serial:
        claims[K_NUMBER] = licence.number
    if licence.issued_on != licence.validity.start:
        claims[K_ISSUED_ON] = date_to_days(licence.issued_on)
    fields = {tag: _qr_value(v) for tag, v in licence_type.qr_fields(licence.fields).items()}
    if fields:
        claims[K_FIELDS] = fields
    if licence.status_index is not None:
        claims[K_STATUS_INDEX] = licence.status_index
    if licence.supersedes is not None:
        claims[K_SUPERSEDES] = str(licence.supersedes)
    return cbor.dumps(claims)


@dataclass(frozen=True)
class LicenceClaims:
    """What a QR payload asserts about a licence (holder and fields possibly masked)."""

    id: LicenceId
    """Licence identifier."""
    number: str
    """Licence number (证照编号)."""
    holder_name: str
    """Holder name as shown in the QR (may be masked, e.g. 张*)."""
    holder_code: str
    """Holder code as shown in the QR (may be masked)."""
    holder_type: HolderType
    """Kind of holder code."""
    valid_from: dt.date
    """First day of validity."""
    valid_until: dt.date | None
    """Last day of validity; ``None`` = long-term."""
    issued_on: dt.date
    """Issue date."""
    signed_at: dt.datetime
    """When the payload was signed (UTC), as claimed by the signer."""
    area_code: str
    """GB/T 2260 code of the issuing authority's area (from the trusted signer)."""
    digest: bytes
    """First 16 bytes of SHA-256 of the full licence record."""
    fields: Mapping[int, str | int] = field(default_factory=dict)
    """QR-shown fields by catalogue tag (raw: dates still day numbers)."""
    status_index: int | None = None
    """Index in the issuer's status list."""
    supersedes: LicenceId | None = None
    """The licence this one replaces."""

    @property
    def type_code(self) -> str:
        """Licence type code."""
        return self.id.type_code

    @property
    def region(self) -> str:
        """Province-level code of the issuing area."""
        return self.area_code[:2] + "0000"


def _text(claims: Mapping[int, Any], key: int, what: str) -> str:
    value = claims[key]
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise PayloadError(f"claim {what} must be non-empty text", message_zh=f"声明 {what} 格式错误")
    return value


def _int(value: object, what: str, upper: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < upper:
        raise PayloadError(f"claim {what} must be an integer in range", message_zh=f"声明 {what} 格式错误")
    return value


def parse_claims(
    data: bytes,
    *,
    issuer_code: str,
    area_code: str,
    holder_types_of: Callable[[str], Sequence[str]] = lambda type_code: (),
) -> LicenceClaims:
    """Decode and check the claims map, after the signature has verified.

    The issuer code and area are not in the payload: they are the trusted
    signer's (``kid`` → authority), so a payload cannot claim another issuer.
    ``holder_types_of(type_code)`` gives the type's allowed holder types (from
    the catalogue): when there is exactly one, the payload may omit it.
    """
    claims = cbor.loads(data, max_depth=3)
    if not isinstance(claims, dict):
        raise PayloadError("claims must be a CBOR map", message_zh="声明必须为 CBOR 映射")
    keys = set(claims)
    if not keys <= _KNOWN:
        raise PayloadError(f"unknown claims {sorted(map(str, keys - _KNOWN))}", message_zh="含未知声明")
    if not keys >= _REQUIRED:
        raise PayloadError(f"missing claims {sorted(_REQUIRED - keys)}", message_zh="缺少必需声明")
    id_parts = claims[K_ID]
    if (
        not isinstance(id_parts, list)
        or len(id_parts) != 3
        or not isinstance(id_parts[0], str)
        or isinstance(id_parts[1], bool)
        or not isinstance(id_parts[1], str | int)
    ):
        raise PayloadError("claim id must be [type code, serial, version]", message_zh="证照标识声明格式错误")
    try:
        serial = id_parts[1]
        if isinstance(serial, int):
            serial = str(_int(serial, "serial", 10**19))
        licence_id = LicenceId.build(id_parts[0], issuer_code, serial, _int(id_parts[2], "version", 1000))
        supersedes = LicenceId.parse(_text(claims, K_SUPERSEDES, "supersedes")) if K_SUPERSEDES in claims else None
    except IdentifierError as exc:
        raise PayloadError(f"invalid licence id in payload: {exc}", message_zh="载荷中的证照标识无效") from exc
    try:
        if K_HOLDER_TYPE in claims:
            holder_type = HolderType(f"{_int(claims[K_HOLDER_TYPE], 'holder type', 1000):03d}")
        elif len(implied := tuple(holder_types_of(licence_id.type_code))) == 1:
            holder_type = HolderType(implied[0])
        else:
            raise PayloadError("holder type missing", message_zh="缺少持证主体类型")
    except ValueError as exc:
        raise PayloadError("unknown holder type", message_zh="持证主体类型未知") from exc
    signed = _int(claims[K_SIGNED_AT], "signed_at", 2**40)
    digest = claims[K_DIGEST]
    if not isinstance(digest, bytes) or len(digest) != DIGEST_LENGTH:
        raise PayloadError(f"digest must be {DIGEST_LENGTH} bytes", message_zh="摘要长度错误")
    until = claims[K_VALID_UNTIL]
    fields_raw = claims.get(K_FIELDS, {})
    if not isinstance(fields_raw, dict) or len(fields_raw) > MAX_FIELDS:
        raise PayloadError("fields claim must be a small map", message_zh="字段声明格式错误")
    fields: dict[int, str | int] = {}
    for tag, value in fields_raw.items():
        if not isinstance(tag, int) or isinstance(tag, bool) or not 1 <= tag <= 255:
            raise PayloadError("field tags must be integers 1..255", message_zh="字段标签错误")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise PayloadError("field values must be text or integers", message_zh="字段值类型错误")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise PayloadError("field value too long", message_zh="字段值过长")
        fields[tag] = value
    index = claims.get(K_STATUS_INDEX)
    if index is not None:
        index = _int(index, "status index", 2**32)
    valid_from = days_to_date(claims[K_VALID_FROM], "valid_from")
    return LicenceClaims(
        id=licence_id,
        number=_text(claims, K_NUMBER, "number") if K_NUMBER in claims else licence_id.serial,
        holder_name=_text(claims, K_HOLDER_NAME, "holder name"),
        holder_code=_text(claims, K_HOLDER_CODE, "holder code"),
        holder_type=holder_type,
        valid_from=valid_from,
        valid_until=None if until is None else days_to_date(until, "valid_until"),
        issued_on=days_to_date(claims[K_ISSUED_ON], "issued_on") if K_ISSUED_ON in claims else valid_from,
        signed_at=dt.datetime.fromtimestamp(signed, dt.UTC),
        area_code=area_code,
        digest=digest,
        fields=MappingProxyType(fields),
        status_index=index,
        supersedes=supersedes,
    )
