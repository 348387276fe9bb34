"""The registry's audit log: chains of hashed entries, written in the transaction of each change.

The hashing and the check of a chain are :mod:`elicense.registry.audit` (no database);
this part reads and writes them.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from elicense.errors import StorageError, UsageError
from elicense.registry import schema as s
from elicense.registry.audit import (
    GENESIS,
    AuditEntry,
    AuditReport,
    canonical_details,
    chain_entry_hash,
    verify_chain,
)
from elicense.registry.records import iso
from elicense.registry.store import Store


@dataclass(frozen=True)
class ChainAppend:
    """Entries hashed onto a chain, ready to insert (:meth:`Registry.append_chain`)."""

    chain: str
    """The chain."""
    after_seq: int
    """Position of the head the entries were hashed after."""
    after_hash: str
    """Hash of that head."""
    seq: int
    """Position of the last entry."""
    hash: str
    """Hash of the last entry."""
    rows: list[tuple[str, str, str, str, str, str, str, str, int]]
    """``(at, actor, action, subject, details, prev_hash, hash, chain, chain_seq)`` per entry."""


@dataclass
class ChainWriter:
    """One process's handle on its audit chain: the head as last committed (mutable, one owner)."""

    chain: str
    """The chain's name."""
    seq: int
    """Position of its last committed entry (0: empty)."""
    hash: str
    """Hash of that entry (:data:`~elicense.registry.audit.GENESIS` when empty)."""
    actor: str
    """Who writes (every entry of the chain names them)."""

    def prepare(self, items: Sequence[tuple[str, str, Mapping[str, Any]]], *, at: dt.datetime) -> ChainAppend:
        """Hash ``(action, subject, details)`` entries after the current head (no database, no lock)."""
        if not self.actor or len(self.actor) > 128:
            raise UsageError("actor must be 1-128 characters")
        when, actor, chain = iso(at), self.actor, self.chain
        seq, prev = self.seq, self.hash
        rows: list[tuple[str, str, str, str, str, str, str, str, int]] = []
        for action, subject, details in items:
            seq += 1
            body = canonical_details(details)
            digest = chain_entry_hash(chain, seq, when, actor, action, subject, body, prev)
            rows.append((when, actor, action, subject, body, prev, digest, chain, seq))
            prev = digest
        return ChainAppend(chain, self.seq, self.hash, seq, prev, rows)

    def advance(self, appended: ChainAppend) -> None:
        """Move the in-memory head after the transaction that inserted ``appended`` committed."""
        if (appended.chain, appended.after_seq, appended.after_hash) != (self.chain, self.seq, self.hash):
            raise StorageError("audit chain advanced out of order", message_zh="审计链顺序错误")
        self.seq, self.hash = appended.seq, appended.hash


class AuditLog(Store, abc.ABC):
    """Audit entries and writer chains (a part of :class:`~elicense.registry.Registry`)."""

    def audit(
        self,
        conn: Connection,
        *,
        action: str,
        subject: str,
        actor: str,
        at: dt.datetime,
        details: Mapping[str, Any],
    ) -> int:
        """Append one entry in ``conn``'s transaction; returns its sequence number."""
        return self.audit_batch(conn, [(action, subject, details)], actor=actor, at=at)

    def audit_batch(
        self,
        conn: Connection,
        items: Sequence[tuple[str, str, Mapping[str, Any]]],
        *,
        actor: str,
        at: dt.datetime,
    ) -> int:
        """Append ``(action, subject, details)`` entries to the ``main`` chain; returns its last position.

        The main chain's head row is locked (``FOR UPDATE``) until the transaction ends, so
        concurrent single writes extend it one after the other and it never forks. Bulk
        issuers write to chains of their own (:meth:`open_chain`) and never take this lock.
        """
        if not items:
            return 0
        appended = self.main_chain(conn, actor).prepare(items, at=at)
        self.append_chain(conn, appended)
        return appended.seq

    def open_chain(self, *, actor: str, at: dt.datetime, note: Mapping[str, Any] | None = None) -> ChainWriter:
        """A new writer chain for this process (its head row, and its opening in the ``main`` chain).

        Only the returned writer appends to it (:meth:`append_chain`), so a bulk writer hashes its
        entries before it takes any lock, and writers never wait for one another's audit head.
        """
        chain = f"w-{secrets.token_hex(12)}"
        with self.transaction() as conn:
            conn.execute(s.audit_chains.insert().values(chain=chain, seq=0, hash=GENESIS, opened_at=iso(at)))
            self.audit_batch(conn, [("audit.chain_open", chain, dict(note or {}))], actor=actor, at=at)
        return ChainWriter(chain, 0, GENESIS, actor)

    def close_chain(self, writer: ChainWriter, *, at: dt.datetime, note: Mapping[str, Any] | None = None) -> None:
        """Record in the ``main`` chain where ``writer``'s chain ends (its tail is then anchored twice)."""
        details = {"seq": writer.seq, "hash": writer.hash, **dict(note or {})}
        with self.transaction() as conn:
            self.audit_batch(conn, [("audit.chain_close", writer.chain, details)], actor=writer.actor, at=at)

    def main_chain(self, conn: Connection, actor: str) -> ChainWriter:
        """A writer on the ``main`` chain, its head row locked (``FOR UPDATE``) until ``conn``'s transaction ends."""
        head = conn.execute(
            select(s.audit_chains.c.seq, s.audit_chains.c.hash)
            .where(s.audit_chains.c.chain == s.MAIN_CHAIN)
            .with_for_update()
        ).one()
        return ChainWriter(s.MAIN_CHAIN, int(head.seq), str(head.hash), actor)

    @abc.abstractmethod
    def append_chain(self, conn: Connection, appended: ChainAppend) -> None:
        """Insert prepared chain entries and move the chain's head, in ``conn``'s transaction.

        Implemented by the facade beside the bulk insert statements it shares with the issuing path.
        """

    def audit_entries(self, *, since: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
        """Entries in storage order (each chain's entries in its own order), streamed."""
        q = select(s.audit_log).where(s.audit_log.c.seq > since).order_by(s.audit_log.c.seq)
        if limit is not None:
            q = q.limit(limit)
        with self.reading() as conn:
            for row in conn.execution_options(yield_per=2000).execute(q):
                yield AuditEntry(**row._mapping)

    def verify_audit(self) -> AuditReport:
        """Check every chain, its head, the chain registry and every licence row against the log."""
        with self.reading() as conn:
            head = conn.execute(select(s.audit_head.c.seq, s.audit_head.c.hash)).one()
            heads = {str(r.chain): (int(r.seq), str(r.hash)) for r in conn.execute(select(s.audit_chains))}
            entries = (
                AuditEntry(**r._mapping)
                for r in conn.execution_options(yield_per=2000).execute(select(s.audit_log).order_by(s.audit_log.c.seq))
            )
            rows = [
                (r.id, hashlib.sha256(bytes(r.full_payload)).hexdigest(), r.status)
                for r in conn.execute(select(s.licences.c.id, s.licences.c.full_payload, s.licences.c.status))
            ]
            return verify_chain(entries, (int(head.seq), str(head.hash)), rows, heads, s.MAIN_CHAIN)
