"""The hash-chained, append-only audit log (审批流程处处留痕).

Every entry carries the hash of the previous entry *of its chain*, so rewriting,
deleting or reordering an entry breaks every later link; :func:`entry_hash` and
:func:`chain_entry_hash` are the one place that defines the hashed bytes. Since schema
v3 each issuing process appends to a chain of its own (no lock shared between
writers); the ``main`` chain holds single writes and records the opening and closing
of every other chain. The database refuses UPDATE/DELETE on the table (triggers), a
head row per chain records its last position and hash (truncation of a tail is
detected), and :func:`verify_chain` also checks that each licence row still matches
the digest and status the log recorded for it. Design and guarantees:
``specs/audit-log.md``.
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
        "audit.chain_open", "audit.chain_close",
    }
)  # fmt: skip
"""Actions the registry writes."""


_DETAILS_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_ARRAY_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""What ``json.dumps`` with these options builds per call (an encoder), built once: entries are hashed per licence."""


def canonical_details(details: Mapping[str, Any]) -> str:
    """Canonical JSON of an entry's details (sorted keys, no spaces, UTF-8 kept)."""
    return _DETAILS_JSON(dict(details))


def entry_hash(seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str) -> str:
    """SHA-256 (hex) over the canonical JSON array of an entry's fields and the previous hash."""
    doc = _ARRAY_JSON(["elicense-audit/1", seq, at, actor, action, subject, details, prev_hash])
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def chain_entry_hash(
    chain: str, chain_seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str
) -> str:
    """SHA-256 (hex) of a chain entry (schema v3): the chain's name and the position in it are hashed,
    so an entry moved to another chain or position no longer matches."""
    doc = _ARRAY_JSON(["elicense-audit/2", chain, chain_seq, at, actor, action, subject, details, prev_hash])
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
    """Hash of this entry (:func:`entry_hash`, or :func:`chain_entry_hash` for a chain entry)."""
    chain: str | None = None
    """The writer chain (``None``: the single chain of a registry from before schema v3)."""
    chain_seq: int | None = None
    """Position in :attr:`chain`, from 1, without gaps."""

    def expected_hash(self) -> str:
        """The hash this entry's content should have."""
        if self.chain is None:
            return entry_hash(self.seq, self.at, self.actor, self.action, self.subject, self.details, self.prev_hash)
        return chain_entry_hash(
            self.chain, self.chain_seq or 0, self.at, self.actor, self.action, self.subject, self.details,
            self.prev_hash,
        )  # fmt: skip

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
            "chain": self.chain,
            "chain_seq": self.chain_seq,
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
    chains: int = 1
    """Chains checked (the pre-v3 chain counts as one)."""
    broken_chain: str | None = None
    """The chain of the first broken link (``None``: the pre-v3 chain, or nothing broken)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first_broken_seq": self.first_broken_seq,
            "problem": self.problem,
            "licence_problems": list(self.licence_problems),
            "chains": self.chains,
            "broken_chain": self.broken_chain,
        }


_STATUS_OF_ACTION = {
    "licence.issue": "valid",
    "licence.revoke": "revoked",
    "licence.suspend": "suspended",
    "licence.reinstate": "valid",
    "licence.supersede": "superseded",
}


@dataclass
class _ChainState:
    """Verification state of one chain while entries stream by in storage order."""

    next_seq: int = 1
    prev: str = GENESIS
    last_global: int = 0


def verify_chain(
    entries: Iterable[AuditEntry],
    head: tuple[int, str],
    licence_rows: Iterable[tuple[str, str, str]] | None = None,
    chain_heads: Mapping[str, tuple[int, str]] | None = None,
    main_chain: str = "main",
) -> AuditReport:
    """Check every chain link by link, then each head, then the chain registry, then the licence rows.

    ``entries`` come in storage order (``seq``); ``head`` is the pre-v3 chain's head, ``chain_heads``
    the v3 heads by chain name. Entries of one chain must appear in their chain order with no gap;
    every chain but ``main`` must be opened by an ``audit.chain_open`` entry of ``main`` (so deleting a
    whole chain with its head is seen), and a chain closed by ``audit.chain_close`` must end where the
    close recorded. ``licence_rows`` yields ``(licence_id, digest_of_stored_payload, status)``; each
    must match the digest of its issue entry and the status of its last status entry (the latest
    recorded among all chains, by storage order).
    """
    heads = dict(chain_heads or {})
    legacy = _ChainState()
    states: dict[str, _ChainState] = {}
    opened: set[str] = set()
    closed: dict[str, tuple[int, str, int]] = {}
    recorded: dict[str, list[str]] = {}
    count = 0
    for e in entries:
        count += 1
        problem = None
        if e.chain is None:
            st = legacy
            if e.seq != st.next_seq:
                problem = f"sequence gap: expected {st.next_seq}, found {e.seq}"
        else:
            st = states.setdefault(e.chain, _ChainState())
            if e.chain not in heads:
                problem = f"chain {e.chain!r} has no head row"
            elif e.chain_seq != st.next_seq:
                problem = f"sequence gap in chain {e.chain!r}: expected {st.next_seq}, found {e.chain_seq}"
        if problem is None:
            if e.prev_hash != st.prev:
                problem = "prev_hash does not match the previous entry's hash"
            elif e.hash != e.expected_hash():
                problem = "entry content does not match its hash (entry modified)"
        if problem is None and e.chain in closed:
            problem = f"entry after chain {e.chain!r} was closed"
        if problem is not None:
            return AuditReport(False, count, e.seq, problem, chains=1 + len(states), broken_chain=e.chain)
        details: Any = None
        status = _STATUS_OF_ACTION.get(e.action)
        if status is not None or e.action in ("audit.chain_open", "audit.chain_close"):
            try:
                details = json.loads(e.details)
            except ValueError:
                return AuditReport(False, count, e.seq, "details are not JSON", broken_chain=e.chain)
        if status is not None:
            slot = recorded.setdefault(e.subject, ["", status])
            if e.action == "licence.issue":
                slot[0] = str(details.get("digest", ""))
            slot[1] = status
        elif e.chain == main_chain and e.action == "audit.chain_open":
            opened.add(e.subject)
        elif e.chain == main_chain and e.action == "audit.chain_close" and isinstance(details, dict):
            closed[e.subject] = (int(details.get("seq", -1)), str(details.get("hash", "")), e.seq)
        st.prev = e.hash
        st.next_seq += 1
        st.last_global = e.seq
    n_chains = 1 + len(set(heads) | set(states))
    head_seq, head_hash = head
    if head_seq != legacy.next_seq - 1 or head_hash != legacy.prev:
        return AuditReport(
            False,
            count,
            legacy.next_seq,
            f"chain ends at seq {legacy.next_seq - 1} but the head records seq {head_seq} "
            "(entries removed from the end, or head rewritten)",
            chains=n_chains,
        )
    for chain in sorted(set(heads) | set(states)):
        st = states.get(chain, _ChainState())
        h = heads.get(chain)
        where = st.last_global + 1 if st.last_global else None
        if h is None or h[0] != st.next_seq - 1 or h[1] != st.prev:
            recorded_seq = "no head row" if h is None else f"the head records position {h[0]}"
            return AuditReport(
                False,
                count,
                where,
                f"chain {chain!r} ends at position {st.next_seq - 1} but {recorded_seq} "
                "(entries removed from the end, or head rewritten)",
                chains=n_chains,
                broken_chain=chain,
            )
        if chain != main_chain and chain not in opened:
            return AuditReport(False, count, where, f"chain {chain!r} was never opened in the main chain",
                               chains=n_chains, broken_chain=chain)  # fmt: skip
        end = closed.get(chain)
        if end is not None and (end[0], end[1]) != (st.next_seq - 1, st.prev):
            return AuditReport(False, count, end[2], f"chain {chain!r} does not end where its closing recorded",
                               chains=n_chains, broken_chain=chain)  # fmt: skip
    missing = sorted(opened - set(heads))
    if missing:
        return AuditReport(False, count, None, f"chain {missing[0]!r} was opened but is gone (head and entries)",
                           chains=n_chains, broken_chain=missing[0])  # fmt: skip
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
    return AuditReport(not problems, count, None, None, tuple(problems), chains=n_chains)
