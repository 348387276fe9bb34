"""Identifiers: 电子证照标识 (GB/T 36904), 统一社会信用代码 (GB 32100),
公民身份号码 (GB 11643) and 行政区划代码 (GB/T 2260).

Pure data: no IO except the lazy, read-only load of the packaged area-code table
``elicense/data/areas.csv``; no crypto.

Every identifier is normalised the same way: surrounding ASCII whitespace is
stripped and ASCII letters are upper-cased. Anything else (inner spaces,
full-width characters, letters outside an identifier's alphabet) is rejected
with an :class:`~elicense.errors.IdentifierError` whose ``details["part"]`` is
``"charset"``. Every validation failure raises ``IdentifierError``;
``details["part"]`` names the wrong part and ``details["kind"]`` the kind of
identifier (``licence_id``, ``uscc``, ``resident_id``, ``area_code``).

Check characters
----------------
* Licence id: ISO/IEC 7064 hybrid MOD 37,36 over ``0-9A-Z``, computed over
  type code + issuer code + serial + 3-digit version (no dots).
* USCC: weights 3^i mod 31 over the 31-symbol alphabet ``0-9A-HJ-NPQRTUWXY``;
  characters 9-17 are a GB 11714 organisation code with its own MOD 11 check
  (weights 3,7,9,10,5,8,4,2; 10 -> ``X``, 11 -> ``0``).
* Resident id: ISO/IEC 7064 MOD 11-2 (``0-9`` or ``X``).

Area codes
----------
``areas.csv`` holds the GB/T 2260 list published by the Ministry of Civil
Affairs (as mirrored in the public ``cn/GB2260`` repository, ``mca/202112.tsv``:
34 provincial-level, 333 prefecture-level and 2,841 county-level codes, 3,208
rows). Codes change every year, and identifiers outlive them: a USCC or a
resident id keeps the area code of the day it was issued. So a USCC, a resident
id and a licence issuer code only need a *province* that exists; ``AreaCode``
itself requires an exact entry of the table. Central-level registrations (the
ministries defining licence types) carry the code ``100000`` in their USCC,
which is not in GB/T 2260 and is accepted as :data:`NATIONAL_AREA_CODE`.
Resident ids also accept the prefix ``83`` used by the residence permits of
Taiwan residents (港澳台居民居住证; Hong Kong and Macao use 81/82).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from elicense.errors import IdentifierError

__all__ = [
    "ALNUM36",
    "ALNUM36_VALUE",
    "MOD37_36_NEXT",
    "NATIONAL_AREA_CODE",
    "ORG_WEIGHTS",
    "USCC",
    "USCC_ALPHABET",
    "USCC_VALUE",
    "USCC_WEIGHTS",
    "AreaCode",
    "AreaLevel",
    "IdentifierKind",
    "LicenceId",
    "ResidentId",
    "area_name",
    "identify",
    "is_known_area",
    "mod11_2_check_char",
    "mod37_36_check_char",
    "mod37_36_state",
    "org_check_char",
    "uscc_check_char",
]

IdentifierKind = Literal["licence_id", "uscc", "resident_id", "area_code"]
AreaLevel = Literal["province", "prefecture", "county"]

NATIONAL_AREA_CODE = "100000"
"""Area code of central-level registrations in a USCC (not a GB/T 2260 entry)."""

# --------------------------------------------------------------------------- tables

_DIGITS = "0123456789"
ALNUM36 = _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
USCC_ALPHABET = _DIGITS + "ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z

_DIGIT_SET = frozenset(_DIGITS)
_ALNUM36_SET = frozenset(ALNUM36)
_USCC_SET = frozenset(USCC_ALPHABET)
_LICENCE_SET = frozenset(ALNUM36 + ".")
_RESIDENT_SET = frozenset(_DIGITS + "X")

ALNUM36_VALUE = {c: i for i, c in enumerate(ALNUM36)}
USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}

# ISO 7064 MOD 37,36: state p in 1..36; MOD37_36_NEXT[p][char] is the next state.
MOD37_36_NEXT: tuple[dict[str, int], ...] = tuple(
    {c: (2 * (((p + v) % 36) or 36)) % 37 for c, v in ALNUM36_VALUE.items()} for p in range(37)
)
# ISO 7064 MOD 11-2: state p in 0..10; _M112_NEXT[p][digit] is the next state.
_M112_NEXT: tuple[dict[str, int], ...] = tuple({c: ((p + int(c)) * 2) % 11 for c in _DIGITS} for p in range(11))

USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
"""GB 32100 check-sum weights of characters 1-17 (3^i mod 31); the one definition, shared by the QR codec."""
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714 organisation-code check-sum weights (characters 9-16 of a USCC)."""

