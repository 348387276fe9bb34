"""Issuer-side status operations on the registry, and publishing status data (a home-level service).

``revoke / suspend / reinstate / supersede`` check the transition with the pure
:mod:`elicense.status.lifecycle` (clear errors for illegal moves), then write
the new status, a status event and a hash-chained audit entry in one registry
transaction (:meth:`Registry.set_status`). :func:`status_sections` signs a fresh
status list per authority and a CRL per CA of an issuer home: what the offline
bundle carries. Revoked *certificates* (compromised signing keys, retired CAs)
are recorded in ``HOME/status/revoked-certificates.json``.

Above :mod:`elicense.home` (it reads the home's authorities, keys and CRLs) and the registry;
the verifier-side status code (:mod:`elicense.status`) is below both. Imports SQLAlchemy (through
the registry): never on the verify path.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from elicense.crypto.keys import atomic_write
from elicense.errors import UsageError
from elicense.home import REVOKED_CERTS_FILE, Home
from elicense.identifiers import LicenceId
from elicense.model import LicenceStatus, require_utc
from elicense.registry import Registry, url_for
from elicense.registry import schema as s
from elicense.status.crl import CRL_REASONS, DEFAULT_CRL_VALIDITY, RevokedCert
from elicense.status.lifecycle import Action, LicenceState, StatusEvent, UnknownLicence
from elicense.status.reasons import DEFAULT_REASON, REASONS_BY_KEY, ListState
from elicense.status.section import to_section
from elicense.status.statuslist import DEFAULT_VALIDITY, MIN_ENTRIES, Entry, sign_status_list

_TARGET_ACTION = {
    LicenceStatus.SUSPENDED: Action.SUSPEND,
    LicenceStatus.VALID: Action.REINSTATE,
    LicenceStatus.REVOKED: Action.REVOKE,
    LicenceStatus.SUPERSEDED: Action.SUPERSEDE,
}


def registry_url(home: Home, db: str | None = None) -> str:
    """``--db`` if given, else the home's SQLite registry."""
    return url_for(home, db)


@contextmanager
def open_registry(home: Home, db: str | None = None, *, create: bool = False) -> Iterator[Registry]:
    """Open the home's registry (it must exist unless ``create``)."""
    reg = Registry.open(registry_url(home, db), create=create)
    try:
        yield reg
    finally:
        reg.close()


# -- state from the registry ------------------------------------------------------------------


def _parse_time(value: str) -> dt.datetime:
    return require_utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))


def _split_reason(stored: str | None) -> tuple[str | None, str | None, str | None]:
    """Stored reason text → (reason key, successor, note); see :func:`_encode_reason`."""
    if not stored:
        return None, None, None
    try:
        doc = json.loads(stored)
    except ValueError:
        return None, None, stored
    if not isinstance(doc, dict):
        return None, None, stored
    return doc.get("r"), doc.get("s"), doc.get("n")


def _encode_reason(reason: str | None, successor: str | None, note: str | None) -> str:
    doc = {k: v for k, v in (("r", reason), ("s", successor), ("n", note)) if v}
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if len(text) > 256:
        raise UsageError("note too long (the reason, successor and note must fit 256 characters)")
    return text


def licence_state(registry: Registry, licence_id: str) -> LicenceState:
    """Rebuild a licence's :class:`LicenceState` from the registry (record + status events)."""
    record = registry.get(licence_id)
    if record is None:
        raise UnknownLicence(f"no licence {licence_id} in the registry", message_zh=f"证照库中没有证照 {licence_id}")
    signed = _parse_time(record.signed_at)
    state = LicenceState.issued(record.id, record.authority_code, record.status_index, at=signed)
    history = list(state.history)
    for row in registry.status_events(licence_id):
        reason, successor, note = _split_reason(row.get("reason"))
        recorded = _parse_time(row["at"])
        effective = _parse_time(row["effective_at"]) if row.get("effective_at") else recorded
        to = LicenceStatus(row["status"])
        history.append(StatusEvent(
            licence_id, _TARGET_ACTION[to], LicenceStatus(row["previous"]) if row.get("previous") else None,
            to, effective, recorded, reason=reason, successor=row.get("successor") or successor,
            actor=row.get("actor"), note=note,
        ))  # fmt: skip
    return LicenceState(state.licence_id, state.authority_code, state.status_index, tuple(history))


