"""Licence ↔ claims: the one module that defines the signed bytes of a licence.

Two encodings, both deterministic CBOR:

* the **QR claims**, a CWT claims set (RFC 8392): ``iat`` (6), ``cti`` (7, the
  record digest), ``nbf`` (5) / ``exp`` (4) for the validity, under their registered
  keys and meanings, and every licence claim inside one private-use claim
  (:data:`K_LICENCE`, below -65536) whose map uses the field table below (holder
  and fields masked as the catalogue says) — small enough for a version ≤ 10 QR;
* the **full record** (text keys, every field), whose SHA-256 the QR claims
  carry as ``digest`` so the QR binds to the full licence in the PDF.

Key numbers are normative (``specs/qr-payload.md``); never reuse one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cbor2 import CBORError

from elicense.basics import FieldValue, HolderType, licence_record
from elicense.catalog import mask
from elicense.errors import IdentifierError, PayloadError
from elicense.identifiers import (
    ALNUM36,
    ALNUM36_VALUE,
    MOD37_36_NEXT,
    ORG_WEIGHTS,
    USCC,
    USCC_ALPHABET,
    USCC_VALUE,
    USCC_WEIGHTS,
    LicenceId,
)
from elicense.qr import cbor

if TYPE_CHECKING:
    from elicense.catalog import LicenceType
    from elicense.model import Licence  # not at run time: verifying defines no model class (#8)

CLAIMS_VERSION = 1

# CWT claims (RFC 8392 §3.1, IANA "CBOR Web Token Claims") at the top level of the claims set
CWT_ISS = 1  # not written: the issuer is the kid's certificate (and 20 bytes would push QRs up a version)
CWT_EXP = 4  # NumericDate: 00:00 China Standard Time of the day after valid_until; absent = long-term
CWT_NBF = 5  # NumericDate: 00:00 China Standard Time of valid_from; absent when that is iat's day (CST)
CWT_IAT = 6  # NumericDate: signing time
CWT_CTI = 7  # the record digest (below): unique per licence record
K_LICENCE = -65537  # private use (< -65536): the licence claims map, keyed by the field table below
DAY = 86400
CST = 8 * 3600
"""Licence dates are calendar days in China Standard Time (UTC+8): day ``d`` starts at ``d * DAY - CST``."""

# The field table of the licence claims map (and of the presentation MSO, which also uses 7, 8, 10, 13
# in their flat meaning: valid_from/valid_until days, signed_at, digest — see flat_claims)
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

_REQUIRED = frozenset({K_ID, K_HOLDER_NAME, K_HOLDER_CODE})
_KNOWN = _REQUIRED | {K_NUMBER, K_HOLDER_TYPE, K_ISSUED_ON, K_STATUS_INDEX, K_SUPERSEDES}
# In the licence claims map a catalogue field with tag t (1..255) is the entry -t (the presentation's
# element id); the flat map (MSO layout) keeps them under K_FIELDS.
_TOP_REQUIRED = frozenset({CWT_IAT, CWT_CTI, K_LICENCE})
_TOP_KNOWN = _TOP_REQUIRED | {CWT_NBF, CWT_EXP}
_DEPTH = 4  # claims set → licence map → fields map / id list
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


def _qr_value(value: FieldValue) -> str | bytes | int:
    if isinstance(value, dt.date):
        return date_to_days(value)
    return compact_text(value) if isinstance(value, str) else value


# -- compact forms (§3.1 of the spec): same information, fewer bytes --------------------------

_USCC_SPACE = 31**16  # 16 free characters; characters 17 and 18 are check characters
PACKED_USCC_LENGTH = 10
PACKED_TYPE_LENGTH = 12


def compact_text(text: str) -> str | bytes:
    """UTF-16BE bytes when strictly shorter than UTF-8 (Chinese text: 2 bytes a character, not 3)."""
    if text.isascii():
        return text
    utf16 = text.encode("utf-16-be")
    return utf16 if len(utf16) < len(text.encode("utf-8")) else text


def _uscc_body_value(body16: str) -> int:
    n = 0
    for ch in body16:
        n = n * 31 + USCC_VALUE[ch]
    return n


_PAIRS = tuple(a + b for a in USCC_ALPHABET for b in USCC_ALPHABET)
_ALNUM_OF_USCC_CHAR = {c: ALNUM36_VALUE[c] for c in USCC_ALPHABET}


def _pair_sums(position: int, weights: Sequence[int], values: Mapping[str, int]) -> tuple[int, ...]:
    """Weighted check-sum contribution of every character pair at pair ``position`` (0..7)."""
    w1, w2 = weights[2 * position], weights[2 * position + 1]
    firsts = [values[c] * w1 for c in USCC_ALPHABET]
    seconds = [values[c] * w2 for c in USCC_ALPHABET]
    return tuple(a + b for a in firsts for b in seconds)  # in _PAIRS order


_TOTAL = tuple(_pair_sums(k, USCC_WEIGHTS, USCC_VALUE) for k in range(8))
"""Per pair position: contribution to the GB 32100 check sum (characters 1-16)."""
_ORG = tuple(_pair_sums(k - 4, ORG_WEIGHTS, _ALNUM_OF_USCC_CHAR) for k in range(4, 8))
"""Per pair position 4..7 (the GB 11714 organisation code body): contribution to its check sum."""
_ORG_CHECK = tuple(
    ("X" if c == 10 else "0" if c == 11 else str(c), USCC_VALUE["X" if c == 10 else "0" if c == 11 else str(c)])
    for c in range(12)
)
_W16 = USCC_WEIGHTS[16]


def _uscc_from_value(n: int) -> str:
    """The USCC whose 16 free characters are ``n`` in base 31, check characters computed (hot path:
    the QR holder code). Pair tables replace per-character arithmetic; the tests hold it equal to a straightforward
    reference form (``tests/reference_forms.py``)."""
    hi, lo = divmod(n, 852891037441)  # 961**4
    a, b = divmod(hi, 923521)  # 961**2
    p0, p1 = divmod(a, 961)
    p2, p3 = divmod(b, 961)
    a, b = divmod(lo, 923521)
    p4, p5 = divmod(a, 961)
    p6, p7 = divmod(b, 961)
    org = _ORG[0][p4] + _ORG[1][p5] + _ORG[2][p6] + _ORG[3][p7]
    check, check_value = _ORG_CHECK[11 - org % 11]
    t = _TOTAL
    total = t[0][p0] + t[1][p1] + t[2][p2] + t[3][p3] + t[4][p4] + t[5][p5] + t[6][p6] + t[7][p7]
    total += check_value * _W16
    pairs = _PAIRS
    return "".join(
        (
            pairs[p0],
            pairs[p1],
            pairs[p2],
            pairs[p3],
            pairs[p4],
            pairs[p5],
            pairs[p6],
            pairs[p7],
            check,
            USCC_ALPHABET[-total % 31],
        )
    )


_HEADS: dict[int, tuple[str, int]] = {}
"""First 8 characters (registration authority, category, area code) and their check-sum part, by value."""


def _uscc_from_value_fast(n: int) -> str:
    """:func:`_uscc_from_value` with its first half looked up: the first 8 characters of a USCC (who
    registered it, the category, the area) repeat across holders; the tests hold the two equal."""
    hi, lo = divmod(n, 852891037441)  # 961**4
    head = _HEADS.get(hi)
    if head is None:
        a, b = divmod(hi, 923521)
        p0, p1 = divmod(a, 961)
        p2, p3 = divmod(b, 961)
        t = _TOTAL
        head = (_PAIRS[p0] + _PAIRS[p1] + _PAIRS[p2] + _PAIRS[p3], t[0][p0] + t[1][p1] + t[2][p2] + t[3][p3])
        if len(_HEADS) >= 4096:
            _HEADS.clear()
        _HEADS[hi] = head
    a, b = divmod(lo, 923521)
    p4, p5 = divmod(a, 961)
    p6, p7 = divmod(b, 961)
    check, check_value = _ORG_CHECK[11 - (_ORG[0][p4] + _ORG[1][p5] + _ORG[2][p6] + _ORG[3][p7]) % 11]
    t = _TOTAL
    total = head[1] + t[4][p4] + t[5][p5] + t[6][p6] + t[7][p7] + check_value * _W16
    pairs = _PAIRS
    return "".join((head[0], pairs[p4], pairs[p5], pairs[p6], pairs[p7], check, USCC_ALPHABET[-total % 31]))


def _is_valid_uscc(code: str) -> bool:
    try:
        return USCC(code).value == code
    except IdentifierError:
        return False


def pack_uscc(code: str) -> bytes | None:
    """A valid USCC as 10 bytes (its 16 free characters in base 31), else ``None``."""
    if len(code) != 18 or not _is_valid_uscc(code):
        return None
    return _uscc_body_value(code[:16]).to_bytes(PACKED_USCC_LENGTH, "big")


@functools.lru_cache(maxsize=256)
def pack_type_code(code: str) -> bytes | None:
    """A type code (USCC + 3 digits) as 12 bytes: base-31 USCC body × 1000 + sequence (cached: a catalogue
    has few types, and bulk issuing packs the same one per licence)."""
    if len(code) != 21 or not code[18:].isdigit() or code[18:] == "000" or pack_uscc(code[:18]) is None:
        return None
    return (_uscc_body_value(code[:16]) * 1000 + int(code[18:])).to_bytes(PACKED_TYPE_LENGTH, "big")


def unpack_uscc(data: bytes) -> str:
    """Inverse of :func:`pack_uscc` (check characters recomputed; the result is still validated)."""
    n = int.from_bytes(data, "big")
    if len(data) != PACKED_USCC_LENGTH or n >= _USCC_SPACE:
        raise PayloadError("packed USCC out of range", message_zh="压缩的统一社会信用代码越界")
    return _uscc_from_value(n)


@functools.lru_cache(maxsize=256)
def unpack_type_code(data: bytes) -> str:
    """Inverse of :func:`pack_type_code`."""
    n = int.from_bytes(data, "big")
    if len(data) != PACKED_TYPE_LENGTH or n >= _USCC_SPACE * 1000:
        raise PayloadError("packed type code out of range", message_zh="压缩的证照类型代码越界")
    body, seq = divmod(n, 1000)
    if seq == 0:
        raise PayloadError("type code sequence 000", message_zh="证照类型代码序号错误")
    return f"{_uscc_from_value(body)}{seq:03d}"


# -- full record ------------------------------------------------------------------------------


def full_record(licence: Licence) -> bytes:
    """Canonical CBOR of the whole licence (the PDF attachment's signed payload)."""
    return cbor.dumps_keyed({"v": CLAIMS_VERSION, **licence_record(licence), "source_id": None})


def licence_digest(licence: Licence) -> bytes:
    """SHA-256 of :func:`full_record`, truncated to 16 bytes: the QR's ``digest`` claim."""
    return record_digest(full_record(licence))


def record_digest(record: bytes) -> bytes:
    """Digest of full-record bytes as carried in the QR."""
    return hashlib.sha256(record).digest()[:DIGEST_LENGTH]


# -- QR claims --------------------------------------------------------------------------------


def _holder_view(licence: Licence, licence_type: LicenceType) -> tuple[str, str]:
    name, code = licence.holder.name, licence.holder.code
    if licence_type.holder_name_qr == "mask":
        name = mask(name, keep_start=1, keep_end=0)
    if licence_type.holder_code_qr == "mask":
        code = mask(code, keep_start=1, keep_end=1)
    return name, code


def _compact_serial(serial: str) -> str | int:
    return int(serial) if serial.isdigit() and serial[0] != "0" and len(serial) <= 19 else serial


def build_claims(
    licence: Licence,
    licence_type: LicenceType,
    *,
    signed_at: dt.datetime,
    record: bytes | None = None,
    unsafe_fields_normalized: bool = False,
) -> bytes:
    """Canonical CBOR of the QR claims (a CWT claims set) for ``licence``.

    ``record`` is :func:`full_record` of the licence when the caller already has it (bulk issuing
    signs it too); ``unsafe_fields_normalized`` skips re-validating fields that
    :meth:`~elicense.issue.LicenceBuilder.build` already validated against the same catalogue type."""
    flat = flat_claims(
        licence, licence_type, signed_at=signed_at, record=record, unsafe_fields_normalized=unsafe_fields_normalized
    )
    return cbor.dumps_keyed(to_cwt(flat))


def to_cwt(flat: Mapping[int, Any]) -> dict[int, Any]:
    """The CWT claims set of a flat claims map (:func:`flat_claims`' numbering)."""
    signed = flat[K_SIGNED_AT]
    top: dict[int, Any] = {CWT_IAT: signed, CWT_CTI: flat[K_DIGEST]}
    start = flat[K_VALID_FROM]
    if type(signed) is not int or type(start) is not int or start != (signed + CST) // DAY:
        top[CWT_NBF] = start * DAY - CST if type(start) is int else start
    until = flat[K_VALID_UNTIL]
    if until is not None:
        top[CWT_EXP] = (until + 1) * DAY - CST if type(until) is int else until
    inner = {k: v for k, v in flat.items() if k not in _FLAT_ONLY}
    fields = inner.get(K_FIELDS)
    if type(fields) is dict and all(type(t) is int and t > 0 for t in fields):
        del inner[K_FIELDS]
        inner.update({-t: v for t, v in fields.items()})
    top[K_LICENCE] = inner
    return top


def _split_fields(claims: dict[object, object]) -> tuple[dict[object, object], dict[int, object] | None]:
    """``(licence claims without fields, {tag: value} of the fields or None)``: fields are the negative keys."""
    if not any(type(k) is int and k < 0 for k in claims):
        return claims, None
    rest: dict[object, object] = {}
    fields: dict[int, object] = {}
    for k, v in claims.items():
        if type(k) is int and k < 0:
            fields[-k] = v
        else:
            rest[k] = v
    return rest, fields


_FLAT_ONLY = frozenset({K_VALID_FROM, K_VALID_UNTIL, K_SIGNED_AT, K_DIGEST})
"""Flat claims that the CWT layer carries as registered claims."""


def flat_claims(
    licence: Licence,
    licence_type: LicenceType,
    *,
    signed_at: dt.datetime,
    record: bytes | None = None,
    unsafe_fields_normalized: bool = False,
) -> dict[int, Any]:
    """The claims as one flat map of the field table (validity as day numbers, signing time, digest):
    the presentation MSO's layout; :func:`to_cwt` makes the QR's CWT claims set of it."""
    if licence_type.code != licence.type_code:
        raise PayloadError("licence type does not match the licence id's type code")
    name, code = _holder_view(licence, licence_type)
    serial = licence.id.serial
    type_code = licence.id.type_code
    claims: dict[int, Any] = {
        K_ID: [pack_type_code(type_code) or type_code, _compact_serial(serial), licence.id.version],
        K_HOLDER_NAME: compact_text(name),
        K_HOLDER_CODE: pack_uscc(code) or compact_text(code),
        K_VALID_FROM: date_to_days(licence.validity.start),
        K_VALID_UNTIL: date_to_days(licence.validity.end) if licence.validity.end else None,
        K_SIGNED_AT: int(signed_at.timestamp()),
        K_DIGEST: licence_digest(licence) if record is None else record_digest(record),
    }
    if len(licence_type.holder_types) != 1:
        claims[K_HOLDER_TYPE] = int(licence.holder.code_type.value)
    if licence.number != serial:
        claims[K_NUMBER] = compact_text(licence.number)
    if licence.issued_on != licence.validity.start:
        claims[K_ISSUED_ON] = date_to_days(licence.issued_on)
    shown = (
        licence_type.qr_fields_of_normalized(licence.fields)
        if unsafe_fields_normalized
        else licence_type.qr_fields(licence.fields)
    )
    fields = {tag: _qr_value(v) for tag, v in shown.items()}
    if fields:
        claims[K_FIELDS] = fields
    if licence.status_index is not None:
        claims[K_STATUS_INDEX] = licence.status_index
    old = licence.supersedes
    if old is not None:  # [serial, version] when it is a licence of the same type and issuer
        same = old.type_code == type_code and old.issuer_code == licence.id.issuer_code and old.check_ok
        claims[K_SUPERSEDES] = [_compact_serial(old.serial), old.version] if same else str(old)
    return claims


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


def _text(claims: Mapping[int, object], key: int, what: str) -> str:
    return _text_value(claims[key], what)


def _text_value(value: object, what: str) -> str:
    """Text as tstr, or its compact form: UTF-16BE bytes that are shorter than the UTF-8."""
    if type(value) is bytes:
        if len(value) % 2 or len(value) > 2 * MAX_TEXT:
            raise PayloadError(f"claim {what}: bad UTF-16 text", message_zh=f"声明 {what} 格式错误")
        try:
            text = value.decode("utf-16-be")
        except UnicodeDecodeError as exc:
            raise PayloadError(f"claim {what}: bad UTF-16 text", message_zh=f"声明 {what} 格式错误") from exc
        if not text or len(value) >= len(text.encode("utf-8", "surrogatepass")):
            raise PayloadError(f"claim {what}: non-canonical text form", message_zh=f"声明 {what} 格式错误")
        return text
    if type(value) is not str or not value or len(value) > MAX_TEXT:
        raise PayloadError(f"claim {what} must be non-empty text", message_zh=f"声明 {what} 格式错误")
    return value


def _int(value: object, what: str, upper: int) -> int:
    if type(value) is not int or not 0 <= value < upper:
        raise PayloadError(f"claim {what} must be an integer in range", message_zh=f"声明 {what} 格式错误")
    return value


_ID_SERIAL_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_EPOCH_ORDINAL = _EPOCH.toordinal()


@functools.lru_cache(maxsize=1024)
def _id_prefix(type_code: str, issuer_code: str) -> tuple[str, str, int]:
    """Validated, normalised (type code, issuer code) and the MOD 37,36 state after them.

    The same pair repeats on every licence of a kind, so only the serial and version
    are left to check per payload.
    """
    probe = LicenceId.build(type_code, issuer_code, "0", 1)
    state = 36
    for ch in probe.type_code + probe.issuer_code:
        state = MOD37_36_NEXT[state][ch]
    return probe.type_code, probe.issuer_code, state


def _licence_id(type_code: str, issuer_code: str, serial: str, version: int) -> LicenceId:
    """``LicenceId.build`` with the per-(type, issuer) work cached (the verify hot path)."""
    if not 1 <= len(serial) <= 32 or not _ID_SERIAL_CHARS.issuperset(serial) or not 1 <= version <= 999:
        return LicenceId.build(type_code, issuer_code, serial, version)  # slow path: normalises or explains
    t, i, state = _id_prefix(type_code, issuer_code)
    for ch in f"{serial}{version:03d}":
        state = MOD37_36_NEXT[state][ch]
    lid = object.__new__(LicenceId)
    object.__setattr__(lid, "type_code", t)
    object.__setattr__(lid, "issuer_code", i)
    object.__setattr__(lid, "serial", serial)
    object.__setattr__(lid, "version", version)
    object.__setattr__(lid, "check_char", ALNUM36[(37 - state) % 36])
    return lid


def _supersedes(value: object, licence_id: LicenceId) -> LicenceId | None:
    """Full dotted id, or ``[serial, version]`` of a licence with this one's type and issuer."""
    if value is None:
        return None
    if type(value) is list:
        if len(value) != 2 or type(value[0]) not in (str, int):
            raise PayloadError("claim supersedes must be [serial, version]", message_zh="被替代证照声明格式错误")
        serial = str(_int(value[0], "serial", 10**19)) if type(value[0]) is int else value[0]
        return _licence_id(licence_id.type_code, licence_id.issuer_code, serial, _int(value[1], "version", 1000))
    return LicenceId.parse(_text_value(value, "supersedes"))


def _day(value: object, what: str) -> dt.date:
    if type(value) is not int or not 0 <= value <= _MAX_DAY:
        raise PayloadError(f"{what} is not a day number", message_zh=f"{what} 日期格式错误")
    return dt.date.fromordinal(_EPOCH_ORDINAL + value)


_HOLDER_TYPES = {t.value: t for t in HolderType}
_NO_FIELDS: Mapping[int, str | int] = MappingProxyType({})
"""Shared read-only empty ``fields`` (most QR claims show no extra field)."""


def _no_holder_types(type_code: str) -> Sequence[str]:
    return ()


_HOLDER_TYPE_OF_INT = {int(t.value): t for t in HolderType}
_MAX_UTF16 = 2 * MAX_TEXT


@functools.lru_cache(maxsize=1024)
def _id_head(type_item: bytes | str, issuer_code: str) -> tuple[str, str, int] | None:
    """:func:`_id_prefix` of a packed (12 bytes) or text type code; ``None`` when invalid (the strict
    parser then explains). One entry per (type, issuer): repeated on every licence of a kind."""
    try:
        return _id_prefix(unpack_type_code(type_item) if type(type_item) is bytes else type_item, issuer_code)
    except (PayloadError, IdentifierError):
        return None


def _short_text(value: object) -> str | None:
    """:func:`_text_value` when it accepts ``value``, else ``None`` (the strict parser explains)."""
    if type(value) is str:
        return value if value and len(value) <= MAX_TEXT else None
    if type(value) is not bytes or len(value) % 2 or len(value) > _MAX_UTF16:
        return None
    try:
        text = value.decode("utf-16-be")
    except UnicodeDecodeError:
        return None
    return text if text and len(value) < len(text.encode("utf-8", "surrogatepass")) else None


def parse_claims(
    data: bytes,
    *,
    issuer_code: str,
    area_code: str,
    holder_types_of: Callable[[str], Sequence[str]] = _no_holder_types,
) -> LicenceClaims:
    """Decode and check the claims map, after the signature has verified.

    The issuer code and area are not in the payload: they are the trusted
    signer's (``kid`` → authority), so a payload cannot claim another issuer.
    ``holder_types_of(type_code)`` gives the type's allowed holder types (from
    the catalogue): when there is exactly one, the payload may omit it.

    Hot path (#8): the claims every conforming issuer writes are read by a private fast reader
    (:func:`_read_claims_fast`) over the same field tables (``_TOP_KNOWN``, ``_KNOWN``, ``_REQUIRED``, the
    identifier and text rules) with the checks of :func:`parse_claims_strict` in fewer steps; anything
    else — any value that check would refuse, ``supersedes``, bytes the decoder refuses — is handed to
    :func:`parse_claims_strict`, which decides (and explains). So this function returns exactly what the
    strict one returns (the tests hold them equal on generated claims) and raises only what it raises.
    Only the CBOR decoder's own refusals are handed over: the fast reader raises nothing of its own, so
    a fault in it is an error, never a silent detour through the strict parser.
    """
    try:
        top = cbor.loads_exact(data, _DEPTH)
    except (CBORError, PayloadError, ValueError, TypeError, OverflowError, RecursionError):  # the decoder refused
        top = None
    out = None if top is None else _read_claims_fast(top, issuer_code, area_code, holder_types_of)
    if out is None:
        return parse_claims_strict(data, issuer_code=issuer_code, area_code=area_code, holder_types_of=holder_types_of)
    return out


def _read_claims_fast(
    top: object, issuer_code: str, area_code: str, holder_types_of: Callable[[str], Sequence[str]]
) -> LicenceClaims | None:
    """:func:`parse_claims_strict`'s answer for the decoded claims ``top`` when it accepts them the usual way,
    else ``None`` (never an exception of its own: a value outside the tables is ``None``, the strict parser's)."""
    if type(top) is not dict or not _TOP_KNOWN.issuperset(top) or not _TOP_REQUIRED.issubset(top):
        return None
    claims = top[K_LICENCE]
    signed = top[CWT_IAT]
    if type(signed) is not int or not 0 <= signed < 2**40:
        return None
    nbf = top.get(CWT_NBF)
    if nbf is None:
        valid_from = (signed + CST) // DAY
    elif type(nbf) is int and (nbf + CST) % DAY == 0 and (valid_from := (nbf + CST) // DAY) != (signed + CST) // DAY:
        pass
    else:
        return None
    exp = top.get(CWT_EXP)
    if exp is None:
        until = None
    elif type(exp) is int and (exp + CST) % DAY == 0 and exp > 0:
        until = (exp + CST) // DAY - 1
    else:
        return None
    digest = top[CWT_CTI]
    if type(claims) is not dict:
        return None
    fields_raw = None
    if not _KNOWN.issuperset(claims):  # catalogue fields (negative keys), or unknown keys
        claims, fields_raw = _split_fields(claims)
    if not _KNOWN.issuperset(claims) or not _REQUIRED.issubset(claims) or K_SUPERSEDES in claims:
        return None
    get = claims.get
    id_parts = claims[K_ID]
    if type(id_parts) is list and len(id_parts) == 3:
        type_item, serial, version = id_parts
        if type(serial) is int and 0 <= serial < 10**19:
            serial = str(serial)
        if (
            type(type_item) in (bytes, str)
            and type(serial) is str
            and 1 <= len(serial) <= 32
            and type(version) is int
            and 1 <= version <= 999
            and (head := _id_head(type_item, issuer_code)) is not None
        ):
            type_code, issuer, state = head
            nxt = MOD37_36_NEXT
            for ch in serial:
                step = nxt[state].get(ch)
                if step is None:  # a character outside 0-9A-Z: the strict parser decides
                    return None
                state = step
            for ch in _VERSION_DIGITS[version]:
                state = nxt[state][ch]
            licence_id = object.__new__(LicenceId)  # as _licence_id: every part checked above
            _SET_TYPE(licence_id, type_code)  # its slots set directly (a frozen dataclass refuses setattr)
            _SET_ISSUER(licence_id, issuer)
            _SET_SERIAL(licence_id, serial)
            _SET_VERSION(licence_id, version)
            _SET_CHECK(licence_id, ALNUM36[(37 - state) % 36])
            if K_HOLDER_TYPE in claims:
                raw = claims[K_HOLDER_TYPE]
                holder_type = _HOLDER_TYPE_OF_INT.get(raw) if type(raw) is int else None
            else:
                implied = holder_types_of(type_code)
                holder_type = _HOLDER_TYPES.get(implied[0]) if len(implied) == 1 else None
            holder_code = claims[K_HOLDER_CODE]
            if type(holder_code) is bytes and len(holder_code) == PACKED_USCC_LENGTH:
                n = int.from_bytes(holder_code, "big")
                holder_code = _uscc_from_value_fast(n) if n < _USCC_SPACE else None
            else:
                holder_code = _short_text(holder_code)
            holder_name = _short_text(claims[K_HOLDER_NAME])
            number = get(K_NUMBER)
            if number is not None:
                number = _short_text(number)
            issued = get(K_ISSUED_ON)
            index = get(K_STATUS_INDEX)
            fields = _NO_FIELDS if fields_raw is None else _fast_fields(fields_raw)
            if (
                holder_type is not None
                and type(digest) is bytes
                and len(digest) == DIGEST_LENGTH
                and holder_code is not None
                and holder_name is not None
                and (number is not None or K_NUMBER not in claims)
                and 0 <= valid_from <= _MAX_DAY
                and (until is None or 0 <= until <= _MAX_DAY)
                and (issued is None or (type(issued) is int and 0 <= issued <= _MAX_DAY))
                and (index is None or (type(index) is int and 0 <= index < 2**32))
                and fields is not None
            ):
                start = _fromordinal(_EPOCH_ORDINAL + valid_from)
                out = object.__new__(LicenceClaims)
                out.__dict__.update(
                    id=licence_id,
                    number=serial if number is None else number,
                    holder_name=holder_name,
                    holder_code=holder_code,
                    holder_type=holder_type,
                    valid_from=start,
                    valid_until=None if until is None else _fromordinal(_EPOCH_ORDINAL + until),
                    issued_on=start if issued is None else _fromordinal(_EPOCH_ORDINAL + issued),
                    signed_at=_fromtimestamp(signed, _UTC),
                    area_code=area_code,
                    digest=digest,
                    fields=fields,
                    status_index=index,
                    supersedes=None,
                )
                return out
    return None


_VERSION_DIGITS = tuple(f"{v:03d}" for v in range(1000))
_SET_TYPE, _SET_ISSUER, _SET_SERIAL, _SET_VERSION, _SET_CHECK = (
    LicenceId.__dict__[name].__set__ for name in ("type_code", "issuer_code", "serial", "version", "check_char")
)
_fromordinal = dt.date.fromordinal
_fromtimestamp = dt.datetime.fromtimestamp
_UTC = dt.UTC


def _fast_fields(raw: object) -> Mapping[int, str | int] | None:
    """The ``fields`` claim as :func:`parse_claims_strict` reads it, or ``None`` for anything it would refuse."""
    if type(raw) is not dict or len(raw) > MAX_FIELDS:
        return None
    fields: dict[int, str | int] = {}
    for tag, value in raw.items():
        if type(tag) is not int or not 1 <= tag <= 255:
            return None
        if type(value) is not int:
            if type(value) is str and not value:
                pass  # an empty text field stays as it is
            elif type(value) not in (str, bytes) or len(value) > MAX_TEXT or (value := _short_text(value)) is None:
                return None
        fields[tag] = value
    return MappingProxyType(fields) if fields else _NO_FIELDS


def parse_claims_strict(
    data: bytes,
    *,
    issuer_code: str,
    area_code: str,
    holder_types_of: Callable[[str], Sequence[str]] = _no_holder_types,
) -> LicenceClaims:
    """:func:`parse_claims` step by step: the reference every claims map may take (and the one that explains)."""
    top = cbor.loads_typed(data, max_depth=_DEPTH)  # every value's exact type is checked below
    if type(top) is not dict:
        raise PayloadError("claims must be a CBOR map (a CWT claims set)", message_zh="声明必须为 CBOR 映射")
    if not _TOP_KNOWN.issuperset(top):
        raise PayloadError(f"unknown claims {sorted(map(str, set(top) - _TOP_KNOWN))}", message_zh="含未知声明")
    if not _TOP_REQUIRED.issubset(top):
        raise PayloadError(f"missing claims {sorted(_TOP_REQUIRED - set(top))}", message_zh="缺少必需声明")
    signed = top[CWT_IAT]
    if type(signed) is not int or not 0 <= signed < 2**40:
        _int(signed, "iat", 2**40)  # raises
    nbf = top.get(CWT_NBF)
    if nbf is None:
        valid_from = _day((signed + CST) // DAY, "iat")
    else:
        if type(nbf) is not int or (nbf + CST) % DAY or (nbf + CST) // DAY == (signed + CST) // DAY:
            raise PayloadError(
                "nbf must be a day's 00:00 (UTC+8) other than the day of iat",
                message_zh="nbf 必须为签发日以外某日的零点（北京时间）",
            )
        valid_from = _day((nbf + CST) // DAY, "nbf")
    exp = top.get(CWT_EXP)
    if exp is not None and (type(exp) is not int or (exp + CST) % DAY or exp <= 0):
        raise PayloadError("exp must be a day's 00:00 (UTC+8)", message_zh="exp 必须为某日零点（北京时间）")
    until = None if exp is None else (exp + CST) // DAY - 1
    digest = top[CWT_CTI]
    claims = top[K_LICENCE]
    if type(claims) is not dict:
        raise PayloadError("the licence claim must be a CBOR map", message_zh="证照声明必须为 CBOR 映射")
    claims, fields_raw = _split_fields(claims)
    if not _KNOWN.issuperset(claims):
        keys = set(claims)
        raise PayloadError(f"unknown claims {sorted(map(str, keys - _KNOWN))}", message_zh="含未知声明")
    if not _REQUIRED.issubset(claims):
        raise PayloadError(f"missing claims {sorted(_REQUIRED - set(claims))}", message_zh="缺少必需声明")
    get = claims.get
    id_parts = claims[K_ID]
    if type(id_parts) is not list or len(id_parts) != 3:
        raise PayloadError("claim id must be [type code, serial, version]", message_zh="证照标识声明格式错误")
    type_code, serial, version = id_parts
    if type(type_code) is bytes:
        type_code = unpack_type_code(type_code)
    if type(type_code) is not str or type(serial) not in (str, int):
        raise PayloadError("claim id must be [type code, serial, version]", message_zh="证照标识声明格式错误")
    try:
        if type(serial) is int:
            serial = str(_int(serial, "serial", 10**19))
        if type(version) is not int or not 0 <= version < 1000:
            _int(version, "version", 1000)  # raises
        licence_id = _licence_id(type_code, issuer_code, serial, version)
        supersedes = get(K_SUPERSEDES)
        if supersedes is not None:
            supersedes = _supersedes(supersedes, licence_id)
    except IdentifierError as exc:
        raise PayloadError(f"invalid licence id in payload: {exc}", message_zh="载荷中的证照标识无效") from exc
    try:
        if K_HOLDER_TYPE in claims:
            holder_type = HolderType(f"{_int(claims[K_HOLDER_TYPE], 'holder type', 1000):03d}")
        elif len(implied := holder_types_of(licence_id.type_code)) == 1:
            holder_type = _HOLDER_TYPES.get(implied[0]) or HolderType(implied[0])
        else:
            raise PayloadError("holder type missing", message_zh="缺少持证主体类型")
    except ValueError as exc:
        raise PayloadError("unknown holder type", message_zh="持证主体类型未知") from exc
    if type(digest) is not bytes or len(digest) != DIGEST_LENGTH:
        raise PayloadError(f"digest must be {DIGEST_LENGTH} bytes", message_zh="摘要长度错误")
    holder_code = claims[K_HOLDER_CODE]
    if type(holder_code) is bytes and len(holder_code) == PACKED_USCC_LENGTH:
        holder_code = unpack_uscc(holder_code)  # check characters recomputed: structurally a USCC
    else:
        holder_code = _text_value(holder_code, "holder code")
    fields: dict[int, str | int] = {}
    if fields_raw is not None:
        if type(fields_raw) is not dict or len(fields_raw) > MAX_FIELDS:
            raise PayloadError("fields claim must be a small map", message_zh="字段声明格式错误")
        for tag, value in fields_raw.items():
            if type(tag) is not int or not 1 <= tag <= 255:
                raise PayloadError("field tags must be integers 1..255", message_zh="字段标签错误")
            if type(value) is not int:
                if not (type(value) is str or type(value) is bytes):
                    raise PayloadError("field values must be text or integers", message_zh="字段值类型错误")
                if len(value) > MAX_TEXT:
                    raise PayloadError("field value too long", message_zh="字段值过长")
                if type(value) is str and not value:  # an empty text field stays as it is
                    fields[tag] = value
                    continue
                value = _text_value(value, f"field {tag}")
            fields[tag] = value
    index = get(K_STATUS_INDEX)
    if index is not None and (type(index) is not int or not 0 <= index < 2**32):
        _int(index, "status index", 2**32)  # raises
    number = get(K_NUMBER)
    issued = get(K_ISSUED_ON)
    # Every field is checked above: fill the frozen instance directly (3× faster than __init__).
    out = object.__new__(LicenceClaims)
    out.__dict__.update(
        id=licence_id,
        number=licence_id.serial if number is None else _text_value(number, "number"),
        holder_name=_text_value(claims[K_HOLDER_NAME], "holder name"),
        holder_code=holder_code,
        holder_type=holder_type,
        valid_from=valid_from,
        valid_until=None if until is None else _day(until, "valid_until"),
        issued_on=valid_from if issued is None else _day(issued, "issued_on"),
        signed_at=dt.datetime.fromtimestamp(signed, dt.UTC),
        area_code=area_code,
        digest=digest,
        fields=MappingProxyType(fields) if fields else _NO_FIELDS,
        status_index=index,
        supersedes=supersedes,
    )
    return out
