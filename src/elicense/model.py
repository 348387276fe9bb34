"""The licence model: frozen, validated data. No IO, no crypto.

Field names follow the metadata the national sharing platform exchanges
(GB/T 36903): number, type code, holder + holder code + holder type, issuing
authority + its code, issue date, area code, validity, version, supersedes.
Dates are calendar dates in China Standard Time; instants are UTC-aware
``datetime``s, enforced here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Defined in elicense.basics (the verify path needs them without this module's classes); part of this API.
from elicense.basics import CHINA_TZ as CHINA_TZ
from elicense.basics import RECORD_CACHE
from elicense.basics import FieldValue as FieldValue
from elicense.basics import HolderType as HolderType
from elicense.basics import LicenceStatus as LicenceStatus
from elicense.basics import china_date as china_date
from elicense.basics import require_utc as require_utc
from elicense.display import describe, unsafe_char
from elicense.errors import LicenceDataError
from elicense.identifiers import USCC, AreaCode, LicenceId, ResidentId


def _text(value: str, what: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise LicenceDataError(f"{what} must be text", message_zh=f"{what} 必须为文本")
    value = value.strip()
    if not value:
        raise LicenceDataError(f"{what} is empty", message_zh=f"{what} 不能为空")
    if len(value) > max_length:
        raise LicenceDataError(
            f"{what} is longer than {max_length} characters",
            message_zh=f"{what} 超过 {max_length} 个字符",
        )
    bad = unsafe_char(value)
    if bad is not None:  # controls, and bidi/zero-width format characters (a reversed or invisible name)
        raise LicenceDataError(
            f"{what} contains the control or format character {describe(bad)} (bidi control, zero-width)",
            message_zh=f"{what} 含控制字符或格式字符 {describe(bad)}（双向控制、零宽字符）",
            details={"field": what, "character": describe(bad)},
        )
    return value


@dataclass(frozen=True)
class Holder:
    """The licence holder (持证主体)."""

    name: str
    """Name of the person or organisation."""
    code: str
    """Holder code (USCC or resident id number, per ``code_type``)."""
    code_type: HolderType = HolderType.USCC
    """What kind of code ``code`` is."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _text(self.name, "holder name", 200))
        object.__setattr__(self, "code_type", HolderType(self.code_type))
        code = _text(self.code, "holder code", 64).upper()
        if self.code_type is HolderType.USCC:
            code = str(USCC.parse(code))
        elif self.code_type is HolderType.RESIDENT_ID:
            code = str(ResidentId.parse(code))
        object.__setattr__(self, "code", code)


@dataclass(frozen=True)
class Authority:
    """An issuing authority (发证机关)."""

    name: str
    """Official name, e.g. 济南市行政审批服务局."""
    code: str
    """The authority's USCC (18 chars), or a 6-digit GB/T 2260 area code."""
    area_code: str
    """GB/T 2260 code of the area the authority serves."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _text(self.name, "authority name", 200))
        code = _text(self.code, "authority code", 18).upper()
        code = code if len(code) == 6 and code.isdigit() else str(USCC.parse(code))
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "area_code", AreaCode.parse(self.area_code).code)

    @property
    def region(self) -> str:
        """Province-level GB/T 2260 code (the mutual-recognition region)."""
        return self.area_code[:2] + "0000"


@dataclass(frozen=True)
class Validity:
    """Validity window, inclusive, in calendar days; ``end=None`` is long-term (长期)."""

    start: dt.date
    """First day of validity."""
    end: dt.date | None = None
    """Last day of validity, or ``None`` for long-term."""

    def __post_init__(self) -> None:
        if not isinstance(self.start, dt.date) or isinstance(self.start, dt.datetime):
            raise LicenceDataError("validity start must be a date", message_zh="有效期起始须为日期")
        if self.end is not None:
            if not isinstance(self.end, dt.date) or isinstance(self.end, dt.datetime):
                raise LicenceDataError("validity end must be a date", message_zh="有效期截止须为日期")
            if self.end < self.start:
                raise LicenceDataError("validity ends before it starts", message_zh="有效期截止早于起始")

    @property
    def long_term(self) -> bool:
        """Whether the licence is valid indefinitely."""
        return self.end is None

    def contains(self, day: dt.date) -> bool:
        """Whether ``day`` lies inside the window."""
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Licence:
    """A complete electronic licence as issued (the PDF and registry hold all of it)."""

    id: LicenceId
    """GB/T 36904 licence identifier (carries type code, issuer code, serial, version)."""
    number: str
    """证照编号: the number printed on the licence."""
    holder: Holder
    """The holder."""
    issuer: Authority
    """The issuing authority."""
    issued_on: dt.date
    """Issue date (签发日期)."""
    validity: Validity
    """Validity window."""
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    """Type-specific fields, normalised by the catalogue, keyed by field key."""
    supersedes: LicenceId | None = None
    """Id of the licence this one replaces (变更/换发), if any."""
    status_index: int | None = None
    """Index in the issuer's status list, assigned at random at issuance."""
    source_id: str | None = None
    """Business key in the source system (paper-era import), never shown in a QR."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", _text(self.number, "licence number", 64))
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        if self.id.issuer_code != self.issuer.code:
            raise LicenceDataError(
                f"licence id issuer code {self.id.issuer_code} is not the issuing authority's code {self.issuer.code}",
                message_zh="证照标识中的发证机构代码与发证机关不一致",
            )
        if self.status_index is not None and not (0 <= self.status_index < 2**32):
            raise LicenceDataError("status index out of range", message_zh="状态列表索引越界")

    @property
    def type_code(self) -> str:
        """The licence type code (from the identifier)."""
        return self.id.type_code

    def with_status_index(self, index: int) -> Licence:
        """This licence with status index ``index`` (range-checked), the other fields as validated already:
        bulk issuing draws the index after planning a row, and ``dataclasses.replace`` would validate every
        field again."""
        if type(index) is not int or not 0 <= index < 2**32:
            raise LicenceDataError("status index out of range", message_zh="状态列表索引越界")
        new = object.__new__(Licence)
        new.__dict__.update(self.__dict__)
        new.__dict__.pop(RECORD_CACHE, None)
        new.__dict__["status_index"] = index
        return new

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation (dates as ISO strings)."""
        return {
            "id": str(self.id),
            "type_code": self.type_code,
            "number": self.number,
            "holder": {
                "name": self.holder.name,
                "code": self.holder.code,
                "code_type": self.holder.code_type.value,
            },
            "issuer": {
                "name": self.issuer.name,
                "code": self.issuer.code,
                "area_code": self.issuer.area_code,
            },
            "issued_on": self.issued_on.isoformat(),
            "valid_from": self.validity.start.isoformat(),
            "valid_until": self.validity.end.isoformat() if self.validity.end else None,
            "fields": {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in self.fields.items()},
            "supersedes": str(self.supersedes) if self.supersedes else None,
            "status_index": self.status_index,
        }