def change_status(
    registry: Registry,
    licence_id: str,
    action: Action,
    *,
    at: dt.datetime,
    actor: str,
    effective_at: dt.datetime | None = None,
    reason: str | None = None,
    successor: str | None = None,
    note: str | None = None,
) -> StatusEvent:
    """Apply one status transition to a registered licence (validated, audited, atomic)."""
    now = require_utc(at, "at")
    lid = str(LicenceId.parse(licence_id))
    if successor is not None:
        successor = str(LicenceId.parse(successor))
    state = licence_state(registry, lid)
    if action is Action.SUPERSEDE:
        _check_successor(registry, lid, successor)
    _, event = state.apply(
        action, effective_at=effective_at or now, recorded_at=now, reason=reason,
        successor=successor, actor=actor, note=note,
    )  # fmt: skip
    registry.set_status(
        lid, event.to_status, _encode_reason(event.reason, event.successor, note), now, actor,
        effective_at=event.effective_at, successor=event.successor,
    )  # fmt: skip
    return event


def _check_successor(registry: Registry, old: str, successor: str | None) -> None:
    if successor is None:
        raise UsageError("supersede needs --with NEW", message_zh="换发须指定 --with 新证照标识")
    record = registry.get(successor)
    if record is None:
        raise UnknownLicence(
            f"no successor licence {successor} in the registry", message_zh=f"证照库中没有新证照 {successor}"
        )
    if record.supersedes != old:
        raise UsageError(
            f"{successor} does not name {old} as the licence it supersedes (issue it with supersedes={old})",
            message_zh="新证照未声明其替代的原证照",
        )
    if record.status != LicenceStatus.VALID.value:
        raise UsageError(f"successor {successor} is {record.status}", message_zh="新证照不是有效状态")


# -- revoked certificates ------------------------------------------------------------------------


def revoke_certificate(
    home: Home,
    certificate: x509.Certificate,
    *,
    at: dt.datetime,
    reason: str = "key_compromise",
    invalid_since: dt.datetime | None = None,
) -> RevokedCert:
    """Record the revocation of a certificate of this home (published in the next CRL)."""
    at = require_utc(at, "at")
    if reason not in CRL_REASONS:
        raise UsageError(f"unknown certificate revocation reason {reason!r} (known: {', '.join(CRL_REASONS)})")
    if invalid_since is not None and require_utc(invalid_since) > at:
        raise UsageError("--invalid-since lies after the revocation time")
    entries = home.revoked_certificates()
    if any(int(e["serial"]) == certificate.serial_number and e["issuer"] == certificate.issuer.rfc4514_string()
           for e in entries):  # fmt: skip
        raise UsageError("certificate is already revoked", message_zh="证书已被吊销")
    rev = RevokedCert(
        certificate.serial_number,
        at.replace(microsecond=0),
        reason,
        invalid_since.replace(microsecond=0) if invalid_since else None,
    )
    entries.append({
        "issuer": certificate.issuer.rfc4514_string(), "serial": str(rev.serial),
        "subject": certificate.subject.rfc4514_string(), "revoked_at": rev.revoked_at.isoformat(),
        "reason": reason, "invalid_since": rev.invalid_since.isoformat() if rev.invalid_since else None,
    })  # fmt: skip
    atomic_write(home.path / REVOKED_CERTS_FILE, json.dumps(entries, ensure_ascii=False, indent=1).encode())
    return rev


# -- publishing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusSections:
    """What an offline bundle carries for revocation: signed status lists and CRLs."""

    status_lists: tuple[bytes, ...]
    """COSE_Sign1 status lists, one per authority."""
    crls: tuple[bytes, ...]
    """DER CRLs, one per CA (root and regional CAs)."""
    issued_at: dt.datetime
    """When they were produced."""
    next_update: dt.datetime
    """Earliest next update among them."""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Authority code → non-valid entries by state (for reports)."""

    def to_json(self) -> bytes:
        """The JSON status section (:mod:`elicense.status.section`) as UTF-8 bytes."""
        return json.dumps(to_section(self.status_lists, self.crls), separators=(",", ":")).encode()


def list_entries(registry: Registry, authority_code: str, at: dt.datetime) -> list[Entry]:
    """The non-valid entries of an authority's list, from the registry, as of ``at``."""
    return pending_and_entries(registry, authority_code, at)[0]


