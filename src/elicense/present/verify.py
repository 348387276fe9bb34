"""Verifying an ``EP1:`` presentation (``specs/presentation.md`` §7) and the replay cache.

The issuer half goes through the Verifier's own EL1 machinery (algorithm policy,
``kid`` → trusted authority, claim checks, validity, status, policies), so a
presentation is never judged by looser rules than a static QR. The device half
adds: device signature, disclosed digests, lifetime with an explicit skew, replay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import hashlib
import heapq
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from elicense.crypto.algorithms import Algorithm, verify_cose_signature
from elicense.errors import AlgorithmNotAllowed, PayloadError, PayloadTooLarge
from elicense.present import presentation as p
from elicense.qr import claims as claims_mod
from elicense.qr import mso as mso_mod
from elicense.qr.cose import parse_sign1
from elicense.verdict import reasons as r
from elicense.verdict.reasons import CheckOutcome, Status
from elicense.verdict.result import Check, Reason, VerificationResult

if TYPE_CHECKING:
    from elicense.verdict.context import LicenceVerifier

KIND = "presentation"
MAX_REPLAY_ENTRIES = 65_536
"""Replay-cache bound (all holders together); at ``MAX_TTL`` = 1 h that is 18 presentations a second."""
MAX_PER_DEVICE = 16
"""Live presentations one holder device may have in one verifier's cache (``specs/presentation.md`` §7)."""


class Replay(enum.Enum):
    """What the replay cache says about a presentation id."""

    FRESH = "fresh"
    """Not seen before; now recorded until it expires."""
    REPLAYED = "replayed"
    """Seen before and still live: a replay."""
    QUOTA = "quota"
    """This device already has :data:`MAX_PER_DEVICE` live entries: not recorded, cannot vouch."""
    FULL = "full"
    """Every holder's entries are live and no holder has more than one: not recorded, cannot vouch."""


class ReplayCache:
    """Presentation ids seen, each kept until its presentation has expired. Thread-safe, bounded.

    Fair under a flood (#16): ids are grouped by the device key that signed them. One device
    holds at most ``per_device`` live ids; beyond that *its* new presentations are refused
    (``Replay.QUOTA``) and nobody else's entry moves. When the whole cache is full, room is made
    by forgetting the oldest id of the device holding the most (at least two) live ids, so a
    flood only ever evicts the flooder's own entries; a holder with a single live id is never
    evicted. Memory is bounded by ``max_entries`` ids (and a heap at most twice that).
    """

    def __init__(self, max_entries: int = MAX_REPLAY_ENTRIES, per_device: int = MAX_PER_DEVICE) -> None:
        if max_entries < 1 or per_device < 1:
            raise ValueError("replay cache bounds must be positive")
        self.max_entries = max_entries
        self.per_device = per_device
        self._expiry: dict[bytes, tuple[float, bytes]] = {}  # id → (expiry, device)
        self._heap: list[tuple[float, bytes]] = []  # (expiry, id), lazily cleaned
        self._by_device: dict[bytes, list[tuple[float, bytes]]] = {}  # device → its live (expiry, id)
        self._with_count: list[dict[bytes, None]] = [{} for _ in range(per_device + 1)]  # count → devices
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def live_for(self, device: bytes) -> int:
        """Live ids recorded for ``device``."""
        return len(self._by_device.get(device, ()))

    def check_and_add(self, key: bytes, expires: float, now: float) -> bool | None:
        """:meth:`check` for callers without a device: ``True`` new, ``False`` seen, ``None`` cannot vouch."""
        verdict = self.check(key, b"", expires, now)
        return {Replay.FRESH: True, Replay.REPLAYED: False}.get(verdict)

    def check(self, key: bytes, device: bytes, expires: float, now: float) -> Replay:
        """Look ``key`` up (and record it) for ``device``; see :class:`Replay`."""
        with self._lock:
            self._expire(now)
            if key in self._expiry:
                return Replay.REPLAYED
            mine = self._by_device.get(device)
            if mine is not None and len(mine) >= self.per_device:
                return Replay.QUOTA
            if len(self._expiry) >= self.max_entries and not self._evict_heaviest():
                return Replay.FULL
            self._expiry[key] = (expires, device)
            heapq.heappush(self._heap, (expires, key))
            if mine is None:
                mine = self._by_device[device] = []
            self._move(device, len(mine), len(mine) + 1)
            mine.append((expires, key))
            if len(self._heap) > 2 * len(self._expiry) + 1024:  # stale heap items of evicted ids
                self._heap = [(e, k) for k, (e, _) in self._expiry.items()]
                heapq.heapify(self._heap)
            return Replay.FRESH

    def _move(self, device: bytes, old: int, new: int) -> None:
        if old:
            self._with_count[old].pop(device, None)
        if new:
            self._with_count[new][device] = None

    def _forget(self, key: bytes) -> None:
        _, device = self._expiry.pop(key)
        mine = self._by_device[device]
        mine[:] = [item for item in mine if item[1] != key]
        self._move(device, len(mine) + 1, len(mine))
        if not mine:
            del self._by_device[device]

    def _expire(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] < now:
            _, old = heapq.heappop(heap)
            hit = self._expiry.get(old)
            if hit is not None and hit[0] < now:
                self._forget(old)

    def _evict_heaviest(self) -> bool:
        """Forget the oldest id of a device with the most live ids (two or more); ``False`` if none has."""
        for count in range(self.per_device, 1, -1):
            devices = self._with_count[count]
            if devices:
                device = next(iter(devices))
                self._forget(min(self._by_device[device])[1])
                return True
        return False


