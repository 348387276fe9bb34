"""The Verifier: the one place that orchestrates signature, trust, validity and policy.

``verify()`` never raises because a check failed: it returns a frozen
:class:`~elicense.verdict.VerificationResult`. It raises only on misuse
(naive datetime, no trust given). Time is a parameter (``at=``) or an injected
clock, never read deep inside.

The hot path (kiosks verify thousands of QR codes) is: Base45 → zlib →
COSE parse → dict lookup by kid → one signature verification → claim checks.
Chains were validated when the trust store was built.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from elicense.basics import require_utc
from elicense.catalog import Catalog
from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy, verify_cose_signature
from elicense.errors import (
    AlgorithmNotAllowed,
    CatalogError,
    ElicenseError,
    PayloadError,
    PayloadTooLarge,
    UsageError,
)
from elicense.qr import claims as claims_mod
from elicense.qr.cose import sig_structure, sign1_parts
from elicense.qr.payload import unwrap
from elicense.trust.bundle import read_bundle_file
from elicense.trust.store import TrustedAuthority, TrustedKey, TrustStore
from elicense.trust_state import TrustedState
from elicense.verdict import reasons as r
from elicense.verdict.context import Clock, Policy, StatusSource, VerificationContext
from elicense.verdict.reasons import CheckOutcome, Status
from elicense.verdict.result import Check, Reason, VerificationResult, passed
from elicense.verify import inputs

if TYPE_CHECKING:
    from cryptography import x509

    from elicense.catalog import Catalog, LicenceType
    from elicense.present.verify import ReplayCache
    from elicense.qr.claims import LicenceClaims
    from elicense.trust.bundle import Bundle

DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=5)
MIN_AT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""Earliest verification time accepted (the epoch of every signed time)."""
MAX_AT = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
"""Verification times from here on are refused: every check adds hours (clock skew, the China
offset) to ``at``, and the last year keeps that arithmetic inside ``datetime``'s range."""


