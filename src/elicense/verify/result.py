"""Verification outcomes, reason codes (zh/en) and the frozen result.

Three outcomes, as ETSI EN 319 102-1 and pyHanko: VALID, INVALID, INDETERMINATE.
Every reason code knows its outcome; a result's status is the worst of its
reasons (INVALID > INDETERMINATE > VALID). Reason codes are a public,
stable contract (scripts match on them): add, never rename.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from elicense.errors import VerificationFailed

if TYPE_CHECKING:
    from elicense.catalog import LicenceType
    from elicense.qr.claims import LicenceClaims
    from elicense.trust.store import TrustedAuthority


class Status(enum.StrEnum):
    """Overall outcome."""

    VALID = "VALID"
    INVALID = "INVALID"
    INDETERMINATE = "INDETERMINATE"

    @property
    def severity(self) -> int:
        """Ordering for "worst of": VALID < INDETERMINATE < INVALID."""
        return _SEVERITY[self]

    @property
    def exit_code(self) -> int:
        """CLI exit code: 0 valid, 1 invalid, 2 indeterminate."""
        return _EXIT[self]

    def label(self, lang: str = "en") -> str:
        """Human label (有效 / 无效 / 无法确认)."""
        return _LABELS[self][0 if lang == "zh" else 1]


_SEVERITY = {Status.VALID: 0, Status.INDETERMINATE: 1, Status.INVALID: 2}
_EXIT = {Status.VALID: 0, Status.INVALID: 1, Status.INDETERMINATE: 2}
_LABELS = {
    Status.VALID: ("有效", "valid"),
    Status.INVALID: ("无效", "invalid"),
    Status.INDETERMINATE: ("无法确认", "indeterminate"),
}


class CheckOutcome(enum.StrEnum):
    """Outcome of one check (pyHanko style)."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    INDETERMINATE = "INDETERMINATE"
    SKIPPED = "SKIPPED"
    WARNING = "WARNING"
    """Passed, with a deviation from the standard worth reporting (seal formats, #17)."""


@dataclass(frozen=True)
class ReasonCode:
    """A registered reason: its stable code, the outcome it implies, and messages."""

    code: str
    """Stable machine-readable code."""
    status: Status
    """Outcome this reason implies."""
    en: str
    """English message."""
    zh: str
    """Chinese message."""


REASONS: dict[str, ReasonCode] = {}


def register(code: str, status: Status, en: str, zh: str) -> ReasonCode:
    """Register a reason code (later issues add theirs); codes are unique."""
    if code in REASONS and REASONS[code] != ReasonCode(code, status, en, zh):
        raise ValueError(f"reason code {code!r} registered twice with different meaning")
    REASONS[code] = ReasonCode(code, status, en, zh)
    return REASONS[code]


INV, IND = Status.INVALID, Status.INDETERMINATE
PAYLOAD_MALFORMED = register("payload_malformed", INV, "The payload is malformed", "载荷格式错误")
PAYLOAD_TOO_LARGE = register("payload_too_large", INV, "The payload exceeds a size limit", "载荷超出大小限制")
CRITICAL_HEADER_UNSUPPORTED = register(
    "critical_header_unsupported",
    INV,
    "The signature marks a header parameter critical that is not supported",
    "签名含有不支持的关键头参数（crit）",
)
PAYLOAD_NOT_CANONICAL = register(
    "payload_not_canonical",
    INV,
    "The payload is not in its one canonical encoding",
    "载荷不是唯一的规范编码",
)


def decode_reason(exc: Exception) -> ReasonCode:
    """The reason for a decode error: the one it names (``details["reason"]``), else ``payload_malformed``."""
    details = getattr(exc, "details", None)
    named = REASONS.get(details.get("reason", "")) if isinstance(details, dict) else None
    return named if named is not None and named.status is Status.INVALID else PAYLOAD_MALFORMED