# GB 32100 Appendix A: registration authority (char 1) -> allowed categories (char 2).
_REGISTRATION: Mapping[str, tuple[str, str, frozenset[str]]] = {
    "1": ("institutional staffing", "机构编制", frozenset("1239")),
    "2": ("foreign affairs", "外交", frozenset("19")),
    "3": ("justice", "司法行政", frozenset("123459")),
    "4": ("culture", "文化", frozenset("19")),
    "5": ("civil affairs", "民政", frozenset("1239")),
    "6": ("tourism", "旅游", frozenset("129")),
    "7": ("religious affairs", "宗教", frozenset("129")),
    "8": ("trade unions", "工会", frozenset("19")),
    "9": ("market regulation", "工商", frozenset("123")),
    "A": ("Central Military Commission staffing", "中央军委改革和编制办公室", frozenset("19")),
    "N": ("agriculture", "农业", frozenset("1239")),
    "Y": ("other", "其他", frozenset("1")),
}

# Resident-id province prefixes that are not GB/T 2260 provinces (Taiwan residents' permits).
_EXTRA_RESIDENT_PROVINCES = frozenset({"83"})

_ASCII_WS = " \t\r\n\x0b\x0c"

_KIND_EN: Mapping[str, str] = {
    "licence_id": "licence id",
    "uscc": "USCC",
    "resident_id": "resident id number",
    "area_code": "area code",
}
_KIND_ZH: Mapping[str, str] = {
    "licence_id": "电子证照标识",
    "uscc": "统一社会信用代码",
    "resident_id": "公民身份号码",
    "area_code": "行政区划代码",
}


# --------------------------------------------------------------------------- errors


def _error(kind: str | None, part: str, en: str, zh: str, **details: object) -> IdentifierError:
    head_en = f"{_KIND_EN[kind]}: " if kind else ""
    head_zh = f"{_KIND_ZH[kind]}：" if kind else ""
    info: dict[str, object] = {"part": part}
    if kind:
        info["kind"] = kind
    info.update(details)
    return IdentifierError(head_en + en, message_zh=head_zh + zh, details=info)


def _check_last_char(kind: str | None, value: str, expected: str) -> None:
    """The 18th character of a USCC or resident ID is a check character over the first 17."""
    if value[17] != expected:
        raise _error(
            kind,
            "check_char",
            f"check character (character 18) is wrong: expected {expected!r}, got {value[17]!r}",
            f"校验码（第 18 位）错误：应为 {expected}，实际为 {value[17]}",
            expected=expected,
            actual=value[17],
        )


def _prepare(
    text: object,
    kind: str | None,
    allowed: frozenset[str],
    *,
    what: str = "character",
    what_zh: str = "字符",
) -> str:
    """Strip surrounding ASCII whitespace, upper-case, check the alphabet."""
    if not isinstance(text, str):
        raise _error(
            kind,
            "charset",
            f"expected a string, got {type(text).__name__}",
            f"应为字符串，实际为 {type(text).__name__}",
        )
    s = text.strip(_ASCII_WS)
    if not s:
        raise _error(kind, "length", "is empty", "为空")
    if s.isascii():
        s = s.upper()
        if allowed.issuperset(s):
            return s
    for i, ch in enumerate(s):
        if ch not in allowed:
            shown = ch if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"
            raise _error(
                kind,
                "charset",
                f"invalid {what} {shown!r} at position {i + 1}",
                f"第 {i + 1} 位{what_zh}“{shown}”不合法",
                position=i + 1,
                char=ch,
            )
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- check chars