def system_clock() -> dt.datetime:
    """The default clock: now, in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class AcceptRegions:
    """Accept only licences issued in these province-level regions (``--accept-region``)."""

    regions: frozenset[str]
    """Province-level GB/T 2260 codes (``370000``)."""
    name: str = "accepted_region"
    """Check name."""

    def evaluate(self, context: VerificationContext) -> Sequence[Reason]:
        """Refuse licences from other regions."""
        region = context.key.authority.region
        if region in self.regions:
            return ()
        return (Reason.of(r.NOT_ACCEPTED_REGION, f"region {region}"),)


@dataclass(frozen=True)
class UnsafeNoOp:
    """A policy that accepts everything. For tests only — never in production."""

    name: str = "unsafe_noop"
    """Check name."""

    def evaluate(self, context: VerificationContext) -> Sequence[Reason]:
        """Accept."""
        return ()


class Verifier:
    """Verifies licence payloads against explicit trust.

    >>> verifier = Verifier(trust=store)                       # doctest: +SKIP
    >>> result = verifier.verify(text)                          # doctest: +SKIP
    >>> if result: ...                                          # VALID
    """

    def __init__(
        self,
        *,
        trust: TrustStore,
        clock: Clock | None = None,
        algorithms: AlgorithmPolicy | Iterable[Algorithm | str] | None = None,
        catalog: Catalog | None = None,
        policies: Sequence[Policy] = (),
        clock_skew: dt.timedelta = DEFAULT_CLOCK_SKEW,
        status: StatusSource | None = None,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        if not isinstance(trust, TrustStore):
            raise UsageError("Verifier needs an explicit TrustStore (trust=...)")
        self.trust = trust
        self.clock = clock or system_clock
        if algorithms is None:
            algorithms = AlgorithmPolicy.default()
        elif not isinstance(algorithms, AlgorithmPolicy):
            algorithms = AlgorithmPolicy.of(algorithms)
        self.algorithms = algorithms
        if catalog is None:
            catalog = Catalog.default()
        self.catalog = catalog
        self.policies = tuple(policies)
        if clock_skew < dt.timedelta(0) or clock_skew > dt.timedelta(hours=1):
            raise UsageError("clock_skew must be between 0 and 1 hour")
        self.clock_skew = clock_skew
        self.status = status
        self.bundle: Bundle | None = None
        """The offline trust bundle the trust came from (set by :meth:`from_bundle`)."""
        self.state_dir: Path | None = None
        """The verifier-state directory it was loaded with (pinned root, sequences), for reloads."""
        self.replay_cache = replay_cache
        """Presentation ids seen (:class:`~elicense.present.verify.ReplayCache`; made on first use)."""
        self._types: tuple[Catalog, dict[str, LicenceType | None]] = (catalog, {})
        self._algs: tuple[AlgorithmPolicy, dict[int, tuple[Algorithm, Check]]] = (algorithms, {})

    @classmethod
    def from_trust_file(
        cls,
        path: str | Path,
        *,
        region: str | None = None,
        anchors: Sequence[x509.Certificate] | None = None,
        policies: Sequence[Policy] = (),
        state: str | Path | None = None,
        **kwargs: object,
    ) -> Verifier:
        """Load a trust file (``elicense demo``'s ``trust-bundle.json``, or a signed bundle) and build a verifier.

        Loading, pinning, rollback and the status section: :class:`~elicense.trust_state.TrustedState`;
        ``region`` and ``anchors`` as :meth:`from_bundle` (a signed bundle only).
        """
        algorithms = _algorithm_kwarg(kwargs)
        loaded = TrustedState.load(
            path, anchors=anchors, algorithms=algorithms, state=state, status="status" not in kwargs
        )
        extra: list[Policy] = []
        if region:  # the bundle's recognition agreements of the relying region
            if loaded.bundle is None:
                raise UsageError("region= needs a signed trust bundle", message_zh="region 需要签名的信任数据包")
            extra.append(loaded.bundle.recognition(region))
        return cls._of_state(loaded, policies=[*policies, *extra], **kwargs)

    @classmethod
    def from_bundle(
        cls,
        path: str | Path,
        *,
        region: str | None = None,
        anchors: Sequence[x509.Certificate] | None = None,
        policies: Sequence[Policy] = (),
        state: str | Path | None = None,
        **kwargs: object,
    ) -> Verifier:
        """A verifier over a signed offline trust bundle (:mod:`elicense.trust.bundle`).

        ``region``: verify as a relying party of this province-level region (its
        recognition agreements become a policy). ``anchors``: roots already trusted;
        without them the bundle's own root is the anchor. ``state``: directory of the
        verifier's memory (default ``$ELICENSE_STATE``; :mod:`elicense.status.state`):
        an older bundle raises ``TrustRollback``, an older status list gives
        INDETERMINATE ``status_list_rolled_back`` (:class:`~elicense.trust_state.TrustedState`).
        """

        algorithms = _algorithm_kwarg(kwargs)  # the allow-list also judges the bundle's own signature
        bundle = read_bundle_file(Path(path), anchors=anchors, algorithms=algorithms)
        extra: list[Policy] = [bundle.recognition(region)] if region else []
        loaded = TrustedState.of_bundle(bundle, state=state, status="status" not in kwargs)
        return cls._of_state(loaded, policies=[*policies, *extra], **kwargs)

    @classmethod
    def _of_state(cls, loaded: TrustedState, **kwargs: object) -> Verifier:
        kwargs.setdefault("status", loaded.status)
        verifier = cls(trust=loaded.trust, **kwargs)  # type: ignore[arg-type]
        verifier.bundle = loaded.bundle
        verifier.state_dir = loaded.state_dir
        return verifier

    def _holder_types(self, type_code: str) -> tuple[str, ...]:
        lt = self._licence_type(type_code)
        return lt.holder_types if lt is not None else ()

    def _licence_type(self, type_code: str) -> LicenceType | None:
        """``catalog.find`` memoised per verifier (twice per verification; the catalogue is immutable)."""
        cache = self._types
        if cache[0] is not self.catalog:  # the catalogue was replaced: start over
            cache = self._types = (self.catalog, {})
        found = cache[1].get(type_code, _MISSING)
        if found is _MISSING:
            found = self.catalog.find(type_code)
            if len(cache[1]) < 1024:
                cache[1][type_code] = found
        return found  # type: ignore[return-value]

    def _time(self, at: dt.datetime | None) -> dt.datetime:
        when = at if at is not None else self.clock()
        if type(when) is dt.datetime and when.tzinfo is dt.UTC and MIN_AT <= when < MAX_AT:  # hot path
            return when
        when = require_utc(when, "at")
        if not MIN_AT <= when < MAX_AT:  # misuse: a time no check can be made at (#16)
            raise UsageError(
                f"verification time {when.isoformat()} is outside {MIN_AT.date()} .. {MAX_AT.date()} (exclusive)",
                message_zh=f"校验时间 {when.isoformat()} 超出允许范围（{MIN_AT.date()} 至 {MAX_AT.date()} 之前）",
            )
        return when

    def verify(self, payload: str | bytes, *, at: dt.datetime | None = None) -> VerificationResult:
        """Verify an ``EL2:`` payload (or an ``EP1:`` presentation, 亮证); never raises for a failed check.

        Raises only on misuse (a naive or out-of-range ``at``). Whatever the payload holds, a
        result comes back: a check that cannot be completed is INDETERMINATE ``verification_error``
        (a last line of defence; the property tests hold that no input reaches it).
        """
        when = self._time(at)
        try:
            return self._verify(payload, when)
        except Exception as exc:  # one input must never stop a batch, a kiosk frame, a caller
            return _done(when, [], [Reason.of(r.VERIFICATION_ERROR, type(exc).__name__)], "verification")

    def _verify(self, payload: str | bytes, when: dt.datetime) -> VerificationResult:
        try:
            protected, alg_id, kid, signed_payload, signature = sign1_parts(unwrap(payload))
        except PayloadTooLarge as exc:
            return _done(when, [], [Reason.of(r.PAYLOAD_TOO_LARGE, exc.message)], "decode")
        except PayloadError as exc:
            from elicense.present.presentation import is_presentation  # off the EL1 path: only on failure

            if is_presentation(payload):
                return self.verify_presentation(payload, at=when)
            return _done(
                when, [], [Reason.of(r.decode_reason(exc), exc.message + inputs.misuse_hint(payload))], "decode"
            )
        algs = self._algs
        if algs[0] is not self.algorithms:  # the policy was replaced: start over
            algs = self._algs = (self.algorithms, {})
        allowed = algs[1].get(alg_id)
        if allowed is None:
            try:
                alg = Algorithm.from_cose_id(alg_id)
                self.algorithms.check(alg)
            except AlgorithmNotAllowed as exc:
                return _done(when, [_PASSED_DECODE], [Reason.of(r.ALGORITHM_NOT_ALLOWED, exc.message)], "algorithm")
            allowed = algs[1][alg_id] = (alg, passed("algorithm", alg.label))  # allowed ids only: few
        return self.verify_signed(
            kid,
            allowed[0],
            sig_structure(protected, signed_payload),
            signature,
            signed_payload,
            when,
            [_PASSED_DECODE, allowed[1]],
        )

    def verify_any(self, data: bytes | str | Path, *, at: dt.datetime | None = None) -> list[VerificationResult]:
        """What the CLI takes: payload text, an image with QR codes, a PDF (bytes, text or a path).

        One result per licence found; unreadable input (no QR, not a licence QR) raises ``InputError``.
        """
        return inputs.verify_any(self, data, at=at)

    def verify_presentation(self, payload: str | bytes, *, at: dt.datetime | None = None) -> VerificationResult:
        """Verify an ``EP1:`` presentation (亮证); see :mod:`elicense.present.verify`. Never raises for input."""
        from elicense.present.verify import KIND, verify_presentation  # lazy: off the text path

        when = self._time(at)
        try:
            return verify_presentation(self, payload, at=when)
        except Exception as exc:  # as verify(): a result, whatever the input
            done = _done(when, [], [Reason.of(r.VERIFICATION_ERROR, type(exc).__name__)], "verification")
            return VerificationResult(
                status=done.status, reasons=done.reasons, checks=done.checks, verified_at=when, kind=KIND
            )

    def verify_pdf(self, data: bytes, *, at: dt.datetime | None = None) -> VerificationResult:
        """Verify a sealed licence PDF (signature, embedded record, QR); see :mod:`elicense.pdf.verify`."""
        from elicense.pdf.verify import verify_pdf  # lazy: pyHanko is heavy

        when = self._time(at)
        try:
            return verify_pdf(self, data, at=when)
        except ElicenseError:  # a typed refusal (limits, unreadable file): the caller reports it
            raise
        except Exception as exc:  # anything else is a check that could not complete: a result (#16)
            done = _done(when, [], [Reason.of(r.VERIFICATION_ERROR, type(exc).__name__)], "verification")
            return VerificationResult(
                status=done.status, reasons=done.reasons, checks=done.checks, verified_at=when, kind="pdf"
            )

    def verify_ofd(self, data: bytes, *, at: dt.datetime | None = None) -> VerificationResult:
        """Verify an OFD document: its seals and integrity, and the licence it carries (:mod:`elicense.ofd`)."""
        from elicense.ofd.verify import verify_ofd  # lazy: the seal stack

        when = self._time(at)
        try:
            return verify_ofd(self, data, at=when)
        except Exception as exc:  # as verify_pdf(): a check that could not complete is a result (#16)
            done = _done(when, [], [Reason.of(r.VERIFICATION_ERROR, type(exc).__name__)], "verification")
            return VerificationResult(
                status=done.status, reasons=done.reasons, checks=done.checks, verified_at=when, kind="ofd"
            )

    def verify_signed(
        self,
        kid: bytes,
        alg: Algorithm,
        tbs: bytes,
        signature: bytes,
        payload: bytes,
        when: dt.datetime,
        checks: list[Check],
    ) -> VerificationResult:
        candidates = self.trust.candidates(kid)
        if not candidates:
            return _done(when, checks, _unknown_key_reasons(self.bundle, kid), "trusted_key")
        key: TrustedKey | None = None
        for candidate in candidates:  # kids can collide: try every certificate with this id
            if candidate.algorithm is alg and _signature_check(candidate)(signature, tbs):
                key = candidate
                break
        if key is None:
            return _done(when, checks, [Reason.of(r.SIGNATURE_INVALID)], "signature")
        checks.append(_PASSED_SIGNATURE)
        try:
            claims = claims_mod.parse_claims(
                payload,
                issuer_code=key.authority.code,
                area_code=key.authority.area_code,
                holder_types_of=self._holder_types,
            )
        except PayloadError as exc:
            # Signed by a trusted key but not a well-formed licence: refuse, never guess.
            return _done(when, checks, [Reason.of(r.decode_reason(exc), exc.message)], "claims")
        except (ValueError, OverflowError, ArithmeticError, TypeError, KeyError) as exc:
            # a value in range for its CBOR type but not for a date or time (signed_at in year 10000)
            return _done(when, checks, [Reason.of(r.PAYLOAD_MALFORMED, f"claim out of range ({exc})")], "claims")
        return self._check_claims(claims, key, when, checks)

    def _check_claims(
        self, claims: LicenceClaims, key: TrustedKey, when: dt.datetime, checks: list[Check]
    ) -> VerificationResult:
        # Hot path (#8): every check below runs on every verification, but a check that passes
        # allocates nothing (shared PASSED objects, shared empty tuple); reasons are built only on failure.
        reasons: list[Reason] = []
        signed_at = claims.signed_at
        chain = key.chain
        if signed_at > when + self.clock_skew or not chain.not_before <= signed_at <= chain.not_after:
            found: list[Reason] = []
            if signed_at > when + self.clock_skew:
                found.append(Reason.of(r.SIGNED_IN_FUTURE, signed_at.isoformat()))
            if signed_at < chain.not_before:
                found.append(Reason.of(r.CERTIFICATE_NOT_YET_VALID, chain.not_before.isoformat()))
            elif signed_at > chain.not_after:
                found.append(Reason.of(r.CERTIFICATE_EXPIRED, chain.not_after.isoformat()))
            _record(checks, reasons, "certificate_validity", found)
        else:
            checks.append(_PASSED_CERT_VALIDITY)

        authority = key.authority
        found_authorisation = _authorisation_reasons(claims, authority, signed_at)
        if found_authorisation:
            _record(checks, reasons, "issuer_authorisation", found_authorisation)
        else:
            checks.append(_PASSED_AUTHORISATION)
        type_code = claims.id.type_code

        licence_type = self._licence_type(type_code)
        fields: dict[str, str | int] = {}
        if licence_type is None:
            _record(checks, reasons, "catalogue", [Reason.of(r.UNKNOWN_LICENCE_TYPE, type_code)])
        else:
            fields, problem = _resolve_fields(licence_type, claims) if claims.fields else ({}, None)
            if problem:
                _record(checks, reasons, "catalogue", [Reason.of(r.CATALOGUE_VIOLATION, problem)])
            else:
                checks.append(_PASSED_CATALOGUE)

        today = (when + _CHINA_OFFSET).date()  # the calendar date in China (UTC+8, no DST) at ``when``
        valid_until = claims.valid_until
        if today < claims.valid_from or (valid_until is not None and today > valid_until):
            found = []
            if today < claims.valid_from:
                found.append(Reason.of(r.LICENCE_NOT_YET_VALID, claims.valid_from.isoformat()))
            if valid_until is not None and today > valid_until:
                found.append(Reason.of(r.LICENCE_EXPIRED, valid_until.isoformat()))
            _record(checks, reasons, "licence_validity", found)
        else:
            checks.append(_PASSED_LICENCE_VALIDITY)

        if self.trust.is_stale(when):
            _record(checks, reasons, "trust_freshness", (Reason.of(r.TRUST_STALE),))
        else:
            checks.append(_PASSED_FRESHNESS)

        status = self.status
        if status is not None:
            found_status = status.check_chain(key, signed_at, when)
            if found_status:
                _record(checks, reasons, "certificate_revocation", found_status)
            else:
                checks.append(_PASSED_REVOCATION)
            if claims.status_index is None:  # no entry in any status list: a revocation could not show (#16)
                reasons.append(_NO_STATUS_INDEX)
                checks.append(_SKIPPED_NO_INDEX)
            else:
                found_status = status.check_licence(authority.code, claims.status_index, when, key)
                if found_status:
                    _record(checks, reasons, "licence_status", found_status)
                else:
                    checks.append(_PASSED_STATUS)
        else:
            checks.append(_SKIPPED_NO_STATUS if claims.status_index is not None else _SKIPPED_NO_INDEX)

        if self.policies:
            context = VerificationContext(claims, key, when, licence_type, self.trust)
            for policy in self.policies:
                _record(checks, reasons, policy.name, policy.evaluate(context))

        return VerificationResult.build(
            r.worst(x.status for x in reasons) if reasons else Status.VALID,
            tuple(reasons) if reasons else (),
            tuple(checks),
            when,
            claims,
            authority,
            licence_type,
            fields,
        )


_CHINA_OFFSET = dt.timedelta(hours=8)
_MISSING = object()


def _algorithm_kwarg(kwargs: dict[str, object]) -> AlgorithmPolicy | None:
    """``algorithms=`` of a constructor call as a policy (it also judges the trust data's own signatures)."""
    algorithms = kwargs.get("algorithms")
    if algorithms is None or isinstance(algorithms, AlgorithmPolicy):
        return algorithms
    policy = kwargs["algorithms"] = AlgorithmPolicy.of(algorithms)  # type: ignore[arg-type]
    return policy


_PASSED_CERT_VALIDITY = passed("certificate_validity")
_PASSED_AUTHORISATION = passed("issuer_authorisation")
_PASSED_LICENCE_VALIDITY = passed("licence_validity")
_PASSED_CATALOGUE = passed("catalogue")
_PASSED_FRESHNESS = passed("trust_freshness")
_PASSED_REVOCATION = passed("certificate_revocation")
_PASSED_STATUS = passed("licence_status")
_PASSED_DECODE = passed("decode")
_PASSED_SIGNATURE = passed("signature")
_SKIPPED_NO_STATUS = Check("licence_status", CheckOutcome.SKIPPED, "no status data given")
_SKIPPED_NO_INDEX = Check("licence_status", CheckOutcome.SKIPPED, "the licence has no status-list index")
_NO_STATUS_INDEX = Reason.of(r.STATUS_INDEX_MISSING)


def _record(checks: list[Check], reasons: list[Reason], name: str, found: Sequence[Reason]) -> None:
    """Add check ``name``: PASSED when nothing was ``found``, else FAILED / INDETERMINATE with the reasons."""
    if not found:
        checks.append(passed(name))
        return
    reasons.extend(found)
    worst = r.worst(x.status for x in found)
    checks.append(Check(name, CheckOutcome.FAILED if worst is Status.INVALID else CheckOutcome.INDETERMINATE))


def _authorisation_reasons(claims: LicenceClaims, authority: TrustedAuthority, signed_at: dt.datetime) -> list[Reason]:
    """The ``issuer_authorisation`` check: the signer's authority may issue this licence, at signing time.

    The one statement of the rule: empty when the check passes (the hot path allocates no reason then)."""
    found: list[Reason] = []
    if claims.id.issuer_code != authority.code:
        found.append(Reason.of(r.ISSUER_MISMATCH, f"{claims.id.issuer_code} ≠ {authority.code}"))
    if claims.area_code[:2] != authority.area_code[:2]:
        found.append(Reason.of(r.ISSUER_MISMATCH, f"area {claims.area_code}"))
    if claims.type_code not in authority.licence_types:
        found.append(Reason.of(r.TYPE_NOT_AUTHORISED, claims.type_code))
    if authority.history:  # trust-list status history decides, at signing time
        state = authority.status_at(signed_at)
        if state is None:
            found.append(Reason.of(r.AUTHORITY_NOT_YET_AUTHORISED, authority.history[0][1].isoformat()))
        elif state != "granted":
            since = max(t for s, t in authority.history if t <= signed_at)
            found.append(Reason.of(r.AUTHORITY_WITHDRAWN, since.isoformat()))
    if authority.authorised_from is not None and signed_at < authority.authorised_from:
        found.append(Reason.of(r.AUTHORITY_NOT_YET_AUTHORISED, authority.authorised_from.isoformat()))
    if authority.withdrawn_at is not None and signed_at >= authority.withdrawn_at:
        found.append(Reason.of(r.AUTHORITY_WITHDRAWN, authority.withdrawn_at.isoformat()))
    return found


_SIGNATURE_CHECKS: dict[int, tuple[TrustedKey, Callable[[bytes, bytes], bool]]] = {}


def _signature_check(key: TrustedKey) -> Callable[[bytes, bytes], bool]:
    """``verify_cose_signature`` bound to ``key``; for ES256 the key-type checks are done once (hot path, #8).

    Cached by object identity; the entry holds the key, so an id cannot be reused while cached.
    """
    hit = _SIGNATURE_CHECKS.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    fn: Callable[[bytes, bytes], bool]
    public_key = key.public_key
    if key.algorithm is Algorithm.ES256 and isinstance(public_key, ec.EllipticCurvePublicKey):
        fn = _es256_check(public_key)
    else:
        alg = key.algorithm

        def fn(signature: bytes, data: bytes) -> bool:
            return verify_cose_signature(public_key, alg, signature, data)

    if len(_SIGNATURE_CHECKS) >= 4096:
        _SIGNATURE_CHECKS.clear()
    _SIGNATURE_CHECKS[id(key)] = (key, fn)
    return fn


def _es256_check(public_key: ec.EllipticCurvePublicKey) -> Callable[[bytes, bytes], bool]:
    """Exactly ``verify_cose_signature(public_key, ES256, ...)``: fixed-length ``r‖s`` only, never DER."""
    verify = public_key.verify
    ecdsa = ec.ECDSA(hashes.SHA256())

    def check(signature: bytes, data: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            verify(_der_signature(signature), data, ecdsa)
        except InvalidSignature:
            return False
        return True

    return check


def _der_signature(signature: bytes) -> bytes:
    """``r‖s`` (32 + 32 bytes) as the DER ``ECDSA-Sig-Value`` ``encode_dss_signature`` makes (tests hold them
    equal), without the two big-integer conversions: minimal INTEGERs, a 00 before a set high bit."""
    head = _DER_HEADS.get((signature[0] >> 7, signature[32] >> 7)) if signature[0] and signature[32] else None
    if head is not None:  # r and s without leading zero bytes (all but ~1 in 128 signatures): fixed layouts
        return b"".join((head[0], signature[:32], head[1], signature[32:]))
    r = signature[:32].lstrip(b"\0")
    s = signature[32:].lstrip(b"\0")
    if not r or r[0] & 0x80:
        r = b"\0" + r
    if not s or s[0] & 0x80:
        s = b"\0" + s
    return b"".join((b"\x30", bytes((len(r) + len(s) + 4, 2, len(r))), r, bytes((2, len(s))), s))


_DER_HEADS = {  # (high bit of r, of s) → DER before r, between r and s; a set high bit takes a 00 byte
    (0, 0): (b"\x30\x44\x02\x20", b"\x02\x20"),
    (1, 0): (b"\x30\x45\x02\x21\x00", b"\x02\x20"),
    (0, 1): (b"\x30\x45\x02\x20", b"\x02\x21\x00"),
    (1, 1): (b"\x30\x46\x02\x21\x00", b"\x02\x21\x00"),
}


def _unknown_key_reasons(bundle: Bundle | None, kid: bytes) -> list[Reason]:
    """``unknown_key``; with trust lists also ``unknown_issuer`` (the kid is in no authority's list)."""
    reasons = [Reason.of(r.UNKNOWN_KEY, f"kid {kid.hex()}")]
    if bundle is not None:
        reasons.append(Reason.of(r.UNKNOWN_ISSUER, "no trust list of the bundle names this key"))
    return reasons


def _resolve_fields(licence_type: LicenceType, claims: LicenceClaims) -> tuple[dict[str, str | int], str | None]:
    """Map QR field tags to catalogue keys; a tag the catalogue hides is a violation."""
    out: dict[str, str | int] = {}
    for tag, value in claims.fields.items():
        try:
            spec = licence_type.field_by_tag(tag)
        except CatalogError:
            return out, f"field tag {tag} is not defined for {licence_type.code}"
        if spec.qr == "omit":
            return out, f"field {spec.key} must not appear in a QR"
        if spec.type == "date" and spec.qr == "show":
            try:
                value = claims_mod.days_to_date(value, spec.key).isoformat()
            except PayloadError:
                return out, f"field {spec.key} is not a date"
        out[spec.key] = value
    return out, None


def _done(when: dt.datetime, checks: list[Check], reasons: list[Reason], failed_check: str) -> VerificationResult:
    worst = r.worst(x.status for x in reasons)
    outcome = CheckOutcome.FAILED if worst is Status.INVALID else CheckOutcome.INDETERMINATE
    checks.append(Check(failed_check, outcome))
    return VerificationResult(status=worst, reasons=tuple(reasons), checks=tuple(checks), verified_at=when)