ALGORITHM_NOT_ALLOWED = register(
    "algorithm_not_allowed", INV, "The signature algorithm is not allowed", "签名算法不被允许"
)
UNKNOWN_KEY = register(
    "unknown_key", IND, "No trusted signing certificate matches the key id", "未找到与密钥标识对应的可信签名证书"
)
SIGNATURE_INVALID = register("signature_invalid", INV, "The signature is invalid", "签名无效")
CERTIFICATE_EXPIRED = register(
    "certificate_expired",
    INV,
    "The signing certificate had expired when the licence was signed",
    "签名时签名证书已过期",
)
CERTIFICATE_NOT_YET_VALID = register(
    "certificate_not_yet_valid",
    INV,
    "The signing certificate was not yet valid when the licence was signed",
    "签名时签名证书尚未生效",
)
SIGNED_IN_FUTURE = register("signed_in_future", INV, "The signing time lies in the future", "签名时间晚于当前时间")
ISSUER_MISMATCH = register(
    "issuer_mismatch", INV, "The licence names an issuer other than the signer", "证照所载发证机关与签名者不一致"
)
TYPE_NOT_AUTHORISED = register(
    "type_not_authorised",
    INV,
    "The issuer is not authorised to issue this licence type",
    "发证机关无权签发该类证照",
)
AUTHORITY_NOT_YET_AUTHORISED = register(
    "authority_not_yet_authorised",
    INV,
    "The issuer was not yet authorised when the licence was signed",
    "签发时发证机关尚未获得授权",
)
AUTHORITY_WITHDRAWN = register(
    "authority_withdrawn",
    INV,
    "The issuer's authorisation had been withdrawn when the licence was signed",
    "签发时发证机关的授权已被撤销",
)
UNKNOWN_LICENCE_TYPE = register(
    "unknown_licence_type", IND, "The licence type is not in the catalogue", "证照类型不在目录中"
)
CATALOGUE_VIOLATION = register(
    "catalogue_violation", INV, "The licence does not conform to its catalogue entry", "证照内容不符合目录规范"
)
LICENCE_NOT_YET_VALID = register("licence_not_yet_valid", INV, "The licence is not yet valid", "证照尚未生效")
LICENCE_EXPIRED = register("licence_expired", INV, "The licence has expired", "证照已过期")
TRUST_STALE = register("trust_stale", IND, "The trust data is out of date", "信任数据已过期，需更新")
# presentation QR (亮证, issue 9; specs/presentation.md)
PRESENTATION_EXPIRED = register(
    "presentation_expired",
    INV,
    "The presentation QR has expired: ask the holder to show a fresh one",
    "亮证二维码已过期，请持证人刷新后重新出示",
)
PRESENTATION_NOT_YET_VALID = register(
    "presentation_not_yet_valid",
    INV,
    "The presentation was made in the future (check the clocks)",
    "亮证时间晚于当前时间（请检查时钟）",
)
PRESENTATION_LIFETIME_INVALID = register(
    "presentation_lifetime_invalid", INV, "The presentation's lifetime is not allowed", "亮证有效时长不被允许"
)
PRESENTATION_REPLAYED = register(
    "presentation_replayed", INV, "This presentation has already been used (replay)", "该亮证二维码已被使用过（重放）"
)
PRESENTATION_REPLAY_UNCHECKED = register(
    "presentation_replay_unchecked",
    IND,
    "Replay protection is saturated: cannot check this presentation",
    "防重放记录已满，无法确认该亮证",
)
PRESENTATION_DEVICE_SIGNATURE_INVALID = register(
    "presentation_device_signature_invalid", INV, "The holder device's signature is invalid", "持证人设备签名无效"
)
PRESENTATION_FIELD_DIGEST_MISMATCH = register(
    "presentation_field_digest_mismatch", INV, "A disclosed field does not match the issuer-signed licence",
    "出示的字段与发证机关签名的证照不一致",
)  # fmt: skip
# issue 16: one input never stops the verifier; a revocation always takes effect
VERIFICATION_ERROR = register(
    "verification_error",
    IND,
    "The verifier could not complete its checks on this input",
    "校验程序无法完成对该输入的检查",
)
STATUS_INDEX_MISSING = register(
    "status_index_missing",
    IND,
    "The licence has no status-list index: its revocation cannot be checked",
    "证照未分配状态列表索引，无法确认其是否已被吊销",
)
PRESENTATION_REPLAY_QUOTA = register(
    "presentation_replay_quota", IND,
    "This holder device has too many live presentations here: cannot check this one for replay",
    "该持证设备在本终端的有效亮证过多，无法确认该亮证是否被重放",
)  # fmt: skip
del INV, IND


