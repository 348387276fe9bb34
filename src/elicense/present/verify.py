"""Verifying an ``EP1:`` presentation (``specs/presentation.md`` §7) and the replay cache.

The issuer half goes through the Verifier's own EL1 machinery (algorithm policy,
``kid`` → trusted authority, claim checks, validity, status, policies), so a
presentation is never judged by looser rules than a static QR. The device half
adds: device signature, disclosed digests, lifetime with an explicit skew, replay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import heapq
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from elicense.crypto.algorithms import Algorithm, verify_cose_signature
from elicense.errors import AlgorithmNotAllowed, PayloadError, PayloadTooLarge
from elicense.present import mso as mso_mod
from elicense.present import presentation as p
from elicense.qr import claims as claims_mod
from elicense.qr.cose import parse_sign1
from elicense.verify import result as r
from elicense.verify.result import Check, CheckOutcome, Reason, Status, VerificationResult

if TYPE_CHECKING:
    from elicense.verify.verifier import Verifier

KIND = "presentation"
MAX_REPLAY_ENTRIES = 65_536
"""Replay-cache bound; at ``MAX_TTL`` = 1 h that is 18 presentations a second, sustained."""


class ReplayCache:
    """Presentation ids seen, each kept until its presentation has expired. Thread-safe, bounded.

    When full of unexpired entries it refuses to vouch (``None``): the verifier then
    answers INDETERMINATE rather than forget an id an attacker could replay.
    """

    def __init__(self, max_entries: int = MAX_REPLAY_ENTRIES) -> None:
        self.max_entries = max_entries
        self._expiry: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def check_and_add(self, key: bytes, expires: float, now: float) -> bool | None:
        """``True`` if ``key`` is new (and now recorded), ``False`` if seen, ``None`` if full."""
        with self._lock:
            heap = self._heap
            while heap and heap[0][0] < now:
                _, old = heapq.heappop(heap)
                if self._expiry.get(old, now) < now:
                    del self._expiry[old]
            if key in self._expiry:
                return False
            if len(self._expiry) >= self.max_entries:
                return None
            self._expiry[key] = expires
            heapq.heappush(heap, (expires, key))
            return True


def verify_presentation(
    verifier: Verifier, payload: str | bytes, *, at: dt.datetime, skew: dt.timedelta = p.CLOCK_SKEW
) -> VerificationResult:
    """Verify a presentation at ``at`` (UTC); never raises for a failed check."""
    checks: list[Check] = []

    def stop(code: r.ReasonCode, detail: str | None, check: str) -> VerificationResult:
        outcome = CheckOutcome.FAILED if code.status is Status.INVALID else CheckOutcome.INDETERMINATE
        return VerificationResult(
            status=code.status, reasons=(Reason.of(code, detail),), checks=(*checks, Check(check, outcome)),
            verified_at=at, kind=KIND,
        )  # fmt: skip

    try:
        pres = p.parse(p.unwrap(payload))
        issuer_msg = parse_sign1(pres.mso)
        parsed = mso_mod.parse_mso(issuer_msg.payload)
    except PayloadTooLarge as exc:
        return stop(r.PAYLOAD_TOO_LARGE, exc.message, "decode")
    except PayloadError as exc:
        return stop(r.PAYLOAD_MALFORMED, exc.message, "decode")
    checks.append(Check("decode", CheckOutcome.PASSED))
    try:
        alg = Algorithm.from_cose_id(issuer_msg.alg_id)
        verifier.algorithms.check(alg)
        device_alg = Algorithm.from_cose_id(pres.alg_id)
        if device_alg not in mso_mod.DEVICE_ALGORITHMS:
            raise AlgorithmNotAllowed(f"{device_alg.label} is not a device key algorithm")
        verifier.algorithms.check(device_alg)
    except AlgorithmNotAllowed as exc:
        return stop(r.ALGORITHM_NOT_ALLOWED, exc.message, "algorithm")
    checks.append(Check("algorithm", CheckOutcome.PASSED, alg.label))
    # Issuer half: kid → trusted keys, issuer signature, then every EL1 claim/status/policy check.
    base = verifier._verify_signed(
        issuer_msg.kid, alg, issuer_msg.to_be_signed(), issuer_msg.signature, parsed.el1_claims, at, checks
    )
    if base.licence is None:  # issuer signature not verified: report nothing from the payload
        return replace(base, kind=KIND)

    reasons: list[Reason] = []
    pchecks: list[Check] = []

    def check(name: str, found: list[Reason]) -> None:
        reasons.extend(found)
        worst = r.worst(x.status for x in found)
        outcome = CheckOutcome.PASSED if not found else (
            CheckOutcome.FAILED if worst is Status.INVALID else CheckOutcome.INDETERMINATE)  # fmt: skip
        pchecks.append(Check(name, outcome))

    device_ok = device_alg is parsed.device_alg and verify_cose_signature(
        parsed.device_key, device_alg, pres.signature, pres.to_be_signed
    )
    check("device_signature", [] if device_ok else [Reason.of(r.PRESENTATION_DEVICE_SIGNATURE_INVALID)])

    bad = [
        str(eid)
        for eid, (salt, value) in pres.disclosed.items()
        if parsed.digests.get(eid) != mso_mod.element_digest(eid, salt, value)
    ]
    check("disclosed_digests", [Reason.of(r.PRESENTATION_FIELD_DIGEST_MISMATCH, f"element {', '.join(bad)}")]
          if bad else [])  # fmt: skip

    now = at.timestamp()
    slack = skew.total_seconds()
    found: list[Reason] = []
    if not 0 < pres.expires_at - pres.issued_at <= p.MAX_TTL:
        found.append(Reason.of(r.PRESENTATION_LIFETIME_INVALID, f"{pres.expires_at - pres.issued_at} s"))
    if pres.issued_at > now + slack:
        found.append(Reason.of(r.PRESENTATION_NOT_YET_VALID, _iso(pres.issued_at)))
    if now > pres.expires_at + slack:
        found.append(Reason.of(r.PRESENTATION_EXPIRED, _iso(pres.expires_at)))
    check("presentation_validity", found)

    if device_ok and not bad and not found:  # only genuine, current presentations consume their id
        cache = verifier.replay_cache
        if cache is None:
            cache = verifier.replay_cache = ReplayCache()
        key = hashlib.sha256(parsed.device_key_bytes + pres.nonce).digest()[:16]
        fresh = cache.check_and_add(key, pres.expires_at + slack, now)
        if fresh is None:
            check("replay", [Reason.of(r.PRESENTATION_REPLAY_UNCHECKED)])
        else:
            check("replay", [] if fresh else [Reason.of(r.PRESENTATION_REPLAYED, pres.nonce.hex())])
    else:
        pchecks.append(Check("replay", CheckOutcome.SKIPPED, "presentation not genuine or not current"))

    claims = base.licence
    disclosed_names: list[str] = []
    fields: dict[str, str | int] = {}
    lt = base.licence_type
    for eid, (_, value) in sorted(pres.disclosed.items(), key=lambda kv: (kv[0] < 0, abs(kv[0]))):
        if eid == mso_mod.E_HOLDER_NAME:
            claims = replace(claims, holder_name=str(value))
            disclosed_names.append("holder_name")
            continue
        if eid == mso_mod.E_HOLDER_CODE:
            claims = replace(claims, holder_code=str(value))
            disclosed_names.append("holder_code")
            continue
        spec = None
        if lt is not None and eid < 0:
            try:
                spec = lt.field_by_tag(-eid)
            except Exception:  # CatalogError: a digested element the catalogue does not know
                spec = None
        name = spec.key if spec is not None else str(eid)
        if spec is not None and spec.type == "date":
            with contextlib.suppress(PayloadError):
                value = claims_mod.days_to_date(value, name).isoformat()
        fields[name] = value
        disclosed_names.append(name)
    all_reasons = (*reasons, *base.reasons)
    return replace(
        base,
        status=r.worst(x.status for x in all_reasons),
        reasons=all_reasons,
        checks=(*base.checks, *pchecks),
        licence=claims,
        fields=fields,
        kind=KIND,
        disclosed=tuple(disclosed_names),
    )


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")
