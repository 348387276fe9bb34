"""The frozen result of one verification: its reasons, the checks that ran, and the JSON contract.

``VerificationResult.to_dict`` / ``to_json`` are the public ``--json`` output of ``elicense verify``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from elicense.errors import VerificationFailed
from elicense.verdict.reasons import CheckOutcome, ReasonCode, Status
from elicense.verdict.zh import to_zh

if TYPE_CHECKING:
    from elicense.catalog import LicenceType
    from elicense.qr.claims import LicenceClaims
    from elicense.trust.store import TrustedAuthority


@dataclass(frozen=True)
class Reason:
    """One reason in a result: a code of the table plus optional detail."""

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
        """A reason of the table, with ``detail``."""
        return cls(reason.code, reason.status, reason.en, reason.zh, detail)

    def message(self, lang: str = "en") -> str:
        """Message in ``lang`` with the detail appended."""
        if lang == "zh":
            if not self.detail:
                return self.message_zh
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

    def to_dict(self, lang: str = "en") -> dict[str, Any]:  # JSON: Any is the json module's own boundary
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
_MAKE_ENCODER: Callable[..., Callable[[object, int], Iterable[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)
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