def mod37_36_check_char(data: str, state: int = 36) -> str:
    """ISO/IEC 7064 hybrid MOD 37,36 check character of ``data`` (over ``0-9A-Z``); ``state``: that of the
    data before ``data`` (:func:`mod37_36_state`), for the check character of their concatenation."""
    return ALNUM36[(37 - mod37_36_state(data, state)) % 36]


def mod37_36_state(data: str, state: int = 36) -> int:
    """The MOD 37,36 state after ``data``, starting from ``state`` (36: the start): a prefix shared by many
    identifiers (a licence id's type and issuer codes, in bulk issuing) is run through once."""
    p = state
    try:
        for ch in data:
            p = MOD37_36_NEXT[p][ch]
    except (KeyError, TypeError, IndexError):
        raise _error(
            None,
            "charset",
            "MOD 37,36 data must consist of 0-9 and A-Z",
            "MOD 37,36 数据只能包含 0-9 和 A-Z",
        ) from None
    return p


def mod11_2_check_char(data: str) -> str:
    """ISO/IEC 7064 MOD 11-2 check character of ``data`` (digits): ``0``-``9`` or ``X``."""
    p = 0
    try:
        for ch in data:
            p = _M112_NEXT[p][ch]
    except (KeyError, TypeError):
        raise _error(None, "charset", "MOD 11-2 data must be digits", "MOD 11-2 数据只能为数字") from None
    c = (12 - p) % 11
    return "X" if c == 10 else _DIGITS[c]


