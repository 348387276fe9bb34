"""The hash-chained, append-only audit log (审批流程处处留痕).

Every entry carries the hash of the previous one, so rewriting, deleting or
reordering an entry breaks every later link; :func:`entry_hash` is the one place
that defines the hashed bytes. The database refuses UPDATE/DELETE on the table
(triggers), a head row records the last sequence number and hash (truncation of
the tail is detected), and :func:`verify_chain` also checks that each licence row
still matches the digest and status the log recorded for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""

ACTIONS = frozenset(
    {
        "licence.issue", "licence.revoke", "licence.suspend", "licence.reinstate",
        "licence.supersede", "key.register", "key.retire", "seal.register", "status.allocate",
    }
)  # fmt: skip
"""Actions the registry writes."""


def canonical_details(details: Mapping[str, Any]) -> str:
    """Canonical JSON of an entry's details (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(dict(details), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def entry_hash(seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str) -> str:
    """SHA-256 (hex) over the canonical JSON array of an entry's fields and the previous hash."""
    doc = json.dumps(
        ["elicense-audit/1", seq, at, actor, action, subject, details, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One audit-log entry as stored."""

    seq: int
    """Position in the chain, from 1, without gaps."""
    at: str
    """UTC instant (ISO 8601, ``Z``)."""
    actor: str
    """Who did it (operator, service account, batch job)."""
    action: str
    """What was done (see :data:`ACTIONS`)."""
    subject: str
    """What it was done to (licence id, authority code, ...)."""
    details: str
    """Canonical JSON details (digest, status, reason, source id, ...)."""
    prev_hash: str
    """Hash of the previous entry (:data:`GENESIS` for the first)."""
    hash: str
    """Hash of this entry (:func:`entry_hash`)."""

    def expected_hash(self) -> str:
        """The hash this entry's content should have."""
        return entry_hash(self.seq, self.at, self.actor, self.action, self.subject, self.details, self.prev_hash)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": json.loads(self.details),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class AuditReport:
    """Outcome of :func:`verify_chain`."""

    ok: bool
    """Whether the chain and the licence rows are intact."""
    entries: int
    """Entries checked."""
    first_broken_seq: int | None = None
    """Sequence number of the first broken link (``None`` if the chain is intact)."""
    problem: str | None = None
    """What is wrong with that link."""
    licence_problems: tuple[str, ...] = field(default_factory=tuple)
    """Licence rows that do not match what the log recorded (first 100)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first_broken_seq": self.first_broken_seq,
            "problem": self.problem,
            "licence_problems": list(self.licence_problems),
        }


_STATUS_OF_ACTION = {
    "licence.issue": "valid",
    "licence.revoke": "revoked",
    "licence.suspend": "suspended",
    "licence.reinstate": "valid",
    "licence.supersede": "superseded",
}


def verify_chain(
    entries: Iterable[AuditEntry],
    head: tuple[int, str],
    licence_rows: Iterable[tuple[str, str, str]] | None = None,
) -> AuditReport:
    """Check the chain link by link, then the head, then the licence rows.

    ``licence_rows`` yields ``(licence_id, digest_of_stored_payload, status)``; each must
    match the digest of its issue entry and the status of its last status entry.
    """
    prev = GENESIS
    expected_seq = 1
    recorded: dict[str, list[str]] = {}
    count = 0
    for e in entries:
        count += 1
        problem = None
        if e.seq != expected_seq:
            problem = f"sequence gap: expected {expected_seq}, found {e.seq}"
        elif e.prev_hash != prev:
            problem = "prev_hash does not match the previous entry's hash"
        elif e.hash != e.expected_hash():
            problem = "entry content does not match its hash (entry modified)"
        if problem is not None:
            return AuditReport(False, count, e.seq, problem)
        status = _STATUS_OF_ACTION.get(e.action)
        if status is not None:
            try:
                details = json.loads(e.details)
            except ValueError:
                return AuditReport(False, count, e.seq, "details are not JSON")
            slot = recorded.setdefault(e.subject, ["", status])
            if e.action == "licence.issue":
                slot[0] = str(details.get("digest", ""))
            slot[1] = status
        prev = e.hash
        expected_seq += 1
    head_seq, head_hash = head
    if head_seq != expected_seq - 1 or head_hash != prev:
        return AuditReport(
            False,
            count,
            expected_seq,
            f"chain ends at seq {expected_seq - 1} but the head records seq {head_seq} "
            "(entries removed from the end, or head rewritten)",
        )
    problems: list[str] = []
    if licence_rows is not None:
        seen = set()
        for licence_id, digest, status in licence_rows:
            seen.add(licence_id)
            rec = recorded.get(licence_id)
            if rec is None:
                problems.append(f"{licence_id}: no audit entry records its issuance")
            elif rec[0] != digest:
                problems.append(f"{licence_id}: stored licence differs from the logged one")
            elif rec[1] != status:
                problems.append(f"{licence_id}: status {status!r} but the log says {rec[1]!r}")
            if len(problems) >= 100:
                break
        for licence_id in recorded:
            if len(problems) >= 100:
                break
            if licence_id not in seen:
                problems.append(f"{licence_id}: in the log but missing from the registry")
    return AuditReport(not problems, count, None, None, tuple(problems))