@dataclass(frozen=True)
class Reason:
    """One reason in a result: a registered code plus optional detail."""

    code: str
    """Stable code (see ``REASONS``)."""
    status: Status
    """Outcome this reason implies."""
    message_en: str
    """English message."""
    message_zh: str
    """Chinese message."""
    detail: str | None = None
    """Extra context (dates, names); language-neutral."""

    @classmethod
    def of(cls, reason: ReasonCode, detail: str | None = None) -> Reason:
        """Instantiate a registered reason."""
        return cls(reason.code, reason.status, reason.en, reason.zh, detail)

    def message(self, lang: str = "en") -> str:
        """Message in ``lang`` with the detail appended."""
        if lang == "zh":
            if not self.detail:
                return self.message_zh
            from elicense.verify.detail_zh import to_zh  # the English detail templates, in Chinese (#20)

            return f"{self.message_zh}（{to_zh(self.detail)}）"
        return f"{self.message_en} ({self.detail})" if self.detail else self.message_en


@dataclass(frozen=True)
class Check:
    """One check that ran (or was skipped), for the audit trail of a verification."""

    name: str
    """Check name (``signature``, ``trust_chain``, ``validity``, ...)."""
    outcome: CheckOutcome
    """What it found."""
    detail: str | None = None
    """Optional context."""


_PASSED: dict[tuple[str, str | None], Check] = {}


def passed(name: str, detail: str | None = None) -> Check:
    """A PASSED check, shared: checks are immutable and the same few pass on every verification."""
    check = _PASSED.get((name, detail))
    if check is None:
        check = Check(name, CheckOutcome.PASSED, detail)
        if len(_PASSED) < 256:
            _PASSED[(name, detail)] = check
    return check