def verify_presentation(
    verifier: LicenceVerifier, payload: str | bytes, *, at: dt.datetime, skew: dt.timedelta = p.CLOCK_SKEW
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
    base = verifier.verify_signed(
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
    if not device_ok:
        # Nothing the device signed is trusted: no digest, lifetime or replay check reads its fields,
        # and no disclosed value is shown (#16: an unsigned issued_at in year 10000 stopped the verifier).
        check("device_signature", [Reason.of(r.PRESENTATION_DEVICE_SIGNATURE_INVALID)])
        pchecks.extend(Check(name, CheckOutcome.SKIPPED, "device signature invalid")
                       for name in ("disclosed_digests", "presentation_validity", "replay"))  # fmt: skip
        all_reasons = (*reasons, *base.reasons)
        return replace(base, status=r.worst(x.status for x in all_reasons), reasons=all_reasons,
                       checks=(*base.checks, *pchecks), kind=KIND, disclosed=())  # fmt: skip
    check("device_signature", [])

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

    if not bad and not found:  # only genuine, current presentations consume their id
        cache = verifier.replay_cache
        if cache is None:
            cache = verifier.replay_cache = ReplayCache()
        key = hashlib.sha256(parsed.device_key_bytes + pres.nonce).digest()[:16]
        device = hashlib.sha256(b"device/" + parsed.device_key_bytes).digest()[:16]
        verdict = cache.check(key, device, pres.expires_at + slack, now)
        if verdict is Replay.FULL:
            check("replay", [Reason.of(r.PRESENTATION_REPLAY_UNCHECKED)])
        elif verdict is Replay.QUOTA:
            check("replay", [Reason.of(r.PRESENTATION_REPLAY_QUOTA, f"{cache.per_device} live presentations")])
        else:
            check("replay", [] if verdict is Replay.FRESH else [Reason.of(r.PRESENTATION_REPLAYED, pres.nonce.hex())])
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


_MAX_SHOWN = 253_402_300_799
"""9999-12-31T23:59:59Z: the last second ``datetime`` can show."""


def _iso(seconds: int) -> str:
    """ISO text of a time in seconds; beyond what ``datetime`` can show, the number itself (never raises)."""
    if not 0 <= seconds <= _MAX_SHOWN:
        return f"{seconds} s since 1970-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")