def pending_and_entries(
    registry: Registry, authority_code: str, at: dt.datetime
) -> tuple[list[Entry], dt.datetime | None]:
    """Entries in effect at ``at``, and the earliest *scheduled* change (effective after ``at``).

    A list published now cannot say what a scheduled change will do, so the
    publisher ends the list's freshness at that change (:func:`status_sections`):
    verifiers then need the next list, which carries it.
    """
    lic, ev = s.licences, s.status_events
    q = (
        select(lic.c.id, lic.c.status_index, ev.c.status, ev.c.reason, func.coalesce(ev.c.effective_at, ev.c.at),
               ev.c.successor)
        .join(ev, ev.c.licence_id == lic.c.id)
        .where(lic.c.authority_code == authority_code, lic.c.status_index.is_not(None))
        .order_by(lic.c.id, ev.c.id)
    )  # fmt: skip
    last: dict[str, tuple[int, str, str | None, dt.datetime, str | None]] = {}
    pending: dt.datetime | None = None
    with registry.reading() as conn:
        for lid, index, status, stored, when, succ in conn.execute(q):
            effective = _parse_time(when)
            if effective > at:  # scheduled: not in effect yet (later events of this licence neither)
                pending = effective if pending is None else min(pending, effective)
                continue
            last[lid] = (int(index), status, stored, effective, succ)
    entries: list[Entry] = []
    for index, status, stored, since, succ in last.values():
        state = {"suspended": ListState.SUSPENDED, "revoked": ListState.REVOKED,
                 "superseded": ListState.SUPERSEDED}.get(status)  # fmt: skip
        if state is None:
            continue
        key, successor, _ = _split_reason(stored)
        successor = succ or successor
        why = REASONS_BY_KEY.get(key or "") or DEFAULT_REASON[state]
        if why.state is not state:
            why = DEFAULT_REASON[state]
        entries.append(Entry(index, state, why, since, successor if state is ListState.SUPERSEDED else None))
    return entries, pending


def status_sections(
    home: Home,
    now: dt.datetime,
    *,
    db: str | None = None,
    validity: dt.timedelta = DEFAULT_VALIDITY,
    crl_validity: dt.timedelta = DEFAULT_CRL_VALIDITY,
    sequence: int | None = None,
) -> StatusSections:
    """Sign a fresh status list for every authority of ``home`` and a CRL for every CA.

    The sequence number defaults to the issue time in seconds: monotonic without
    any stored counter (a clock set back produces lists verifiers refuse as
    rollbacks — safe). Authorities without a registry get an all-valid list. A
    list's next update is brought forward to the earliest scheduled status change
    of its authority (``--effective`` in the future), so no verifier keeps showing
    a licence as valid with this list after its revocation takes effect.
    """
    now = require_utc(now, "now").replace(microsecond=0)
    seq = int(now.timestamp()) if sequence is None else sequence
    lists: list[bytes] = []
    counts: dict[str, dict[str, int]] = {}
    url = registry_url(home, db)
    has_registry = not url.startswith("sqlite:///") or Path(url[len("sqlite:///") :]).exists()
    reg_cm = open_registry(home, db) if has_registry else None
    registry = reg_cm.__enter__() if reg_cm is not None else None
    try:
        earliest = now + min(validity, crl_validity)
        for entry in home.authorities:
            entries, pending = pending_and_entries(registry, entry.code, now) if registry is not None else ([], None)
            size = registry.status_list_size(entry.code) if registry is not None else MIN_ENTRIES
            nxt = now + validity
            if pending is not None and pending < nxt:  # stale when the scheduled change takes effect
                nxt = max(pending.replace(microsecond=0), now + dt.timedelta(seconds=1))
            earliest = min(earliest, nxt)
            lists.append(sign_status_list(
                home.signer(entry), issuer=entry.code, sequence=seq, issued_at=now,
                entries=entries, size=max(size, MIN_ENTRIES), next_update=nxt,
            ))  # fmt: skip
            c = {s.name.lower(): 0 for s in ListState if s is not ListState.VALID}
            for e in entries:
                c[e.state.name.lower()] += 1
            counts[entry.code] = c
    finally:
        if reg_cm is not None:
            reg_cm.__exit__(None, None, None)
    crls = [c.public_bytes(serialization.Encoding.DER) for c in home.crls(now, crl_validity, seq)]
    return StatusSections(tuple(lists), tuple(crls), now, earliest, counts)