def org_check_char(body: str) -> str:
    """GB 11714 organisation-code check character of an 8-char body."""
    total = sum(ALNUM36_VALUE[c] * w for c, w in zip(body, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else _DIGITS[c]


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character (character 18) of the first 17 characters of a USCC."""
    total = sum(USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[-total % 31]


# --------------------------------------------------------------------------- area table


@functools.cache
def _areas_csv() -> str:
    # Next to this module, as the catalogue's JSON is (catalog.default_directory): importlib.resources
    # would cost the CLI's verify path its zipfile import (cold start, #8).
    with open(os.path.join(os.path.dirname(os.path.realpath(__file__)), "data", "areas.csv"), encoding="utf-8") as fh:
        return fh.read()


@functools.cache
def _area_table() -> Mapping[str, str]:
    table: dict[str, str] = {}
    for line in _areas_csv().splitlines()[1:]:
        code, sep, name = line.partition(",")
        if sep and len(code) == 6 and code.isdigit():
            table[code] = name.strip()
    return table


_PROVINCE_ROW = re.compile(r"^(\d\d)0000,", re.MULTILINE)


@functools.cache
def _provinces() -> frozenset[str]:
    # Every USCC and resident id on the verify path checks its province: read just those rows,
    # without building the whole table (tests hold the two equal).
    return frozenset(_PROVINCE_ROW.findall(_areas_csv()))


def area_name(code: str) -> str | None:
    """Name of a GB/T 2260 code in the packaged table, or ``None`` if unknown."""
    if not isinstance(code, str):
        return None
    return _area_table().get(code.strip(_ASCII_WS))


def is_known_area(code: str) -> bool:
    """Whether ``code`` is in the packaged GB/T 2260 table."""
    return area_name(code) is not None


def _level(code: str) -> AreaLevel:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def _check_area_province(kind: str, code: str, part: str = "area_code") -> None:
    """A 6-digit code whose province exists (identifiers outlive area-code revisions)."""
    if len(code) != 6 or not code.isdigit():
        raise _error(
            kind,
            part,
            f"area code {code!r} must be 6 digits",
            f"行政区划代码“{code}”应为 6 位数字",
        )
    if code[:2] not in _provinces():
        raise _error(
            kind,
            part,
            f"area code {code}: {code[:2]} is not a GB/T 2260 province",
            f"行政区划代码 {code} 的省级代码 {code[:2]} 不存在",
        )


@dataclass(frozen=True, slots=True)
class AreaCode:
    """A GB/T 2260 administrative division code present in the packaged table."""

    code: str
    """6 digits."""
    name: str
    """Official name, e.g. 济南市."""

    def __post_init__(self) -> None:
        code = _prepare(self.code, "area_code", _DIGIT_SET, what="digit", what_zh="数字")
        if len(code) != 6:
            raise _error(
                "area_code",
                "length",
                f"must be 6 digits, got {len(code)}",
                f"应为 6 位，实际 {len(code)} 位",
            )
        name = _area_table().get(code)
        if name is None:
            raise _error(
                "area_code",
                "area_code",
                f"{code} is not a known GB/T 2260 code",
                f"{code} 不是已知的 GB/T 2260 行政区划代码",
            )
        if self.name != name:
            raise _error(
                "area_code",
                "name",
                f"{code} is {name}, not {self.name!r}",
                f"{code} 的名称为“{name}”，不是“{self.name}”",
            )
        object.__setattr__(self, "code", code)

    @classmethod
    def parse(cls, text: str) -> AreaCode:
        """Parse a 6-digit code that must be in the packaged table."""
        code = _prepare(text, "area_code", _DIGIT_SET, what="digit", what_zh="数字")
        return cls(code, _area_table().get(code, ""))

    @property
    def level(self) -> AreaLevel:
        """``province`` (xx0000), ``prefecture`` (xxxx00) or ``county``."""
        return _level(self.code)

    @property
    def province(self) -> AreaCode:
        """The provincial-level division containing this one (itself for a province)."""
        code = self.code[:2] + "0000"
        return self if code == self.code else AreaCode(code, _area_table()[code])

    @property
    def prefecture(self) -> AreaCode | None:
        """The prefecture-level division of a county, itself for a prefecture.

        ``None`` for a province, a municipality's district, and a county-level
        unit directly under its province (e.g. 419001 济源市).
        """
        if self.level == "province":
            return None
        code = self.code[:4] + "00"
        name = _area_table().get(code)
        return None if name is None else AreaCode(code, name)

    def __str__(self) -> str:
        return self.code


# --------------------------------------------------------------------------- USCC


def _check_registration(reg: str, cat: str) -> None:
    entry = _REGISTRATION.get(reg)
    if entry is None:
        raise _error(
            "uscc",
            "registration_authority",
            f"unknown registration authority code {reg!r} (character 1)",
            f"第 1 位登记管理部门码“{reg}”不存在",
            position=1,
        )
    if cat not in entry[2]:
        allowed = ",".join(sorted(entry[2]))
        raise _error(
            "uscc",
            "registration_authority",
            f"category {cat!r} (character 2) is not valid for registration authority {reg} "
            f"({entry[0]}; allowed: {allowed})",
            f"第 2 位机构类别码“{cat}”对登记管理部门“{reg}”（{entry[1]}）无效（应为 {allowed}）",
            position=2,
        )


_VALID_USCC: set[str] = set()
"""USCCs already validated: type and issuer codes repeat on every licence (verify hot path)."""
_VALID_USCC_MAX = 65_536


def _validate_uscc(value: str) -> None:
    if value in _VALID_USCC:
        return
    _validate_uscc_uncached(value)
    if len(_VALID_USCC) < _VALID_USCC_MAX:
        _VALID_USCC.add(value)


def _validate_uscc_uncached(value: str) -> None:
    kind = "uscc"
    if len(value) != 18:
        raise _error(
            kind,
            "length",
            f"must be 18 characters, got {len(value)}",
            f"应为 18 位，实际 {len(value)} 位",
        )
    _check_registration(value[0], value[1])
    area = value[2:8]
    if area != NATIONAL_AREA_CODE:
        _check_area_province(kind, area)
    org_expected = org_check_char(value[8:16])
    if value[16] != org_expected:
        raise _error(
            kind,
            "org_code_check",
            f"organisation code check character (character 17) is wrong: expected {org_expected!r}, got {value[16]!r}",
            f"组织机构代码校验码（第 17 位）错误：应为 {org_expected}，实际为 {value[16]}",
            expected=org_expected,
            actual=value[16],
        )
    _check_last_char(kind, value, uscc_check_char(value[:17]))


@dataclass(frozen=True, slots=True)
class USCC:
    """统一社会信用代码 (GB 32100): 18 characters over ``0-9A-HJ-NPQRTUWXY``."""

    value: str

    def __post_init__(self) -> None:
        value = _prepare(self.value, "uscc", _USCC_SET)
        _validate_uscc(value)
        object.__setattr__(self, "value", value)

    @classmethod
    def parse(cls, text: str) -> USCC:
        """Validate all 18 characters (authority, category, area, both check characters)."""
        return cls(text)

    @classmethod
    def build(cls, registration: str, area_code: str, org_code_body: str) -> USCC:
        """Make a valid USCC: ``registration`` is characters 1-2 (``"91"``),
        ``org_code_body`` the first 8 characters of the organisation code;
        both check characters are computed."""
        reg = _prepare(registration, "uscc", _USCC_SET)
        area = _prepare(area_code, "uscc", _DIGIT_SET, what="digit", what_zh="数字")
        body = _prepare(org_code_body, "uscc", _USCC_SET)
        if len(reg) != 2:
            raise _error(
                "uscc",
                "registration_authority",
                "registration must be 2 characters (authority + category)",
                "登记管理部门码和机构类别码应为 2 位",
            )
        if len(body) != 8:
            raise _error(
                "uscc",
                "org_code",
                f"organisation code body must be 8 characters, got {len(body)}",
                f"组织机构代码本体应为 8 位，实际 {len(body)} 位",
            )
        if area != NATIONAL_AREA_CODE:
            _check_area_province("uscc", area)
        _check_registration(reg[0], reg[1])
        first17 = reg + area + body + org_check_char(body)
        return cls(first17 + uscc_check_char(first17))

    @property
    def registration_authority(self) -> str:
        """Character 1: registration authority (1 机构编制, 5 民政, 9 工商, Y 其他, ...)."""
        return self.value[0]

    @property
    def category(self) -> str:
        """Character 2: organisation category within the registration authority."""
        return self.value[1]

    @property
    def area_code(self) -> str:
        """Characters 3-8: area code of the registration authority (``100000`` = central)."""
        return self.value[2:8]

    @property
    def org_code(self) -> str:
        """Characters 9-17: GB 11714 organisation code, check character included."""
        return self.value[8:17]

    @property
    def check_char(self) -> str:
        """Character 18."""
        return self.value[17]

    def __str__(self) -> str:
        return self.value


# --------------------------------------------------------------------------- resident id


def _validate_resident(value: str) -> None:
    kind = "resident_id"
    if len(value) != 18:
        raise _error(
            kind,
            "length",
            f"must be 18 characters, got {len(value)}",
            f"应为 18 位，实际 {len(value)} 位",
        )
    x = value.find("X")
    if -1 < x < 17:
        raise _error(
            kind,
            "charset",
            f"'X' is only allowed as the check character, found at position {x + 1}",
            f"“X”只能作为校验码，第 {x + 1} 位不合法",
            position=x + 1,
            char="X",
        )
    area = value[:6]
    if area[:2] not in _EXTRA_RESIDENT_PROVINCES:
        _check_area_province(kind, area)
    try:
        _birth(value)
    except ValueError:
        raise _error(
            kind,
            "birth_date",
            f"birth date {value[6:14]} is not a real date between 1900 and 2100",
            f"出生日期 {value[6:14]} 不是 1900 至 2100 年间的有效日期",
        ) from None
    _check_last_char(kind, value, mod11_2_check_char(value[:17]))


def _birth(value: str) -> dt.date:
    year = int(value[6:10])
    if not 1900 <= year <= 2100:
        raise ValueError(year)
    return dt.date(year, int(value[10:12]), int(value[12:14]))


@dataclass(frozen=True, slots=True, repr=False)
class ResidentId:
    """公民身份号码 (GB 11643): 6-digit area, birth date YYYYMMDD, 3-digit sequence, check.

    ``repr`` shows the masked form, so a resident id does not leak into logs.
    """

    value: str

    def __post_init__(self) -> None:
        value = _prepare(self.value, "resident_id", _RESIDENT_SET, what="digit", what_zh="数字")
        _validate_resident(value)
        object.__setattr__(self, "value", value)

    @classmethod
    def parse(cls, text: str) -> ResidentId:
        """Validate length, area (province must exist), birth date and check character."""
        return cls(text)

    @classmethod
    def build(cls, area_code: str, birth: dt.date, sequence: int) -> ResidentId:
        """Make a valid number; ``sequence`` 0..999 (odd = male)."""
        area = _prepare(area_code, "resident_id", _DIGIT_SET, what="digit", what_zh="数字")
        if len(area) != 6 or area[:2] not in _EXTRA_RESIDENT_PROVINCES:
            _check_area_province("resident_id", area)
        if not isinstance(birth, dt.date) or isinstance(birth, dt.datetime):
            raise _error("resident_id", "birth_date", "birth must be a datetime.date", "出生日期应为日期")
        if not 1900 <= birth.year <= 2100:
            raise _error(
                "resident_id",
                "birth_date",
                f"birth year {birth.year} is outside 1900..2100",
                f"出生年份 {birth.year} 不在 1900 至 2100 之间",
            )
        if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= 999:
            raise _error(
                "resident_id",
                "sequence",
                f"sequence must be an integer 0..999, got {sequence!r}",
                f"顺序码应为 0 至 999 的整数，实际为 {sequence!r}",
            )
        first17 = f"{area}{birth:%Y%m%d}{sequence:03d}"
        return cls(first17 + mod11_2_check_char(first17))

    @property
    def area_code(self) -> str:
        """Characters 1-6: area code at the time of issue."""
        return self.value[:6]

    @property
    def birth_date(self) -> dt.date:
        """Characters 7-14."""
        return _birth(self.value)

    @property
    def sex(self) -> Literal["M", "F"]:
        """``M`` if character 17 is odd, else ``F``."""
        return "M" if int(self.value[16]) % 2 else "F"

    def masked(self) -> str:
        """First character, 16 ``*``, last character."""
        return self.value[0] + "*" * 16 + self.value[-1]

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"ResidentId({self.masked()!r})"


# --------------------------------------------------------------------------- licence id


def _wrap(err: IdentifierError, part: str, label_en: str, label_zh: str) -> IdentifierError:
    return _error(
        "licence_id",
        part,
        f"{label_en}: {err.message}",
        f"{label_zh}：{err.message_zh or err.message}",
        cause_part=err.part,
        **{k: v for k, v in err.details.items() if k not in ("part", "kind")},
    )


@dataclass(frozen=True, slots=True)
class LicenceId:
    """电子证照标识 (GB/T 36904):
    ``1.2.156.3005.2.{type code}.{issuer code}.{serial}.{version:03d}.{check char}``.

    Constructing one validates the structure of every part but not the check
    character; :attr:`check_ok` tells. :meth:`parse` (strict) and :meth:`build`
    are the normal ways in.
    """

    type_code: str
    """21 characters: the defining ministry's 18-character USCC + 3-digit sequence."""
    issuer_code: str
    """The issuing authority's 18-character USCC, or a 6-digit GB/T 2260 area code."""
    serial: str
    """1 to 32 characters ``0-9A-Z``."""
    version: int
    """1..999, written as 3 digits."""
    check_char: str
    """MOD 37,36 check character as given (see :attr:`check_ok`)."""

    PREFIX: ClassVar[str] = "1.2.156.3005.2"

    def __post_init__(self) -> None:
        kind = "licence_id"
        type_code = _prepare(self.type_code, kind, _ALNUM36_SET)
        if len(type_code) != 21 or not type_code[18:].isdigit():
            raise _error(
                kind,
                "type_code",
                f"type code {type_code!r} must be an 18-character USCC + 3 digits (21 characters)",
                f"证照类型代码“{type_code}”应为 18 位统一社会信用代码加 3 位数字（共 21 位）",
            )
        try:
            _validate_uscc(_prepare(type_code[:18], "uscc", _USCC_SET))
        except IdentifierError as err:
            raise _wrap(err, "type_code", f"type code {type_code}", f"证照类型代码 {type_code}") from err

        issuer = _prepare(self.issuer_code, kind, _ALNUM36_SET)
        if len(issuer) == 18:
            try:
                _validate_uscc(_prepare(issuer, "uscc", _USCC_SET))
            except IdentifierError as err:
                raise _wrap(err, "issuer_code", f"issuer code {issuer}", f"发证机构代码 {issuer}") from err
        elif len(issuer) == 6 and issuer.isdigit():
            if issuer != NATIONAL_AREA_CODE:
                try:
                    _check_area_province("area_code", issuer)
                except IdentifierError as err:
                    raise _wrap(err, "issuer_code", f"issuer code {issuer}", f"发证机构代码 {issuer}") from err
        else:
            raise _error(
                kind,
                "issuer_code",
                f"issuer code {issuer!r} must be an 18-character USCC or a 6-digit area code",
                f"发证机构代码“{issuer}”应为 18 位统一社会信用代码或 6 位行政区划代码",
            )

        serial = _prepare(self.serial, kind, _ALNUM36_SET)
        if len(serial) > 32:
            raise _error(
                kind,
                "serial",
                f"serial must be 1 to 32 characters, got {len(serial)}",
                f"证照顺序号应为 1 至 32 位，实际 {len(serial)} 位",
            )

        version = self.version
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 999:
            raise _error(
                kind,
                "version",
                f"version must be an integer 1..999, got {version!r}",
                f"版本号应为 1 至 999 的整数，实际为 {version!r}",
            )

        check = _prepare(self.check_char, kind, _ALNUM36_SET)
        if len(check) != 1:
            raise _error(
                kind,
                "check_char",
                f"check character must be one character 0-9/A-Z, got {check!r}",
                f"校验位应为 1 位 0-9/A-Z，实际为“{check}”",
            )
        object.__setattr__(self, "type_code", type_code)
        object.__setattr__(self, "issuer_code", issuer)
        object.__setattr__(self, "serial", serial)
        object.__setattr__(self, "check_char", check)

    @classmethod
    def parse(cls, text: str, *, strict: bool = True) -> LicenceId:
        """Parse the dotted form.

        With ``strict=False`` a wrong check character is accepted (paper-era
        imports must be *reported*, not fixed and not crash): the structure is
        still validated, and :attr:`check_ok` / :attr:`expected_check_char` tell.
        """
        kind = "licence_id"
        s = _prepare(text, kind, _LICENCE_SET)
        prefix = cls.PREFIX + "."
        if not s.startswith(prefix):
            raise _error(
                kind,
                "prefix",
                f"must start with {prefix!r}",
                f"应以“{prefix}”开头",
            )
        parts = s[len(prefix) :].split(".")
        if len(parts) != 5:
            raise _error(
                kind,
                "length",
                f"expected 5 dot-separated parts after the prefix "
                f"(type, issuer, serial, version, check), got {len(parts)}",
                f"前缀后应有 5 段（类型代码、发证机构代码、顺序号、版本号、校验位），实际 {len(parts)} 段",
            )
        type_code, issuer, serial, version, check = parts
        if not serial:
            raise _error(kind, "serial", "serial is empty", "证照顺序号为空")
        if len(version) != 3 or not version.isdigit():
            raise _error(
                kind,
                "version",
                f"version must be 3 digits, got {version!r}",
                f"版本号应为 3 位数字，实际为“{version}”",
            )
        if not check:
            raise _error(kind, "check_char", "check character is missing", "缺少校验位")
        lid = cls(type_code, issuer, serial, int(version), check)
        if strict:
            expected = lid.expected_check_char
            if lid.check_char != expected:
                raise _error(
                    kind,
                    "check_char",
                    f"check character is wrong: expected {expected!r}, got {lid.check_char!r}",
                    f"校验位错误：应为 {expected}，实际为 {lid.check_char}",
                    expected=expected,
                    actual=lid.check_char,
                )
        return lid

    @classmethod
    def build(cls, type_code: str, issuer_code: str, serial: str, version: int = 1) -> LicenceId:
        """Make an identifier; the check character is computed."""
        lid = cls(type_code, issuer_code, serial, version, "0")
        # Everything is validated and normalised now: only the check char changes.
        object.__setattr__(lid, "check_char", lid.expected_check_char)
        return lid

    @property
    def expected_check_char(self) -> str:
        """The MOD 37,36 check character the other parts call for."""
        return mod37_36_check_char(f"{self.type_code}{self.issuer_code}{self.serial}{self.version:03d}")

    @property
    def check_ok(self) -> bool:
        """Whether :attr:`check_char` is right."""
        return self.check_char == self.expected_check_char

    @property
    def issuer_is_area_code(self) -> bool:
        """Whether the issuer is given as a 6-digit area code rather than a USCC."""
        return len(self.issuer_code) == 6

    def with_version(self, version: int) -> LicenceId:
        """The same licence at another version (check character recomputed)."""
        return LicenceId.build(self.type_code, self.issuer_code, self.serial, version)

    def __str__(self) -> str:
        return f"{self.PREFIX}.{self.type_code}.{self.issuer_code}.{self.serial}.{self.version:03d}.{self.check_char}"


# --------------------------------------------------------------------------- identify


_CHECK_ORDER: Mapping[str, tuple[str, ...]] = {
    "resident_id": ("area_code", "birth_date", "check_char"),
    "uscc": ("registration_authority", "area_code", "org_code_check", "check_char"),
}


def _progress(err: IdentifierError) -> float:
    """Share of an identifier's checks passed before ``err`` (for identify's tie-break)."""
    order = _CHECK_ORDER.get(str(err.details.get("kind")), ())
    return order.index(err.part) / len(order) if err.part in order else 0.0


def identify(
    text: str,
) -> tuple[IdentifierKind, LicenceId | USCC | ResidentId | AreaCode]:
    """Recognise the kind of identifier by its shape and validate it.

    * contains a dot: licence id;
    * 6 digits: area code (must be in the table);
    * 18 characters: resident id if it has that shape and validates, else USCC.

    Raises :class:`IdentifierError`; ``details["kind"]`` is set when the shape
    was recognised.
    """
    s = _prepare(text, None, _LICENCE_SET)
    if "." in s:
        return "licence_id", LicenceId.parse(s)
    if len(s) == 6 and s.isdigit():
        return "area_code", AreaCode.parse(s)
    if len(s) == 18:
        if s[:17].isdigit() and (s[17].isdigit() or s[17] == "X"):
            try:
                return "resident_id", ResidentId(s)
            except IdentifierError as resident_err:
                # All digits: could still be a USCC. If both fail, report the
                # one whose checks got further (ties: resident id).
                try:
                    return "uscc", USCC(s)
                except IdentifierError as uscc_err:
                    if _progress(uscc_err) > _progress(resident_err):
                        raise
                    raise resident_err from None
        return "uscc", USCC(s)
    raise _error(
        None,
        "length",
        f"not a licence id, USCC, resident id number or area code ({len(s)} characters)",
        f"不是电子证照标识、统一社会信用代码、公民身份号码或行政区划代码（{len(s)} 位）",
    )
