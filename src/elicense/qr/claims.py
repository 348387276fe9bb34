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
from collections.abc import Mapping
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

K_VERSION = 1
K_ID = 2
K_NUMBER = 3
K_HOLDER_NAME = 4
K_HOLDER_CODE = 5
K_HOLDER_TYPE = 6
K_VALID_FROM = 7
K_VALID_UNTIL = 8
K_ISSUED_ON = 9
K_SIGNED_AT = 10
K_AREA = 11
K_FIELDS = 12
K_DIGEST = 13
K_STATUS_INDEX = 14
K_SUPERSEDES = 15

_REQUIRED = frozenset(
    {K_VERSION, K_ID, K_NUMBER, K_HOLDER_NAME, K_HOLDER_CODE, K_HOLDER_TYPE, K_VALID_FROM,
     K_VALID_UNTIL, K_ISSUED_ON, K_SIGNED_AT, K_AREA, K_DIGEST}
)  # fmt: skip
_KNOWN = _REQUIRED | {K_FIELDS, K_STATUS_INDEX, K_SUPERSEDES}
MAX_TEXT = 512
MAX_FIELDS = 32
DIGEST_LENGTH = 32


def date_to_int(day: dt.date) -> int:
    """``2024-05-01`` → ``20240501``."""
    return day.year * 10000 + day.month * 100 + day.day


def int_to_date(value: object, what: str) -> dt.date:
    """Inverse of :func:`date_to_int`, strict."""
    if not isinstance(value, int) or isinstance(value, bool) or not 10000101 <= value <= 99991231:
        raise PayloadError(f"{what} is not a YYYYMMDD date", message_zh=f"{what} 日期格式错误")
    try:
        return dt.date(value // 10000, value // 100 % 100, value % 100)
    except ValueError as exc:
        raise PayloadError(f"{what} is not a real date", message_zh=f"{what} 日期无效") from exc


def _qr_value(value: FieldValue) -> str | int:
    return date_to_int(value) if isinstance(value, dt.date) else value


# -- full record ------------------------------------------------------------------------------


def full_record(licence: Licence) -> bytes:
    """Canonical CBOR of the whole licence (the PDF attachment's signed payload)."""
    return cbor.dumps({"v": CLAIMS_VERSION, **licence.to_dict(), "source_id": None})


def licence_digest(licence: Licence) -> bytes:
    """SHA-256 of :func:`full_record`: what the QR's ``digest`` claim commits to."""
    return hashlib.sha256(full_record(licence)).digest()


# -- QR claims --------------------------------------------------------------------------------


def _holder_view(licence: Licence, licence_type: LicenceType) -> tuple[str, str]:
    from elicense.catalog import mask

    name, code = licence.holder.name, licence.holder.code
    if licence_type.holder_name_qr == "mask":
        name = mask(name, keep_start=1, keep_end=0)
    if licence_type.holder_code_qr == "mask":
        code = mask(code, keep_start=1, keep_end=1)
    return name, code


def build_claims(licence: Licence, licence_type: LicenceType, *, signed_at: dt.datetime) -> bytes:
    """Canonical CBOR of the QR claims for ``licence``."""
    if licence_type.code != licence.type_code:
        raise PayloadError("licence type does not match the licence id's type code")
    name, code = _holder_view(licence, licence_type)
    claims: dict[int, Any] = {
        K_VERSION: CLAIMS_VERSION,
        K_ID: str(licence.id),
        K_NUMBER: licence.number,
        K_HOLDER_NAME: name,
        K_HOLDER_CODE: code,
        K_HOLDER_TYPE: licence.holder.code_type.value,
        K_VALID_FROM: date_to_int(licence.validity.start),
        K_VALID_UNTIL: date_to_int(licence.validity.end) if licence.validity.end else None,
        K_ISSUED_ON: date_to_int(licence.issued_on),
        K_SIGNED_AT: int(signed_at.timestamp()),
        K_AREA: licence.issuer.area_code,
        K_DIGEST: licence_digest(licence),
    }
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
    """GB/T 2260 code of the issuing authority's area."""
    digest: bytes
    """SHA-256 of the full licence record."""
    fields: Mapping[int, str | int] = field(default_factory=dict)
    """QR-shown fields by catalogue tag (raw: dates still ``YYYYMMDD`` ints)."""
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


def parse_claims(data: bytes) -> LicenceClaims:
    """Decode and check the claims map (structure only: the signature is checked first)."""
    claims = cbor.loads(data, max_depth=3)
    if not isinstance(claims, dict):
        raise PayloadError("claims must be a CBOR map", message_zh="声明必须为 CBOR 映射")
    keys = set(claims)
    if not keys <= _KNOWN:
        raise PayloadError(f"unknown claims {sorted(map(str, keys - _KNOWN))}", message_zh="含未知声明")
    if not _REQUIRED <= keys:
        raise PayloadError(
            f"missing claims {sorted(_REQUIRED - keys)}", message_zh="缺少必需声明"
        )
    if claims[K_VERSION] != CLAIMS_VERSION:
        raise PayloadError(f"unsupported claims version {claims[K_VERSION]!r}", message_zh="声明版本不支持")
    try:
        licence_id = LicenceId.parse(_text(claims, K_ID, "id"))
        supersedes = (
            LicenceId.parse(_text(claims, K_SUPERSEDES, "supersedes"))
            if K_SUPERSEDES in claims
            else None
        )
    except IdentifierError as exc:
        raise PayloadError(f"invalid licence id in payload: {exc}", message_zh="载荷中的证照标识无效") from exc
    try:
        holder_type = HolderType(claims[K_HOLDER_TYPE])
    except ValueError as exc:
        raise PayloadError("unknown holder type", message_zh="持证主体类型未知") from exc
    signed = claims[K_SIGNED_AT]
    if not isinstance(signed, int) or isinstance(signed, bool) or not 0 <= signed < 2**40:
        raise PayloadError("signing time must be an integer timestamp", message_zh="签名时间格式错误")
    area = _text(claims, K_AREA, "area")
    if len(area) != 6 or not area.isdigit():
        raise PayloadError("area code must be 6 digits", message_zh="行政区划代码格式错误")
    digest = claims[K_DIGEST]
    if not isinstance(digest, bytes) or len(digest) != DIGEST_LENGTH:
        raise PayloadError("digest must be 32 bytes", message_zh="摘要长度错误")
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
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2**32):
        raise PayloadError("status index out of range", message_zh="状态索引越界")
    return LicenceClaims(
        id=licence_id,
        number=_text(claims, K_NUMBER, "number"),
        holder_name=_text(claims, K_HOLDER_NAME, "holder name"),
        holder_code=_text(claims, K_HOLDER_CODE, "holder code"),
        holder_type=holder_type,
        valid_from=int_to_date(claims[K_VALID_FROM], "valid_from"),
        valid_until=None if until is None else int_to_date(until, "valid_until"),
        issued_on=int_to_date(claims[K_ISSUED_ON], "issued_on"),
        signed_at=dt.datetime.fromtimestamp(signed, dt.UTC),
        area_code=area,
        digest=digest,
        fields=MappingProxyType(fields),
        status_index=index,
        supersedes=supersedes,
    )
