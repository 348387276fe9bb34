"""The licence-type catalogue (电子证照目录): one JSON file per licence type.

A :class:`LicenceType` says what a licence type is ("同一事项、同一标准、同一编码"):
its 21-character type code (the defining ministry's 统一社会信用代码 + a 3-digit
sequence), names, who may hold it, its validity rules, and its type-specific
fields (:class:`FieldSpec`) with their QR policy (show / mask / omit).

The catalogue is pure data: loading reads ``specs/catalog/*.json`` (packaged in
the wheel as ``elicense/_specs/catalog``), validates every file strictly, and
imports nothing heavy (it is on the CLI's verify path). The file format is
specified, normatively, in ``specs/catalog/README.md``.

Field values are normalised here (:meth:`FieldSpec.normalize`,
:meth:`LicenceType.validate_fields`) so that the signed representation of a
licence is canonical: strings are stripped and NFC-normalised, dates are
:class:`datetime.date`, decimals are canonical strings, identifiers are parsed
by :mod:`elicense.identifiers` (whose area-code table loads on first use).
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as _dc_field
from types import MappingProxyType
from typing import Any, Final, Literal, NoReturn, cast

from elicense.display import unsafe_char
from elicense.errors import CatalogError, IdentifierError, LicenceDataError
from elicense.identifiers import USCC, USCC_VALUE, AreaCode, ResidentId, org_check_char, uscc_check_char

__all__ = [
    "FIELD_TYPES",
    "HOLDER_TYPES",
    "MAX_FILE_BYTES",
    "RESERVED_KEYS",
    "Catalog",
    "FieldSpec",
    "FieldType",
    "FieldValue",
    "LicenceType",
    "Visibility",
    "default_directory",
    "mask",
    "type_code_problem",
]

Visibility = Literal["show", "mask", "omit"]
"""How a value appears in the QR payload: as is, masked, or not at all."""

FieldType = Literal["string", "text", "date", "integer", "decimal", "enum", "uscc", "resident_id", "area_code"]
"""The value types a catalogue field may have."""

FieldValue = str | int | datetime.date
"""A normalised field value (decimals and identifiers are canonical strings)."""

FIELD_TYPES: Final[frozenset[str]] = frozenset(
    ("string", "text", "date", "integer", "decimal", "enum", "uscc", "resident_id", "area_code")
)
"""Every allowed ``type`` of a field."""

HOLDER_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"001": "统一社会信用代码", "111": "公民身份号码", "099": "其他有效证件代码"}
)
"""GB/T 36903 holder code types the catalogue (and :class:`elicense.model.HolderType`) know."""

RESERVED_KEYS: Final[frozenset[str]] = frozenset(
    (
        "id", "licence_id", "type", "type_code", "number", "licence_number",
        "holder", "holder_name", "holder_code", "holder_type",
        "issuer", "issuer_name", "issuer_code", "issued_on", "issue_date",
        "validity", "valid_from", "valid_until",
        "version", "status", "status_index", "supersedes", "source_id", "fields",
    )
)  # fmt: skip
"""Field keys that name licence-model attributes: a field may not duplicate them."""

MAX_FILE_BYTES: Final = 256 * 1024
"""Largest accepted catalogue file."""

MAX_TAG: Final = 255
"""Largest field tag (tags are small CBOR keys in the QR payload)."""

MAX_DIGITS: Final = 18
"""Most digits an ``integer`` or ``decimal`` field may have."""

_MAX_STRING_LENGTH: Final = 1024
_MAX_TEXT_LENGTH: Final = 20000
_MAX_CHOICE_LENGTH: Final = 64

_SLUG_RE: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*", re.ASCII)
_KEY_RE: Final = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
_HOLDER_TYPE_RE: Final = re.compile(r"[0-9]{3}", re.ASCII)
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DECIMAL_RE: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)

_VISIBILITIES: Final = ("show", "mask", "omit")
_HOLDER_VISIBILITIES: Final = ("show", "mask")
_MASKABLE: Final = frozenset(("string", "text", "uscc", "resident_id", "area_code"))
_LENGTH_REQUIRED: Final = frozenset(("string", "text"))
_LENGTH_ALLOWED: Final = frozenset(("string", "text", "integer", "decimal"))


# --------------------------------------------------------------------------- masking


def mask(value: str, keep_start: int = 1, keep_end: int = 1, char: str = "*") -> str:
    """Mask ``value``, keeping ``keep_start`` leading and ``keep_end`` trailing characters.

    Every hidden character becomes one ``char``, so the length shows:
    ``mask("370102199001011234")`` is ``"3****************4"`` and
    ``mask("张三", 1, 0)`` is ``"张*"``. A value too short to hide anything with the
    requested keeps (``len <= keep_start + keep_end``) keeps at most its first
    character; a one-character value is fully masked. Works on characters (code
    points), so Chinese text masks one ``char`` per 汉字.
    """
    if keep_start < 0 or keep_end < 0:
        raise ValueError("keep_start and keep_end must not be negative")
    if len(char) != 1:
        raise ValueError("char must be exactly one character")
    n = len(value)
    if n <= 1:
        return char * n
    if keep_start + keep_end >= n:
        keep = min(keep_start, 1)
        return value[:keep] + char * (n - keep)
    return value[:keep_start] + char * (n - keep_start - keep_end) + value[n - keep_end :]


# --------------------------------------------------------------------------- type codes


def _uscc_problem(code: str) -> tuple[str, str] | None:
    """Why ``code`` is not a GB 32100 统一社会信用代码, as ``(en, zh)``; ``None`` when it is."""
    if len(code) != 18:
        return ("is not 18 characters long", "不是 18 位")
    if any(c not in USCC_VALUE for c in code):
        return (
            "uses a character outside 0-9A-HJ-NPQRTUWXY",
            "含有 0-9A-HJ-NPQRTUWXY 以外的字符",
        )
    org_check = org_check_char(code[8:16])
    if code[16] != org_check:
        return (
            f"has a wrong organisation-code (GB 11714) check character: expected {org_check}",
            f"组织机构代码校验码（第 17 位）错误，应为 {org_check}",
        )
    check = uscc_check_char(code[:17])
    if code[17] != check:
        return (
            f"has a wrong GB 32100 check character: expected {check}",
            f"校验码（第 18 位）错误，应为 {check}",
        )
    return None


def _type_code_problem(code: object) -> tuple[str, str] | None:
    if not isinstance(code, str) or len(code) != 21:
        return (
            "a type code has 21 characters (18-character USCC + 3 digits)",
            "证照类型代码应为 21 位（18 位统一社会信用代码 + 3 位顺序号）",
        )
    problem = _uscc_problem(code[:18])
    if problem is not None:
        return (
            f"the defining authority's USCC {code[:18]} {problem[0]}",
            f"证照定义机构的统一社会信用代码 {code[:18]} {problem[1]}",
        )
    seq = code[18:]
    if not (seq.isascii() and seq.isdigit()) or seq == "000":
        return (
            f"the sequence number {seq!r} is not 3 digits 001-999",
            f"顺序号 {seq!r} 不是 001-999 的 3 位数字",
        )
    return None


def type_code_problem(code: str) -> str | None:
    """Why ``code`` is not a well-formed licence type code, or ``None`` if it is.

    A type code is the defining authority's 18-character 统一社会信用代码 (both its
    GB 32100 and GB 11714 check characters must be right) followed by a 3-digit
    sequence number ``001``–``999``.
    """
    problem = _type_code_problem(code)
    return None if problem is None else problem[0]


# --------------------------------------------------------------------------- helpers


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _bad_char(text: str, allow_newlines: bool) -> str | None:
    """The first control, separator, surrogate, BOM or format character (bidi controls, zero-width
    characters: Unicode Cf) — ``\n``/``\t`` allowed if asked — else ``None`` (:mod:`elicense.display`)."""
    return unsafe_char(text, allow_newlines=allow_newlines)


def _located(exc: CatalogError, where: list[str], **details: str | None) -> CatalogError:
    """``exc`` prefixed with where it happened (file, then field path), so a catalogue author finds it."""
    return CatalogError(
        ": ".join([*where, exc.message]),
        message_zh="：".join([*where, exc.message_zh or exc.message]),
        details={**exc.details, **details},
    )


def _type_name(value: object) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------- FieldSpec


@dataclass(frozen=True)
class FieldSpec:
    """One type-specific field of a licence type (e.g. 营业执照 → 法定代表人)."""

    key: str
    """Stable machine name (``[a-z][a-z0-9_]*``, ≤ 32 chars); the key in ``Licence.fields``."""
    tag: int
    """Small positive integer (1..255), unique within the type; the field's CBOR key in
    the QR payload. A tag is never reused for another field, even after removal."""
    name_zh: str
    """Label printed on the licence, in Chinese (e.g. ``法定代表人``)."""
    name_en: str
    """Label in English."""
    type: FieldType
    """Value type; decides how :meth:`normalize` checks and converts a value."""
    required: bool = True
    """Whether every licence of the type must carry the field."""
    max_length: int | None = None
    """``string``/``text``: most characters (required); ``integer``/``decimal``: most
    digits (optional, at most 18); ``None`` for the other types."""
    choices: tuple[str, ...] | None = None
    """Allowed values of an ``enum`` field (``None`` for every other type)."""
    qr: Visibility = "omit"
    """QR policy: ``show`` the normalised value, ``mask`` it, or ``omit`` the field."""
    mask_keep_start: int = 1
    """Characters kept at the start when ``qr`` is ``mask``."""
    mask_keep_end: int = 1
    """Characters kept at the end when ``qr`` is ``mask``."""

    def __post_init__(self) -> None:
        problem = _field_problem(self)
        if problem is not None:
            en, zh = problem
            raise CatalogError(
                f"field {self.key!r}: {en}",
                message_zh=f"字段 {self.key!r}：{zh}",
                details={"field": self.key, "problem": en},
            )

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: object, *, where: str = "field", source: str | None = None) -> FieldSpec:
        """Build a field from its catalogue JSON object (strict: unknown keys are errors).

        Errors name ``source`` (the file) and ``where`` (the JSON path of the field).
        """
        r = _Reader(where, source=source)
        obj = r.mapping(
            data,
            required=("key", "tag", "name", "type", "required", "qr"),
            optional=("max_length", "choices", "mask"),
        )
        key = r.string(obj["key"], "key", max_length=32)
        kind = r.string(obj["type"], "type")
        if kind not in FIELD_TYPES:
            r.fail("type", f"unknown field type {kind!r}", f"未知的字段类型 {kind!r}")
        name_zh, name_en = r.names(obj["name"], "name")
        qr = r.string(obj["qr"], "qr")
        if qr not in _VISIBILITIES:
            r.fail("qr", "must be show, mask or omit", "须为 show、mask 或 omit")
        choices: tuple[str, ...] | None = None
        if "choices" in obj:
            raw = obj["choices"]
            if not isinstance(raw, list):
                r.fail("choices", "must be a list of strings", "须为字符串列表")
            choices = tuple(r.string(c, f"choices[{i}]", max_length=_MAX_CHOICE_LENGTH) for i, c in enumerate(raw))
        keep_start, keep_end = 1, 1
        if "mask" in obj:
            m = r.mapping(obj["mask"], required=("keep_start", "keep_end"), where="mask")
            keep_start = r.integer(m["keep_start"], "mask.keep_start", 0, 32)
            keep_end = r.integer(m["keep_end"], "mask.keep_end", 0, 32)
            if qr != "mask":
                r.fail("mask", "is only allowed when qr is mask", "仅当 qr 为 mask 时可设置")
        max_length = None
        if "max_length" in obj:
            max_length = r.integer(obj["max_length"], "max_length", 1, _MAX_TEXT_LENGTH)
        tag = r.integer(obj["tag"], "tag", -(2**31), 2**31)
        required = r.boolean(obj["required"], "required")
        try:
            return cls(
                key=key,
                tag=tag,
                name_zh=name_zh,
                name_en=name_en,
                type=cast(FieldType, kind),
                required=required,
                max_length=max_length,
                choices=choices,
                qr=cast(Visibility, qr),
                mask_keep_start=keep_start,
                mask_keep_end=keep_end,
            )
        except CatalogError as exc:
            prefix = [source, where] if source else [where]
            raise _located(exc, prefix, file=source, path=where) from None

    def to_dict(self) -> dict[str, Any]:
        """The catalogue JSON object of this field (inverse of :meth:`from_dict`)."""
        out: dict[str, Any] = {
            "key": self.key,
            "tag": self.tag,
            "name": {"zh": self.name_zh, "en": self.name_en},
            "type": self.type,
            "required": self.required,
        }
        if self.max_length is not None:
            out["max_length"] = self.max_length
        if self.choices is not None:
            out["choices"] = list(self.choices)
        out["qr"] = self.qr
        if self.qr == "mask":
            out["mask"] = {"keep_start": self.mask_keep_start, "keep_end": self.mask_keep_end}
        return out

    # -- values -----------------------------------------------------------------------

    def normalize(self, value: object) -> FieldValue:
        """Check ``value`` against this field and return its canonical form.

        ``string``/``text``/``enum``: text, NFC-normalised and stripped (``text``
        keeps newlines, as ``\\n``); ``date``: a :class:`datetime.date` or an ISO
        ``YYYY-MM-DD`` string → ``date``; ``integer``: an ``int`` or a string of
        ASCII digits → ``int``; ``decimal``: ``Decimal``/``int``/plain decimal string →
        canonical string with its scale kept (``"100.50"`` stays ``"100.50"``);
        ``uscc``/``resident_id``/``area_code``: parsed by :mod:`elicense.identifiers`
        → canonical string. Raises :class:`LicenceDataError` with
        ``details={"field": key, "reason": ...}`` saying why (zh + en).
        """
        if value is None:
            self._fail("missing", "no value given", "缺少取值")
        kind = self.type
        if kind in ("string", "text", "enum"):
            return self._normalize_text(value)
        if kind == "date":
            return self._normalize_date(value)
        if kind == "integer":
            return self._normalize_integer(value)
        if kind == "decimal":
            return self._normalize_decimal(value)
        return self._normalize_identifier(value)

    def qr_value(self, value: FieldValue) -> FieldValue:
        """What the QR carries for an already normalised ``value`` (masked if ``qr`` is mask)."""
        if self.qr == "mask":
            return mask(str(value), self.mask_keep_start, self.mask_keep_end)
        return value

    def _fail(self, reason: str, en: str, zh: str, **extra: object) -> NoReturn:
        raise LicenceDataError(
            f"{self.key} ({self.name_en}): {en}",
            message_zh=f"{self.name_zh}：{zh}",
            details={"field": self.key, "reason": reason, **extra},
        )

    def _normalize_text(self, value: object) -> str:
        if not isinstance(value, str):
            self._fail("type", f"must be text, not {_type_name(value)}", "须为文本")
        text = unicodedata.normalize("NFC", value)
        multiline = self.type == "text"
        if multiline:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = text.strip()
        if not text:
            self._fail("empty", "is empty", "不能为空")
        bad = _bad_char(text, allow_newlines=multiline)
        if bad is not None:
            self._fail(
                "control_character",
                f"contains the control or format (bidi, zero-width) character U+{ord(bad):04X}",
                f"含控制字符或格式字符（双向控制、零宽字符）U+{ord(bad):04X}",
                character=f"U+{ord(bad):04X}",
            )
        if self.type == "enum":
            assert self.choices is not None
            if text not in self.choices:
                shown = "、".join(self.choices[:12]) + ("…" if len(self.choices) > 12 else "")
                self._fail(
                    "not_a_choice",
                    f"{text!r} is not one of the allowed values ({shown})",
                    f"“{text}”不是允许的取值（{shown}）",
                    choices=list(self.choices),
                )
        elif self.max_length is not None and len(text) > self.max_length:
            self._fail(
                "too_long",
                f"is {len(text)} characters long, more than {self.max_length}",
                f"长度 {len(text)} 超过上限 {self.max_length} 个字符",
                max_length=self.max_length,
            )
        return text

    def _normalize_date(self, value: object) -> datetime.date:
        if isinstance(value, datetime.datetime):
            self._fail("type", "must be a date, not a datetime", "须为日期（不含时间）")
        if isinstance(value, datetime.date):
            return value
        if not isinstance(value, str):
            self._fail("type", f"must be a date, not {_type_name(value)}", "须为日期")
        text = value.strip()
        if not _DATE_RE.fullmatch(text):
            self._fail(
                "date_format",
                f"{value!r} is not a date in the form YYYY-MM-DD",
                f"“{value}”不是 YYYY-MM-DD 格式的日期",
            )
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            self._fail("bad_date", f"{text} is not a calendar date", f"{text} 不是有效日期")

    def _digit_limit(self) -> int:
        return self.max_length if self.max_length is not None else MAX_DIGITS

    def _normalize_integer(self, value: object) -> int:
        limit = self._digit_limit()
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self._fail("type", f"must be an integer, not {_type_name(value)}", "须为整数")
        if isinstance(value, str):
            text = value.strip()
            if not (text.isascii() and text.isdigit()):
                self._fail(
                    "not_an_integer",
                    f"{value!r} is not a whole number in ASCII digits",
                    f"“{value}”不是整数（须为阿拉伯数字）",
                )
            digits = len(text.lstrip("0")) or 1
            if digits > limit:
                self._fail(
                    "too_many_digits",
                    f"has more than {limit} digits",
                    f"位数超过 {limit} 位",
                )
            return int(text)
        if abs(value) >= 10**limit:
            self._fail("too_many_digits", f"has more than {limit} digits", f"位数超过 {limit} 位")
        return value

    def _normalize_decimal(self, value: object) -> str:
        from decimal import Decimal, InvalidOperation  # import cost only when used

        limit = self._digit_limit()
        if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
            hint = " (use a string or Decimal: floats are inexact)" if isinstance(value, float) else ""
            self._fail("type", f"must be a decimal number, not {_type_name(value)}{hint}", "须为十进制数")
        if isinstance(value, str):
            text = value.strip()
            if len(text) > 2 * MAX_DIGITS + 2 or not _DECIMAL_RE.fullmatch(text):
                self._fail(
                    "not_a_decimal",
                    f"{value!r} is not a plain decimal number (like 100.50)",
                    f"“{value}”不是十进制数（如 100.50）",
                )
            number = Decimal(text)
        elif isinstance(value, int):
            number = Decimal(value)
        else:
            number = value
        if not number.is_finite():
            self._fail("not_finite", "must be a finite number", "须为有限数值")
        try:
            if number.adjusted() >= limit or number.as_tuple().exponent < -limit:  # type: ignore[operator]
                raise InvalidOperation
            text = format(number, "f")
        except InvalidOperation:
            self._fail("too_many_digits", f"has more than {limit} digits", f"位数超过 {limit} 位")
        if number.is_zero():
            text = text.lstrip("-+")
        whole, _, frac = text.lstrip("-").partition(".")
        if len(whole.lstrip("0")) + len(frac) > limit:
            self._fail("too_many_digits", f"has more than {limit} digits", f"位数超过 {limit} 位")
        return text

    def _normalize_identifier(self, value: object) -> str:
        if not isinstance(value, str):
            self._fail("type", f"must be text, not {_type_name(value)}", "须为文本")
        parser: Callable[[str], USCC | ResidentId | AreaCode]
        if self.type == "uscc":
            parser = USCC.parse
        elif self.type == "resident_id":
            parser = ResidentId.parse
        else:
            parser = AreaCode.parse
        try:
            # NFKC: full-width digits and letters (３７０１…) are common in typed data.
            parsed = parser(unicodedata.normalize("NFKC", value).strip())
        except IdentifierError as exc:
            self._fail(
                "identifier",
                exc.message,
                exc.message_zh or exc.message,
                part=exc.details.get("part"),
            )
        return str(parsed)


def _field_problem(spec: FieldSpec) -> tuple[str, str] | None:
    """Semantic checks of a field definition: ``(en, zh)`` of the first problem, or ``None``."""
    if not isinstance(spec.key, str) or not _KEY_RE.fullmatch(spec.key) or len(spec.key) > 32:
        return (
            "key must match [a-z][a-z0-9_]* and have at most 32 characters",
            "key 须匹配 [a-z][a-z0-9_]*，不超过 32 个字符",
        )
    if spec.key in RESERVED_KEYS:
        return (
            f"key {spec.key!r} names a licence-model attribute (holder, validity, issuer, number, "
            "...) and cannot be a field",
            f"key {spec.key!r} 是证照模型自身的属性（持证主体、有效期、发证机关、证照编号等），不能作为字段",
        )
    if type(spec.tag) is not int or not 1 <= spec.tag <= MAX_TAG:
        return (f"tag must be an integer 1..{MAX_TAG}", f"tag 须为 1..{MAX_TAG} 的整数")
    for label in (spec.name_zh, spec.name_en):
        if not isinstance(label, str) or not label.strip() or _bad_char(label, False):
            return ("name.zh and name.en must be non-empty text", "name.zh 与 name.en 须为非空文本")
    if spec.type not in FIELD_TYPES:
        return (f"unknown field type {spec.type!r}", f"未知的字段类型 {spec.type!r}")
    if type(spec.required) is not bool:
        return ("required must be true or false", "required 须为 true 或 false")
    if spec.qr not in _VISIBILITIES:
        return ("qr must be show, mask or omit", "qr 须为 show、mask 或 omit")
    ml = spec.max_length
    if spec.type in _LENGTH_REQUIRED and ml is None:
        return (f"a {spec.type} field needs max_length", f"{spec.type} 类型字段须设置 max_length")
    if ml is not None:
        if spec.type not in _LENGTH_ALLOWED:
            return (
                f"max_length is not allowed for a {spec.type} field",
                f"{spec.type} 类型字段不可设置 max_length",
            )
        upper = {"string": _MAX_STRING_LENGTH, "text": _MAX_TEXT_LENGTH}.get(spec.type, MAX_DIGITS)
        if type(ml) is not int or not 1 <= ml <= upper:
            return (f"max_length must be 1..{upper}", f"max_length 须在 1..{upper} 之间")
    if spec.type == "enum":
        if not spec.choices:
            return (
                "an enum field needs a non-empty choices list",
                "enum 类型字段须有非空的 choices",
            )
        for c in spec.choices:
            if (
                not isinstance(c, str)
                or not c
                or c != unicodedata.normalize("NFC", c).strip()
                or len(c) > _MAX_CHOICE_LENGTH
                or _bad_char(c, False)
            ):
                return (
                    f"choice {c!r} must be non-empty, stripped, NFC text of at most {_MAX_CHOICE_LENGTH} characters",
                    f"取值 {c!r} 须为非空、无首尾空白、NFC 规范化且不超过 {_MAX_CHOICE_LENGTH} 字的文本",
                )
        if len(set(spec.choices)) != len(spec.choices):
            return ("choices contain duplicates", "choices 有重复取值")
    elif spec.choices is not None:
        return ("choices are only allowed for an enum field", "仅 enum 类型字段可设置 choices")
    if spec.qr == "mask" and spec.type not in _MASKABLE:
        return (
            f"a {spec.type} field cannot be masked (use show or omit)",
            f"{spec.type} 类型字段不能掩码显示（请用 show 或 omit）",
        )
    for keep in (spec.mask_keep_start, spec.mask_keep_end):
        if type(keep) is not int or not 0 <= keep <= 32:
            return ("mask keeps must be integers 0..32", "mask 保留位数须为 0..32 的整数")
    return None


# --------------------------------------------------------------------------- LicenceType


@dataclass(frozen=True)
class LicenceType:
    """A licence type of the catalogue (e.g. 营业执照) and its fields."""

    code: str
    """Type code (证照类型代码): defining authority's 18-char USCC + 3-digit sequence."""
    slug: str
    """Short stable ASCII name (``business-licence``); also the catalogue file's name."""
    name_zh: str
    """Official name in Chinese (``营业执照``)."""
    name_en: str
    """Name in English."""
    defining_authority_zh: str
    """Defining authority (证照定义机构) in Chinese (``国家市场监督管理总局``)."""
    defining_authority_en: str
    """Defining authority in English."""
    holder_types: tuple[str, ...]
    """GB/T 36903 holder code types a holder may have (``001``, ``111``, ``099``)."""
    holder_name_qr: Visibility
    """QR policy for the holder's name (``show`` or ``mask``; a QR always names the holder)."""
    holder_code_qr: Visibility
    """QR policy for the holder's code (``show`` or ``mask``)."""
    long_term_allowed: bool
    """Whether a licence of this type may be valid long-term (长期, no end date)."""
    default_years: int | None
    """Usual validity in years from the start date, or ``None`` (none fixed by rule)."""
    fields: tuple[FieldSpec, ...]
    """Type-specific fields in catalogue (display) order."""
    code_provisional: bool = False
    """``True`` when the type code is not an officially published one (see README)."""
    code_source: str | None = None
    """Where the type code comes from (documentation only)."""
    _by_key: Mapping[str, FieldSpec] = _dc_field(init=False, repr=False, compare=False)
    _by_tag: Mapping[int, FieldSpec] = _dc_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "holder_types", tuple(self.holder_types))
        object.__setattr__(self, "fields", tuple(self.fields))
        problem = _type_problem(self)
        if problem is not None:
            en, zh = problem
            raise CatalogError(
                f"licence type {self.code!r}: {en}",
                message_zh=f"证照类型 {self.code!r}：{zh}",
                details={"type_code": self.code, "problem": en},
            )
        object.__setattr__(self, "_by_key", MappingProxyType({f.key: f for f in self.fields}))
        object.__setattr__(self, "_by_tag", MappingProxyType({f.tag: f for f in self.fields}))

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: object, *, source: str = "<dict>") -> LicenceType:
        """Build a type from its catalogue JSON object; errors name ``source`` and the path."""
        r = _Reader("", source=source)
        obj = r.mapping(
            data,
            required=(
                "code", "slug", "name", "defining_authority", "holder_types",
                "holder_qr", "validity", "fields",
            ),
            optional=("code_provisional", "code_source"),
        )  # fmt: skip
        code = r.string(obj["code"], "code")
        code_problem = _type_code_problem(code)
        if code_problem is not None:
            r.fail("code", *code_problem)
        slug = r.string(obj["slug"], "slug", max_length=64)
        name_zh, name_en = r.names(obj["name"], "name")
        auth_zh, auth_en = r.names(obj["defining_authority"], "defining_authority")
        raw_holders = obj["holder_types"]
        if not isinstance(raw_holders, list):
            r.fail("holder_types", "must be a list of 3-digit strings", "须为三位数字字符串列表")
        holders = tuple(r.string(h, f"holder_types[{i}]") for i, h in enumerate(raw_holders))
        hq = r.mapping(obj["holder_qr"], required=("name", "code"), where="holder_qr")
        name_qr = r.string(hq["name"], "holder_qr.name")
        code_qr = r.string(hq["code"], "holder_qr.code")
        for where, vis in (("holder_qr.name", name_qr), ("holder_qr.code", code_qr)):
            if vis not in _HOLDER_VISIBILITIES:
                r.fail(where, "must be show or mask", "须为 show 或 mask")
        val = r.mapping(obj["validity"], required=("long_term_allowed", "default_years"), where="validity")
        long_term = r.boolean(val["long_term_allowed"], "validity.long_term_allowed")
        years = val["default_years"]
        default_years = None if years is None else r.integer(years, "validity.default_years", 1, 100)
        raw_fields = obj["fields"]
        if not isinstance(raw_fields, list):
            r.fail("fields", "must be a list of field objects", "须为字段对象列表")
        specs: list[FieldSpec] = []
        keys: dict[str, int] = {}
        tags: dict[int, int] = {}
        for i, raw in enumerate(raw_fields):
            where = f"fields[{i}]"
            spec = FieldSpec.from_dict(raw, where=where, source=source)
            if spec.key in keys:
                r.fail(
                    f"{where}.key",
                    f"duplicate key {spec.key!r} (also fields[{keys[spec.key]}])",
                    f"字段 key {spec.key!r} 重复（另见 fields[{keys[spec.key]}]）",
                )
            if spec.tag in tags:
                r.fail(
                    f"{where}.tag",
                    f"duplicate tag {spec.tag} (also fields[{tags[spec.tag]}])",
                    f"字段 tag {spec.tag} 重复（另见 fields[{tags[spec.tag]}]）",
                )
            keys[spec.key] = i
            tags[spec.tag] = i
            specs.append(spec)
        provisional = False
        if "code_provisional" in obj:
            provisional = r.boolean(obj["code_provisional"], "code_provisional")
        code_source = None
        if "code_source" in obj:
            code_source = r.string(obj["code_source"], "code_source", max_length=2000)
        try:
            return cls(
                code=code,
                slug=slug,
                name_zh=name_zh,
                name_en=name_en,
                defining_authority_zh=auth_zh,
                defining_authority_en=auth_en,
                holder_types=holders,
                holder_name_qr=cast(Visibility, name_qr),
                holder_code_qr=cast(Visibility, code_qr),
                long_term_allowed=long_term,
                default_years=default_years,
                fields=tuple(specs),
                code_provisional=provisional,
                code_source=code_source,
            )
        except CatalogError as exc:
            raise _located(exc, [source], file=source) from None

    def to_dict(self) -> dict[str, Any]:
        """The catalogue JSON object of this type (inverse of :meth:`from_dict`)."""
        out: dict[str, Any] = {
            "code": self.code,
            "slug": self.slug,
            "name": {"zh": self.name_zh, "en": self.name_en},
            "defining_authority": {
                "zh": self.defining_authority_zh,
                "en": self.defining_authority_en,
            },
            "holder_types": list(self.holder_types),
            "holder_qr": {"name": self.holder_name_qr, "code": self.holder_code_qr},
            "validity": {
                "long_term_allowed": self.long_term_allowed,
                "default_years": self.default_years,
            },
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.code_provisional:
            out["code_provisional"] = True
        if self.code_source is not None:
            out["code_source"] = self.code_source
        return out

    # -- lookups ----------------------------------------------------------------------

    def field(self, key: str) -> FieldSpec:
        """The field named ``key``; :class:`CatalogError` if the type has no such field."""
        spec = self._by_key.get(key)
        if spec is None:
            raise CatalogError(
                f"licence type {self.name_en} ({self.code}) has no field {key!r}",
                message_zh=f"证照类型“{self.name_zh}”没有字段 {key!r}",
                details={"type_code": self.code, "field": key},
            )
        return spec

    def field_by_tag(self, tag: int) -> FieldSpec:
        """The field with QR tag ``tag``; :class:`CatalogError` if none."""
        spec = self._by_tag.get(tag) if type(tag) is int else None
        if spec is None:
            raise CatalogError(
                f"licence type {self.name_en} ({self.code}) has no field with tag {tag!r}",
                message_zh=f"证照类型“{self.name_zh}”没有标签为 {tag!r} 的字段",
                details={"type_code": self.code, "tag": tag},
            )
        return spec

    # -- values -----------------------------------------------------------------------

    def validate_fields(self, values: Mapping[str, object]) -> dict[str, FieldValue]:
        """Normalise a licence's type-specific field values, in catalogue order.

        Absent, ``None`` and blank-string values count as missing: an error for a
        required field, skipped for an optional one. Collects *every* problem
        (missing required fields, unknown keys, bad values) and raises one
        :class:`LicenceDataError` whose ``details["problems"]`` lists
        ``{"field", "message", "message_zh", "reason"}`` for each.
        """
        if not isinstance(values, Mapping):
            raise LicenceDataError(
                f"licence fields must be a mapping, not {_type_name(values)}",
                message_zh="证照字段须为键值映射",
                details={"type_code": self.code},
            )
        problems: list[dict[str, Any]] = []
        out: dict[str, FieldValue] = {}
        for spec in self.fields:
            raw = values.get(spec.key)
            if _is_blank(raw):
                if spec.required:
                    problems.append(
                        {
                            "field": spec.key,
                            "message": f"{spec.key} ({spec.name_en}): required field is missing",
                            "message_zh": f"{spec.name_zh}：必填字段缺失",
                            "reason": "missing",
                        }
                    )
                continue
            try:
                out[spec.key] = spec.normalize(raw)
            except LicenceDataError as exc:
                problems.append(
                    {
                        "field": spec.key,
                        "message": exc.message,
                        "message_zh": exc.message_zh or exc.message,
                        "reason": exc.details.get("reason", "invalid"),
                    }
                )
        for key in values:
            if not isinstance(key, str) or key not in self._by_key:
                problems.append(
                    {
                        "field": key,
                        "message": f"{key!r}: not a field of {self.name_en} ({self.code})",
                        "message_zh": f"{key!r}：不是“{self.name_zh}”的字段",
                        "reason": "unknown_field",
                    }
                )
        if problems:
            n = len(problems)
            raise LicenceDataError(
                f"{n} problem{'s' if n > 1 else ''} in the fields of {self.name_en} "
                f"({self.code}): " + "; ".join(p["message"] for p in problems),
                message_zh=f"“{self.name_zh}”的字段有 {n} 处问题：" + "；".join(p["message_zh"] for p in problems),
                details={"type_code": self.code, "problems": problems},
            )
        return out

    def qr_fields(self, values: Mapping[str, object]) -> dict[int, FieldValue]:
        """Tag → value for the QR payload: ``show`` fields as normalised, ``mask`` fields
        masked (a string), ``omit`` fields never. Validates ``values`` first (all of them,
        as :meth:`validate_fields`); absent optional fields are left out.
        """
        return self.qr_fields_of_normalized(self.validate_fields(values))

    def qr_fields_of_normalized(self, normalized: Mapping[str, FieldValue]) -> dict[int, FieldValue]:
        """:meth:`qr_fields` of values :meth:`validate_fields` already returned (bulk issuing: validated once)."""
        out: dict[int, FieldValue] = {}
        for spec in self.fields:
            if spec.qr == "omit" or spec.key not in normalized:
                continue
            out[spec.tag] = spec.qr_value(normalized[spec.key])
        return out


def _type_problem(lt: LicenceType) -> tuple[str, str] | None:
    """Semantic checks of a licence type: ``(en, zh)`` of the first problem, or ``None``."""
    code_problem = _type_code_problem(lt.code)
    if code_problem is not None:
        return code_problem
    if not isinstance(lt.slug, str) or len(lt.slug) > 64 or not _SLUG_RE.fullmatch(lt.slug):
        return (
            "slug must be lowercase ASCII words joined by '-' (at most 64 characters)",
            "slug 须为以 '-' 连接的小写 ASCII 单词（不超过 64 个字符）",
        )
    for label in (lt.name_zh, lt.name_en, lt.defining_authority_zh, lt.defining_authority_en):
        if not isinstance(label, str) or not label.strip() or _bad_char(label, False):
            return ("names must be non-empty text", "名称须为非空文本")
    if not lt.holder_types:
        return ("holder_types must not be empty", "holder_types 不能为空")
    for h in lt.holder_types:
        if not isinstance(h, str) or not _HOLDER_TYPE_RE.fullmatch(h) or h not in HOLDER_TYPES:
            known = ", ".join(HOLDER_TYPES)
            return (
                f"holder type {h!r} is not one of {known}",
                f"持证主体代码类型 {h!r} 不在 {known} 之中",
            )
    if len(set(lt.holder_types)) != len(lt.holder_types):
        return ("holder_types contain duplicates", "holder_types 有重复")
    if lt.holder_name_qr not in _HOLDER_VISIBILITIES or lt.holder_code_qr not in _HOLDER_VISIBILITIES:
        return (
            "holder QR policy must be show or mask (a QR always identifies the holder)",
            "持证主体的二维码策略须为 show 或 mask",
        )
    if type(lt.long_term_allowed) is not bool:
        return ("long_term_allowed must be true or false", "long_term_allowed 须为 true 或 false")
    if lt.default_years is not None and (type(lt.default_years) is not int or not 1 <= lt.default_years <= 100):
        return ("default_years must be 1..100 or null", "default_years 须为 1..100 或 null")
    if type(lt.code_provisional) is not bool:
        return ("code_provisional must be true or false", "code_provisional 须为 true 或 false")
    keys: set[str] = set()
    tags: set[int] = set()
    for spec in lt.fields:
        if not isinstance(spec, FieldSpec):
            return ("fields must be FieldSpec objects", "fields 须为 FieldSpec 对象")
        if spec.key in keys:
            return (f"duplicate field key {spec.key!r}", f"字段 key {spec.key!r} 重复")
        if spec.tag in tags:
            return (f"duplicate field tag {spec.tag}", f"字段 tag {spec.tag} 重复")
        keys.add(spec.key)
        tags.add(spec.tag)
    return None


# --------------------------------------------------------------------------- JSON reading


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKeyError(k)
        out[k] = v
    return out


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


class _Reader:
    """Typed access to a parsed JSON object, with errors naming file and path."""

    def __init__(self, prefix: str, *, source: str | None = None) -> None:
        self.prefix = prefix
        self.source = source

    def _where(self, path: str) -> str:
        if self.prefix and path:
            return f"{self.prefix}.{path}"
        return self.prefix or path or "(top level)"

    def fail(self, path: str, en: str, zh: str) -> NoReturn:
        where = self._where(path)
        head = f"{self.source}: " if self.source else ""
        raise CatalogError(
            f"{head}{where}: {en}",
            message_zh=f"{head}{where}：{zh}",
            details={"file": self.source, "path": where, "problem": en},
        )

    def mapping(
        self,
        value: object,
        *,
        required: Iterable[str],
        optional: Iterable[str] = (),
        where: str = "",
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, "must be a JSON object", "须为 JSON 对象")
        req = tuple(required)
        allowed = set(req) | set(optional)
        for k in value:
            if k not in allowed:
                self.fail(
                    f"{where}.{k}" if where else k,
                    f"unknown key {k!r}",
                    f"未知的键 {k!r}",
                )
        for k in req:
            if k not in value:
                self.fail(
                    f"{where}.{k}" if where else k,
                    "required key is missing",
                    "缺少必需的键",
                )
        return value

    def string(self, value: object, path: str, *, max_length: int = 256) -> str:
        if not isinstance(value, str):
            self.fail(path, f"must be a string, not {_json_type(value)}", "须为字符串")
        if not value.strip():
            self.fail(path, "must not be empty", "不能为空")
        if value != value.strip():
            self.fail(path, "has leading or trailing whitespace", "有首尾空白")
        if len(value) > max_length:
            self.fail(path, f"is longer than {max_length} characters", f"超过 {max_length} 个字符")
        if _bad_char(value, False) is not None:
            self.fail(path, "contains a control character", "含控制字符")
        return value

    def boolean(self, value: object, path: str) -> bool:
        if type(value) is not bool:
            self.fail(path, f"must be true or false, not {_json_type(value)}", "须为 true 或 false")
        return value

    def integer(self, value: object, path: str, lo: int, hi: int) -> int:
        if type(value) is not int:
            self.fail(path, f"must be an integer, not {_json_type(value)}", "须为整数")
        if not lo <= value <= hi:
            self.fail(path, f"must be between {lo} and {hi}", f"须在 {lo} 与 {hi} 之间")
        return value

    def names(self, value: object, path: str) -> tuple[str, str]:
        obj = self.mapping(value, required=("zh", "en"), where=path)
        return (
            self.string(obj["zh"], f"{path}.zh"),
            self.string(obj["en"], f"{path}.en"),
        )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return _type_name(value)


def _load_file(path: str) -> LicenceType:
    name = os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CatalogError(
            f"{name}: cannot read catalogue file: {exc.strerror or exc}",
            message_zh=f"{name}：无法读取证照目录文件",
            details={"file": name},
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise CatalogError(
            f"{name}: catalogue file is larger than {MAX_FILE_BYTES // 1024} KiB",
            message_zh=f"{name}：证照目录文件超过 {MAX_FILE_BYTES // 1024} KiB",
            details={"file": name, "problem": "too_large"},
        )
    try:
        text = data.decode("utf-8")
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise CatalogError(
            f"{name}: not UTF-8 text (byte {exc.start})",
            message_zh=f"{name}：不是 UTF-8 文本",
            details={"file": name, "problem": "not_utf8"},
        ) from None
    except json.JSONDecodeError as exc:
        raise CatalogError(
            f"{name}: invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            message_zh=f"{name}：JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）",
            details={"file": name, "problem": "invalid_json"},
        ) from None
    except _DuplicateKeyError as exc:
        raise CatalogError(
            f"{name}: invalid JSON: duplicate key {exc.key!r}",
            message_zh=f"{name}：JSON 中键 {exc.key!r} 重复",
            details={"file": name, "problem": "duplicate_key"},
        ) from None
    except (ValueError, RecursionError) as exc:
        raise CatalogError(
            f"{name}: invalid JSON: {exc}",
            message_zh=f"{name}：JSON 格式错误",
            details={"file": name, "problem": "invalid_json"},
        ) from None
    lt = LicenceType.from_dict(obj, source=name)
    stem = name[: -len(".json")]
    if stem != lt.slug:
        raise CatalogError(
            f"{name}: file name must be the slug: expected {lt.slug}.json",
            message_zh=f"{name}：文件名须与 slug 一致，应为 {lt.slug}.json",
            details={"file": name, "path": "slug", "problem": "file_name"},
        )
    return lt


# --------------------------------------------------------------------------- Catalog


def default_directory() -> str:
    """The packaged catalogue (``elicense/_specs/catalog`` in a wheel), or the source
    checkout's ``specs/catalog`` (editable install / ``PYTHONPATH=src``)."""
    here = os.path.dirname(os.path.realpath(__file__))
    packaged = os.path.join(here, "_specs", "catalog")
    if os.path.isdir(packaged):
        return packaged
    return os.path.join(os.path.dirname(os.path.dirname(here)), "specs", "catalog")


class Catalog:
    """An immutable set of licence types, looked up by type code or slug."""

    __slots__ = ("_by_code", "_by_slug", "directory")

    def __init__(self, types: Iterable[LicenceType], *, directory: str | None = None) -> None:
        by_code: dict[str, LicenceType] = {}
        by_slug: dict[str, LicenceType] = {}
        for lt in types:
            if not isinstance(lt, LicenceType):
                raise CatalogError(f"not a LicenceType: {_type_name(lt)}", message_zh="不是证照类型对象")
            if lt.code in by_code:
                raise CatalogError(
                    f"type code {lt.code} is defined twice ({by_code[lt.code].slug}, {lt.slug})",
                    message_zh=f"证照类型代码 {lt.code} 重复定义",
                    details={"type_code": lt.code, "problem": "duplicate_code"},
                )
            if lt.slug in by_slug:
                raise CatalogError(
                    f"slug {lt.slug!r} is defined twice ({by_slug[lt.slug].code}, {lt.code})",
                    message_zh=f"slug {lt.slug!r} 重复定义",
                    details={"slug": lt.slug, "problem": "duplicate_slug"},
                )
            by_code[lt.code] = lt
            by_slug[lt.slug] = lt
        self._by_code: Mapping[str, LicenceType] = MappingProxyType(dict(sorted(by_code.items())))
        self._by_slug: Mapping[str, LicenceType] = MappingProxyType(by_slug)
        self.directory = directory
        """Directory the catalogue was loaded from (``None`` if built in memory)."""

    @classmethod
    def load(cls, directory: str | os.PathLike[str] | None = None) -> Catalog:
        """Load and strictly validate every ``*.json`` type file of ``directory``.

        ``*.schema.json`` files are documentation and skipped. Default: the packaged
        catalogue (:func:`default_directory`). Raises :class:`CatalogError` naming the
        file and the problem.
        """
        path = default_directory() if directory is None else os.fspath(directory)
        try:
            with os.scandir(path) as it:
                entries = sorted(
                    (e.name, e.path, e.is_file())
                    for e in it
                    if e.name.endswith(".json") and not e.name.endswith(".schema.json")
                )
        except OSError as exc:
            raise CatalogError(
                f"cannot read catalogue directory {path}: {exc.strerror or exc}",
                message_zh=f"无法读取证照目录 {path}",
                details={"directory": path},
            ) from None
        if not entries:
            raise CatalogError(
                f"catalogue directory {path} has no licence type files (*.json)",
                message_zh=f"证照目录 {path} 中没有证照类型文件",
                details={"directory": path},
            )
        types: list[LicenceType] = []
        seen_code: dict[str, str] = {}
        for name, file_path, is_file in entries:
            if not is_file:
                raise CatalogError(
                    f"{name}: not a regular file",
                    message_zh=f"{name}：不是普通文件",
                    details={"file": name},
                )
            lt = _load_file(file_path)
            if lt.code in seen_code:
                raise CatalogError(
                    f"{name}: type code {lt.code} is already defined in {seen_code[lt.code]}",
                    message_zh=f"{name}：证照类型代码 {lt.code} 已在 {seen_code[lt.code]} 中定义",
                    details={"file": name, "path": "code", "problem": "duplicate_code"},
                )
            seen_code[lt.code] = name
            types.append(lt)
        return cls(types, directory=path)

    @classmethod
    def default(cls) -> Catalog:
        """The packaged catalogue, loaded once per process."""
        return _default_catalog()

    def find(self, code_or_slug: str) -> LicenceType | None:
        """The type with this type code or slug, or ``None``."""
        if not isinstance(code_or_slug, str):
            return None
        key = code_or_slug.strip()
        return self._by_code.get(key.upper()) or self._by_slug.get(key.lower())

    def get(self, code_or_slug: str) -> LicenceType:
        """The type with this type code or slug; :class:`CatalogError` if unknown."""
        lt = self.find(code_or_slug)
        if lt is None:
            known = ", ".join(sorted(self._by_slug))
            raise CatalogError(
                f"unknown licence type {code_or_slug!r} (known: {known}; 'elicense types' lists them with codes)",
                message_zh=f"未知的证照类型 {code_or_slug!r}（可用：{known}；'elicense types' 列出类型及代码）",
                details={"type_code": code_or_slug, "problem": "unknown_type"},
            )
        return lt

    @property
    def codes(self) -> tuple[str, ...]:
        """All type codes, sorted."""
        return tuple(self._by_code)

    def __iter__(self) -> Iterator[LicenceType]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code_or_slug: object) -> bool:
        return isinstance(code_or_slug, str) and self.find(code_or_slug) is not None

    def __repr__(self) -> str:
        return f"Catalog({len(self)} types: {', '.join(lt.slug for lt in self)})"


@functools.cache
def _default_catalog() -> Catalog:
    return Catalog.load()