@dataclass(frozen=True)
class VerificationResult:
    """The frozen outcome of one verification. Truthy only when VALID."""

    status: Status
    """Overall outcome: the worst of ``reasons``; VALID when there are none."""
    reasons: tuple[Reason, ...]
    """Why the result is not VALID (empty when VALID)."""
    checks: tuple[Check, ...]
    """The checks that ran, in order."""
    verified_at: dt.datetime
    """The (UTC) time the verification was made for."""
    licence: LicenceClaims | None = None
    """The signed claims — only set once the signature has verified."""
    issuer: TrustedAuthority | None = None
    """The trusted authority whose key verified the signature."""
    licence_type: LicenceType | None = None
    """Catalogue entry of the licence type, when known."""
    fields: Mapping[str, str | int] = field(default_factory=dict)
    """QR-shown fields by catalogue key (dates as ISO strings)."""
    kind: str = "qr"
    """What was verified: ``qr``, ``pdf``, ..."""
    disclosed: tuple[str, ...] | None = None
    """Presentations (``kind="presentation"``): names of the elements the holder disclosed."""

    @classmethod
    def build(
        cls,
        status: Status,
        reasons: tuple[Reason, ...],
        checks: tuple[Check, ...],
        verified_at: dt.datetime,
        licence: LicenceClaims | None = None,
        issuer: TrustedAuthority | None = None,
        licence_type: LicenceType | None = None,
        fields: Mapping[str, str | int] | None = None,
    ) -> VerificationResult:
        """The constructor for the verify hot path: same fields, without ``__init__``'s per-field setattr (#8)."""
        out = object.__new__(cls)
        out.__dict__.update(
            status=status,
            reasons=reasons,
            checks=checks,
            verified_at=verified_at,
            licence=licence,
            issuer=issuer,
            licence_type=licence_type,
            fields={} if fields is None else fields,
            kind="qr",
            disclosed=None,
        )
        return out

    def __bool__(self) -> bool:
        return self.status is Status.VALID

    @property
    def valid(self) -> bool:
        """Same as ``bool(result)``."""
        return self.status is Status.VALID

    def raise_for_status(self) -> VerificationResult:
        """Raise :class:`~elicense.errors.VerificationFailed` unless VALID; else return self."""
        if self.status is not Status.VALID:
            raise VerificationFailed(self)
        return self

    def has_reason(self, code: str) -> bool:
        """Whether a reason with ``code`` is present."""
        return any(r.code == code for r in self.reasons)

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """JSON-ready form: the public ``--json`` contract of ``elicense verify``."""
        lic = self.licence
        licence: dict[str, Any] | None = None
        if lic is not None:
            lt = self.licence_type
            licence = {
                "id": str(lic.id),
                "number": lic.number,
                "type_code": lic.type_code,
                "type_name": (lt.name_zh if lang == "zh" else lt.name_en) if lt else None,
                "holder": lic.holder_name,
                "holder_code": lic.holder_code,
                "holder_type": lic.holder_type.value,
                "issuer": self.issuer.name if self.issuer else lic.id.issuer_code,
                "issuer_code": lic.id.issuer_code,
                "region": lic.region,
                "area_code": lic.area_code,
                "issued_on": lic.issued_on.isoformat(),
                "valid_from": lic.valid_from.isoformat(),
                "valid_until": lic.valid_until.isoformat() if lic.valid_until else None,
                "signed_at": lic.signed_at.isoformat().replace("+00:00", "Z"),
                "status_index": lic.status_index,
                "supersedes": str(lic.supersedes) if lic.supersedes else None,
                "predecessor": str(lic.supersedes) if lic.supersedes else None,  # alias (#5): the licence replaced
                "fields": dict(self.fields),
            }
            if self.disclosed is not None:  # a presentation: undisclosed holder data is not known
                licence["disclosed"] = list(self.disclosed)
                for name, key in (("holder_name", "holder"), ("holder_code", "holder_code")):
                    if name not in self.disclosed:
                        licence[key] = None
        return {
            "kind": self.kind,
            "status": self.status.value,
            "reasons": [{"code": r.code, "status": r.status.value, "message": r.message(lang)} for r in self.reasons],
            "checks": [  # str(): a StrEnum's value without the enum descriptor (batch output, #8)
                {"name": c.name, "outcome": str(c.outcome), "detail": c.detail}
                if c.detail
                else {"name": c.name, "outcome": str(c.outcome)}
                for c in self.checks
            ],
            "verified_at": self.verified_at.isoformat().replace("+00:00", "Z"),
            "licence": licence,
        }

    def to_json(self, lang: str = "en", *, line: int | None = None) -> str:
        """``json.dumps(self.to_dict(lang), ensure_ascii=False)``, character for character, in a third of the
        time (the per-line cost of ``verify --batch``, #8); with ``line``, of ``{"line": line, **to_dict(lang)}``.

        The checks that pass are shared objects, so their JSON text is made once; the licence object is
        written key by key with the ``json`` module's own string encoder; anything unusual (a presentation,
        values of other types) goes through the ``json`` encoder itself. The tests hold the two equal.
        """
        if self.disclosed is not None or type(self.kind) is not str:
            obj = self.to_dict(lang)
            return _encode(obj if line is None else {"line": line, **obj})
        parts = [
            '{"line": ' + int.__repr__(line) + ', "kind": ' if line is not None else '{"kind": ',
            _json_str(self.kind),
            ', "status": ',
            _json_str(self.status),
            ', "reasons": ',
        ]
        reasons = self.reasons
        parts.append(
            _encode([{"code": r.code, "status": r.status.value, "message": r.message(lang)} for r in reasons])
            if reasons
            else "[]"
        )
        parts.append(', "checks": [')
        parts.append(", ".join([_check_json(c) for c in self.checks]))
        parts.append('], "verified_at": ')
        parts.append(_json_str(_utc_text(self.verified_at)))
        parts.append(', "licence": ')
        parts.append("null}" if self.licence is None else self._licence_json(lang) + "}")
        return "".join(parts)

    def _licence_json(self, lang: str) -> str:
        """``to_dict()["licence"]`` as JSON (``licence`` set, not a presentation)."""
        lic = self.licence
        assert lic is not None
        lid = lic.id
        lt = self.licence_type
        until = lic.valid_until
        old = lic.supersedes
        index = lic.status_index
        e = _json_str
        try:  # the text values are str (else TypeError: the json encoder writes them below)
            superseded = "null" if not old else e(str(old))
            return (
                _LICENCE_FORMAT
                % (
                    e(str(lid)),
                    e(lic.number),
                    e(lid.type_code),
                    e(lt.name_zh if lang == "zh" else lt.name_en) if lt else "null",
                    e(lic.holder_name),
                    e(lic.holder_code),
                    e(lic.holder_type),  # a StrEnum: its value's text
                    e(self.issuer.name if self.issuer else lid.issuer_code),
                    e(lid.issuer_code),
                    e(lic.area_code[:2] + "0000"),
                    e(lic.area_code),
                    e(lic.issued_on.isoformat()),
                    e(lic.valid_from.isoformat()),
                    e(until.isoformat()) if until else "null",
                    e(_utc_text(lic.signed_at)),
                    "null" if index is None else int.__repr__(index),
                    superseded,
                    superseded,
                    _encode(dict(self.fields)) if self.fields else "{}",
                )
            )
        except TypeError:
            return _encode(self.to_dict(lang)["licence"])


_LICENCE_KEYS = (
    "id", "number", "type_code", "type_name", "holder", "holder_code", "holder_type", "issuer", "issuer_code",
    "region", "area_code", "issued_on", "valid_from", "valid_until", "signed_at", "status_index", "supersedes",
    "predecessor", "fields",
)  # fmt: skip
"""Keys of ``to_dict()["licence"]``, in order (public contract: add, never rename)."""
_JSON = json.JSONEncoder(ensure_ascii=False)
_json_str = json.encoder.encode_basestring  # the json module's own (C) string encoder, as ensure_ascii=False uses
_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (  # what _JSON.encode() builds on every call, built once (no circular check: output is the same)
    _MAKE_ENCODER(None, _JSON.default, _json_str, None, ": ", ", ", False, False, True) if _MAKE_ENCODER else None
)


def _encode(obj: object) -> str:
    """``_JSON.encode(obj)``: ``json.dumps(obj, ensure_ascii=False)``."""
    if _C_ENCODE is None:
        return _JSON.encode(obj)
    return "".join(_C_ENCODE(obj, 0))


_LICENCE_FORMAT = "{" + ", ".join(_json_str(k) + ": %s" for k in _LICENCE_KEYS) + "}"


_CHECK_JSON: dict[int, tuple[Check, str]] = {}


def _check_json(check: Check) -> str:
    """One check's JSON object (as ``to_dict`` writes it); the text of a shared PASSED check is made once."""
    hit = _CHECK_JSON.get(id(check))
    if hit is not None and hit[0] is check:
        return hit[1]
    outcome = str(check.outcome)
    text = _encode(
        {"name": check.name, "outcome": outcome, "detail": check.detail}
        if check.detail
        else {"name": check.name, "outcome": outcome}
    )
    if _PASSED.get((check.name, check.detail)) is check and len(_CHECK_JSON) < 512:  # shared, kept alive
        _CHECK_JSON[id(check)] = (check, text)
    return text


def _utc_text(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def worst(statuses: Any) -> Status:
    """The worst of some statuses (VALID if none)."""
    result = Status.VALID
    for s in statuses:
        if _SEVERITY[s] > _SEVERITY[result]:
            result = s
    return result
