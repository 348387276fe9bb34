"""The registry (电子证照库): issued licences, status, keys, seals and the audit log.

:class:`Registry` wraps a SQLAlchemy engine. Every write happens in one
transaction together with its audit entry, so the log and the data can never
disagree after a crash. On SQLite each write transaction starts with
``BEGIN IMMEDIATE`` (one writer at a time, no lost updates between worker
processes; WAL keeps readers going); on PostgreSQL the audit head row is locked
``FOR UPDATE`` and unique constraints catch concurrent duplicates.

Time and actor are parameters of every write: the registry never reads the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Connection, Engine, bindparam, create_engine, event, func, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from elicense import _crashpoint
from elicense.errors import ElicenseError, StorageError, UsageError
from elicense.model import LicenceStatus, require_utc
from elicense.registry import schema as s
from elicense.registry.audit import (
    GENESIS,
    AuditEntry,
    AuditReport,
    canonical_details,
    chain_entry_hash,
    verify_chain,
)

STATUS_LIST_SIZE = 131_072
"""Initial (and minimum) status-list length per authority: herd privacy."""
MAX_FILL = 0.5
"""A list doubles once this share of its indexes is allocated (random draws stay cheap)."""


class RegistryError(ElicenseError):
    """The registry refused an operation (unknown licence, bad transition, duplicate)."""

    code = "registry"


class StatusTransitionError(RegistryError):
    """The requested status change is not allowed from the current status."""

    code = "status_transition"


class DuplicateLicence(RegistryError):
    """A licence with this id or (authority, type, source id) is already registered."""

    code = "duplicate_licence"


class MissingStatusIndex(RegistryError):
    """A licence without a status-list index: no revocation of it could ever reach a verifier (#16)."""

    code = "status_index_missing"


def _require_status_index(licence: Any) -> None:
    """Refuse a licence that was signed without a status index (it cannot be added after signing)."""
    if licence.status_index is None:
        lid = str(licence.id)
        raise MissingStatusIndex(
            f"licence {lid} has no status index: a revocation or suspension of it could never reach a verifier; "
            "sign it with one (LicenceBuilder.status_index(), Registry.allocate_status_index)",
            message_zh=f"证照 {lid} 未分配状态列表索引，吊销或暂扣将无法生效；请在签名前分配索引",
            details={"licence_id": lid},
        )


ALLOWED_TRANSITIONS: Mapping[LicenceStatus, frozenset[LicenceStatus]] = {
    LicenceStatus.VALID: frozenset({LicenceStatus.SUSPENDED, LicenceStatus.REVOKED, LicenceStatus.SUPERSEDED}),
    LicenceStatus.SUSPENDED: frozenset({LicenceStatus.VALID, LicenceStatus.REVOKED, LicenceStatus.SUPERSEDED}),
    LicenceStatus.REVOKED: frozenset(),
    LicenceStatus.SUPERSEDED: frozenset(),
}
"""Lifecycle: revoked and superseded are final; suspended can be reinstated."""

_ACTION_FOR = {
    LicenceStatus.VALID: "licence.reinstate",
    LicenceStatus.SUSPENDED: "licence.suspend",
    LicenceStatus.REVOKED: "licence.revoke",
    LicenceStatus.SUPERSEDED: "licence.supersede",
}


def iso(when: dt.datetime) -> str:
    """UTC instant as stored: ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    return require_utc(when).replace(tzinfo=None).isoformat() + "Z"


def parse_iso(value: str) -> dt.datetime:
    """Inverse of :func:`iso` (stored strings compare wrongly as text: ``.5Z`` < ``Z``)."""
    return dt.datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=dt.UTC)


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path).resolve()}"


@dataclass(frozen=True)
class LicenceRecord:
    """A licence as stored in the registry."""

    id: str
    """GB/T 36904 licence identifier."""
    type_code: str
    """Licence type code."""
    authority_code: str
    """Issuing authority's code."""
    number: str
    """证照编号."""
    holder_name: str
    """Holder's name (full, not masked: the registry is the issuer's own store)."""
    holder_code: str
    """Holder's code (USCC / resident id)."""
    holder_type: str
    """GB/T 36903 holder code type."""
    issued_on: str
    """Issue date (ISO)."""
    valid_from: str
    """First valid day (ISO)."""
    valid_until: str | None
    """Last valid day (ISO), ``None`` for long-term."""
    status: str
    """Lifecycle status (:class:`LicenceStatus` value)."""
    status_index: int | None
    """Index in the authority's status list."""
    source_id: str | None
    """Business key in the source system."""
    supersedes: str | None
    """Id of the licence this one replaces."""
    kid: str
    """Hex key id of the signing certificate."""
    signed_at: str
    """Signing instant (UTC ISO)."""
    updated_at: str
    """Last status change (UTC ISO)."""
    qr_payload: str
    """The ``EL2:`` QR text."""
    full_payload: bytes
    """COSE_Sign1 over the full record."""
    record: Mapping[str, Any]
    """The full licence as JSON (``Licence.to_dict``)."""
    successor: str | None = None
    """Id of the licence that superseded this one (schema v2)."""

    @property
    def predecessor(self) -> str | None:
        """Id of the licence this one replaces (the ``supersedes`` column)."""
        return self.supersedes

    def to_issued(self) -> Any:
        """Rebuild the :class:`~elicense.issue.IssuedLicence` (e.g. to render its PDF later)."""
        from elicense.catalog import Catalog
        from elicense.identifiers import LicenceId
        from elicense.issue import IssuedLicence
        from elicense.model import Authority, Holder, HolderType, Licence, Validity

        r = self.record
        lt = Catalog.default().get(self.type_code)
        day = dt.date.fromisoformat
        licence = Licence(
            id=LicenceId.parse(self.id),
            number=self.number,
            holder=Holder(self.holder_name, self.holder_code, HolderType(self.holder_type)),
            issuer=Authority(r["issuer"]["name"], r["issuer"]["code"], r["issuer"]["area_code"]),
            issued_on=day(self.issued_on),
            validity=Validity(day(self.valid_from), day(self.valid_until) if self.valid_until else None),
            fields=lt.validate_fields(r.get("fields", {})),
            supersedes=LicenceId.parse(self.supersedes) if self.supersedes else None,
            status_index=self.status_index,
            source_id=self.source_id,
        )
        signed_at = dt.datetime.fromisoformat(self.signed_at.removesuffix("Z")).replace(tzinfo=dt.UTC)
        return IssuedLicence(licence, self.qr_payload, self.full_payload, signed_at)

    def to_dict(self, *, payloads: bool = False) -> dict[str, Any]:
        """JSON-ready form; ``payloads`` adds the QR text and the base64 full payload."""
        out: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "id",
                "type_code",
                "authority_code",
                "number",
                "holder_name",
                "holder_code",
                "holder_type",
                "issued_on",
                "valid_from",
                "valid_until",
                "status",
                "status_index",
                "source_id",
                "supersedes",
                "successor",
                "kid",
                "signed_at",
                "updated_at",
            )
        }
        out["predecessor"] = self.supersedes
        out["fields"] = dict(self.record.get("fields", {}))
        if payloads:
            import base64

            out["qr_payload"] = self.qr_payload
            out["full_payload_b64"] = base64.b64encode(self.full_payload).decode("ascii")
        return out


@dataclass(frozen=True)
class StatusEntry:
    """One (index → status) pair of an authority's list, for status-list builders."""

    index: int
    """Status-list index."""
    licence_id: str
    """The licence at that index."""
    status: str
    """Its current status."""


def _record(row: Any) -> LicenceRecord:
    m = row._mapping
    return LicenceRecord(
        id=m["id"],
        type_code=m["type_code"],
        authority_code=m["authority_code"],
        number=m["number"],
        holder_name=m["holder_name"],
        holder_code=m["holder_code"],
        holder_type=m["holder_type"],
        issued_on=m["issued_on"],
        valid_from=m["valid_from"],
        valid_until=m["valid_until"],
        status=m["status"],
        status_index=m["status_index"],
        source_id=m["source_id"],
        supersedes=m["supersedes"],
        kid=m["kid"],
        signed_at=m["signed_at"],
        updated_at=m["updated_at"],
        qr_payload=m["qr_payload"],
        full_payload=bytes(m["full_payload"]),
        record=json.loads(m["record_json"]),
        successor=m.get("successor"),
    )


# Constant statements with bound parameters: compiled once, cached by SQLAlchemy (hot path).
_INSERT_INDEX = s.status_indexes.insert()
_INSERT_LICENCE = s.licences.insert()
_BIND_INDEX = (
    s.status_indexes.update()
    .where(
        s.status_indexes.c.authority_code == bindparam("a"),
        s.status_indexes.c.idx == bindparam("i"),
        or_(s.status_indexes.c.licence_id.is_(None), s.status_indexes.c.licence_id == bindparam("lid")),
    )
    .values(licence_id=bindparam("lid"))
)
_TAKEN_SQL = "SELECT idx FROM status_indexes WHERE authority_code = ? AND idx IN (:)"
"""Taken indexes among a list (``(:)`` becomes one placeholder per index): the hot pre-check of bulk issuing."""
SOURCE_LOOKUP = select(s.licences.c.id).where(
    s.licences.c.authority_code == bindparam("a"),
    s.licences.c.type_code == bindparam("t"),
    s.licences.c.source_id == bindparam("sid"),
)
"""Licence id for (authority ``a``, type ``t``, source id ``sid``)."""


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


class Registry:
    """A licence registry on one database (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        """The SQLAlchemy engine (one per process; do not share across ``fork``)."""

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Registry:
        """Open (and migrate) the registry at ``url``; ``create=False`` refuses a missing one."""
        try:
            u = make_url(url)
        except ArgumentError as exc:
            raise UsageError(f"not a database URL: {exc}", message_zh="数据库地址无效") from exc
        if u.get_backend_name() == "sqlite":
            db = u.database or ""
            if not db or db == ":memory:":
                raise UsageError("the registry needs a SQLite file, not an in-memory database")
            path = Path(db)
            if not path.exists():
                if not create:
                    raise StorageError(f"no registry at {path}", message_zh=f"证照库不存在：{path}")
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(u, connect_args={"timeout": 60})
            _sqlite_hooks(engine)
        elif u.get_backend_name() == "postgresql":
            engine = create_engine(u, pool_pre_ping=True)
        else:
            raise UsageError(f"unsupported database {u.get_backend_name()!r} (use sqlite or postgresql)")
        reg = cls(engine)
        try:
            reg.migrate()
        except OperationalError as exc:
            engine.dispose()
            raise StorageError(
                f"cannot open registry {u.render_as_string(hide_password=True)}: {exc.orig}",
                message_zh="无法打开证照库",
            ) from exc
        return reg

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success."""
        try:
            with self.engine.begin() as conn:
                yield conn
                _crashpoint("registry.before_commit")
            _crashpoint("registry.after_commit")
        except IntegrityError as exc:
            raise DuplicateLicence(f"already registered: {exc.orig}", message_zh="证照已登记") from exc
        except OperationalError as exc:
            raise StorageError(f"registry write failed: {exc.orig}", message_zh="证照库写入失败") from exc

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only snapshot (deferred transaction on SQLite)."""
        with self.engine.connect().execution_options(elicense_read=True) as conn, conn.begin():
            yield conn

    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version."""
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7305115)"))
            s.schema_version.create(conn, checkfirst=True)
            current = conn.execute(select(func.max(s.schema_version.c.version))).scalar() or 0
            if current > s.LATEST:
                raise StorageError(
                    f"registry schema version {current} is newer than this elicense ({s.LATEST})",
                    message_zh="证照库版本高于本程序",
                )
            for version, apply in s.MIGRATIONS:
                if version > current:
                    apply(conn)
                    conn.execute(
                        s.schema_version.insert().values(version=version, applied_at=iso(dt.datetime.now(dt.UTC)))
                    )
                    current = version
        return current

    # -- audit ---------------------------------------------------------------------------

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
        head = conn.execute(
            select(s.audit_chains.c.seq, s.audit_chains.c.hash)
            .where(s.audit_chains.c.chain == s.MAIN_CHAIN)
            .with_for_update()
        ).one()
        writer = ChainWriter(s.MAIN_CHAIN, int(head.seq), str(head.hash), actor)
        appended = writer.prepare(items, at=at)
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

    def append_chain(self, conn: Connection, appended: ChainAppend) -> None:
        """Insert prepared chain entries and move the chain's head, in ``conn``'s transaction.

        The head moves only from the position the entries were hashed after (compare-and-set): a
        second writer on the same chain, or a stale in-memory head, aborts the transaction instead
        of forking the chain. The caller advances its writer after the commit (:meth:`ChainWriter.advance`).
        """
        if not appended.rows:
            return
        sql = _BULK_SQL[self.dialect]
        _insert_rows(conn, sql, sql.audit, appended.rows)
        moved = conn.exec_driver_sql(
            sql.move_head, (appended.seq, appended.hash, appended.chain, appended.after_seq, appended.after_hash)
        ).rowcount
        if moved != 1:
            raise StorageError(
                f"audit chain {appended.chain} moved under this writer (another writer on the same chain?)",
                message_zh="审计链头已被改动",
            )

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

    # -- keys and seals ------------------------------------------------------------------

    def register_key(
        self,
        authority_code: str,
        certificate: x509.Certificate,
        key_ref: str,
        *,
        at: dt.datetime,
        actor: str,
        conn: Connection | None = None,
    ) -> str:
        """Record a signing key *reference* (never key material); idempotent. Returns the kid."""
        from elicense.crypto.keys import key_id

        if "PRIVATE KEY" in key_ref:
            raise UsageError("key_ref must be a reference (path or URI), not key material")
        kid = key_id(certificate).hex()
        with self._conn(conn) as c:
            exists = c.execute(
                select(s.issuer_keys.c.kid).where(
                    s.issuer_keys.c.authority_code == authority_code, s.issuer_keys.c.kid == kid
                )
            ).first()
            if exists is None:
                pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
                c.execute(
                    s.issuer_keys.insert().values(
                        authority_code=authority_code,
                        kid=kid,
                        cert_pem=pem,
                        key_ref=key_ref,
                        registered_at=iso(at),
                    )
                )
                self.audit(
                    c,
                    action="key.register",
                    subject=authority_code,
                    actor=actor,
                    at=at,
                    details={
                        "kid": kid,
                        "key_ref": key_ref,
                        "subject": certificate.subject.rfc4514_string(),
                    },
                )
        return kid

    def keys(self, authority_code: str | None = None) -> list[dict[str, Any]]:
        """Registered key references."""
        q = select(s.issuer_keys).order_by(s.issuer_keys.c.authority_code, s.issuer_keys.c.registered_at)
        if authority_code:
            q = q.where(s.issuer_keys.c.authority_code == authority_code)
        with self.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def register_seal(
        self,
        authority_code: str,
        name: str,
        *,
        kid: str | None,
        at: dt.datetime,
        actor: str,
        conn: Connection | None = None,
    ) -> None:
        """Record an authority's seal (name and the key that signs with it); idempotent."""
        with self._conn(conn) as c:
            exists = c.execute(
                select(s.seals.c.id).where(s.seals.c.authority_code == authority_code, s.seals.c.name == name)
            ).first()
            if exists is None:
                c.execute(
                    s.seals.insert().values(authority_code=authority_code, name=name, kid=kid, registered_at=iso(at))
                )
                self.audit(
                    c,
                    action="seal.register",
                    subject=authority_code,
                    actor=actor,
                    at=at,
                    details={"name": name, "kid": kid},
                )

    # -- status indexes ------------------------------------------------------------------

    def status_list_size(self, authority_code: str, *, conn: Connection | None = None) -> int:
        """Current length of the authority's status list (≥ 131,072)."""
        with self._conn(conn, write=False) as c:
            size = c.execute(
                select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code)
            ).scalar()
        return int(size) if size is not None else STATUS_LIST_SIZE

    def allocate_status_index(
        self,
        authority_code: str,
        *,
        at: dt.datetime,
        licence_id: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Draw a random, unused index in the authority's status list and reserve it.

        Runs inside ``conn``'s transaction when given (so a crash before commit frees the
        index again). Collisions are retried; when they show that half of the list is in
        use, the list doubles (indexes already given out keep their meaning).
        """
        with self._conn(conn) as c:
            size = self._ensure_status_list(c, authority_code, at)
            for attempt in range(200):
                idx = secrets.randbelow(size)
                if self.claim_status_index(c, authority_code, idx, licence_id, at=at):
                    return idx
                if attempt % 8 == 7 or attempt == 0:
                    size = self._maybe_grow(c, authority_code, size)
        raise RegistryError(f"status list of {authority_code} is full", message_zh="状态列表已满")

    def claim_status_index(
        self,
        conn: Connection,
        authority_code: str,
        idx: int,
        licence_id: str | None,
        *,
        at: dt.datetime,
    ) -> bool:
        """Reserve a given index (drawn optimistically); ``False`` when it is taken."""
        try:
            with conn.begin_nested():
                conn.execute(
                    _INSERT_INDEX,
                    {"authority_code": authority_code, "idx": idx, "licence_id": licence_id, "allocated_at": iso(at)},
                )
        except IntegrityError:
            return False
        return True

    def ensure_status_list(self, authority_code: str, *, at: dt.datetime) -> int:
        """Create the authority's status list if missing; returns its size."""
        with self.reading() as c:
            size = c.execute(
                select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code)
            ).scalar()
        if size is not None:
            return int(size)
        with self.transaction() as c:
            return self._ensure_status_list(c, authority_code, at)

    def taken_status_bitmap(self, authority_code: str, size: int) -> bytearray:
        """Bitmap (bit ``i`` set: index ``i`` is taken) of the authority's list, read once.

        One bit per index (a 10-million-entry list costs a few MB, not a set of ints), so
        a bulk issuer can draw free indexes without a database round trip per draw.
        """
        bits = bytearray((size + 7) // 8)
        q = select(s.status_indexes.c.idx).where(s.status_indexes.c.authority_code == authority_code)
        with self.reading() as c:
            for (idx,) in c.execution_options(yield_per=20_000).execute(q):
                if idx < size:
                    bits[idx >> 3] |= 1 << (idx & 7)
        return bits

    def lock_authority(self, conn: Connection, authority_code: str) -> None:
        """Serialise the writers of one authority's status list until ``conn``'s transaction ends.

        Only the rare paths take it (growing the list; re-checking a batch that hit a clash): on
        PostgreSQL the authority's ``status_lists`` row ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``
        already is such a lock. The common path relies on the unique constraints instead.
        """
        if self.dialect == "postgresql":
            conn.execute(
                select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code).with_for_update()
            ).first()

    def taken_among(self, conn: Connection, authority_code: str, indexes: Sequence[int]) -> set[int]:
        """Which of ``indexes`` are already taken in the authority's list (one statement, sent as is)."""
        if not indexes:
            return set()
        ph = "?" if self.dialect == "sqlite" else "%s"
        sql = _TAKEN_SQL.replace("?", ph).replace("(:)", "(" + ", ".join([ph] * len(indexes)) + ")")
        return {int(r[0]) for r in conn.exec_driver_sql(sql, (authority_code, *(int(i) for i in indexes)))}

    def sources_among(
        self, conn: Connection, authority_code: str, type_code: str, source_ids: Sequence[str]
    ) -> set[str]:
        """Which of ``source_ids`` the registry already holds for (authority, type) (one statement)."""
        if not source_ids:
            return set()
        q = select(s.licences.c.source_id).where(
            s.licences.c.authority_code == authority_code,
            s.licences.c.type_code == type_code,
            s.licences.c.source_id.in_(bindparam("sids", expanding=True)),
        )
        return {str(r[0]) for r in conn.execute(q, {"sids": list(source_ids)})}

    def grow_status_list(self, conn: Connection, authority_code: str, size: int, *, incoming: int = 0) -> int:
        """Double the list until ``incoming`` more indexes keep it at most half full; returns the size.

        Counts the list once: call it when the caller's own estimate says growth is due.
        """
        return self._maybe_grow(conn, authority_code, size, incoming)

    def add_issued_many(
        self,
        conn: Connection,
        items: Sequence[tuple[Any, Mapping[str, Any]]],
        *,
        kid: str,
        actor: str,
        at: dt.datetime,
    ) -> None:
        """Store freshly issued licences (new status indexes) and their audit entries (``main`` chain) in ``conn``.

        The bulk path of :meth:`add_issued`; bulk issuers with a chain of their own use
        :func:`prepare_issued` and :meth:`insert_issued` (hashing outside the transaction).
        """
        if not items:
            return
        bulk = prepare_issued(items, kid=kid, at=at)
        head = conn.execute(
            select(s.audit_chains.c.seq, s.audit_chains.c.hash)
            .where(s.audit_chains.c.chain == s.MAIN_CHAIN)
            .with_for_update()
        ).one()
        writer = ChainWriter(s.MAIN_CHAIN, int(head.seq), str(head.hash), actor)
        self.insert_issued(conn, bulk, writer.prepare(bulk.audit, at=at))

    def insert_issued(self, conn: Connection, bulk: PreparedIssue, appended: ChainAppend) -> None:
        """Insert prepared licences, their status indexes and audit entries: three ``executemany`` and
        one head update, nothing else, so the write lock is held for as short a time as the database allows.

        The status indexes' primary key and the licences' unique constraints (source id per
        authority and type, status index per authority) are the final guard: a clash raises
        :class:`DuplicateLicence` (through :meth:`transaction`) and nothing of the batch is stored.
        """
        if not bulk.licences:
            return
        sql = _BULK_SQL[self.dialect]
        _insert_rows(conn, sql, sql.indexes, bulk.indexes)
        _insert_rows(conn, sql, sql.licences, bulk.licences)
        self.append_chain(conn, appended)

    def _ensure_status_list(self, c: Connection, authority_code: str, at: dt.datetime) -> int:
        q = select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code)
        size = c.execute(q).scalar()
        if size is not None:
            return int(size)
        try:
            with c.begin_nested():
                c.execute(
                    s.status_lists.insert().values(
                        authority_code=authority_code, size=STATUS_LIST_SIZE, created_at=iso(at)
                    )
                )
        except IntegrityError:  # created concurrently
            return int(c.execute(q).scalar_one())
        return STATUS_LIST_SIZE

    def _maybe_grow(self, c: Connection, authority_code: str, size: int, incoming: int = 0) -> int:
        used = c.execute(
            select(func.count())
            .select_from(s.status_indexes)
            .where(s.status_indexes.c.authority_code == authority_code)
        ).scalar_one()
        if used + incoming < size * MAX_FILL:
            return size
        new = size * 2
        while used + incoming >= new * MAX_FILL:
            new *= 2
        c.execute(
            s.status_lists.update()
            .where(s.status_lists.c.authority_code == authority_code, s.status_lists.c.size == size)
            .values(size=new)
        )
        return int(
            c.execute(
                select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code)
            ).scalar_one()
        )

    def status_entries(self, authority_code: str) -> list[StatusEntry]:
        """Every allocated index of the authority with its licence's current status."""
        q = (
            select(s.licences.c.status_index, s.licences.c.id, s.licences.c.status)
            .where(
                s.licences.c.authority_code == authority_code,
                s.licences.c.status_index.is_not(None),
            )
            .order_by(s.licences.c.status_index)
        )
        with self.reading() as conn:
            return [StatusEntry(int(r[0]), r[1], r[2]) for r in conn.execute(q)]

    # -- licences ------------------------------------------------------------------------

    def add_issued(
        self,
        issued: Any,
        *,
        actor: str,
        at: dt.datetime,
        conn: Connection | None = None,
        details: Mapping[str, Any] | None = None,
        defer_audit: list[tuple[str, str, dict[str, Any]]] | None = None,
    ) -> None:
        """Store an :class:`~elicense.issue.IssuedLicence` and its audit entry.

        Its status index, when set, must have come from :meth:`allocate_status_index` /
        :meth:`claim_status_index` (it is bound to the licence here) or be new (it is
        reserved here). With ``defer_audit`` the entry is appended to that list, for one
        :meth:`audit_batch` at the end of the transaction (the audit head is locked only
        for that short moment, which lets PostgreSQL workers run in parallel).
        """
        lic = issued.licence
        _require_status_index(lic)
        lid = str(lic.id)
        digest = hashlib.sha256(issued.full_payload).hexdigest()
        from elicense.qr.cose import parse_sign1

        kid = parse_sign1(issued.full_payload).kid.hex()
        with self._conn(conn) as c:
            if lic.status_index is not None:
                key = {"a": lic.issuer.code, "i": lic.status_index, "lid": lid}
                if not c.execute(_BIND_INDEX, key).rowcount:
                    c.execute(
                        _INSERT_INDEX,
                        {"authority_code": lic.issuer.code, "idx": lic.status_index, "licence_id": lid,
                         "allocated_at": iso(at)},
                    )  # fmt: skip
            row, entry = _issued_row(issued, kid, digest, iso(at), details or {})
            c.execute(_INSERT_LICENCE, row)
            if defer_audit is not None:
                defer_audit.append(("licence.issue", lid, entry))
            else:
                self.audit(c, action="licence.issue", subject=lid, actor=actor, at=at, details=entry)

    def get(self, licence_id: str) -> LicenceRecord | None:
        """The licence with this id."""
        with self.reading() as conn:
            row = conn.execute(select(s.licences).where(s.licences.c.id == licence_id)).first()
        return _record(row) if row is not None else None

    def find_source(self, authority_code: str, type_code: str, source_id: str) -> LicenceRecord | None:
        """The licence issued for a source-system business key."""
        with self.reading() as conn:
            row = conn.execute(
                select(s.licences).where(
                    s.licences.c.authority_code == authority_code,
                    s.licences.c.type_code == type_code,
                    s.licences.c.source_id == source_id,
                )
            ).first()
        return _record(row) if row is not None else None

    def issued_sources(self, authority_code: str, type_code: str) -> dict[str, str]:
        """source id → licence id of everything already issued for (authority, type)."""
        with self.reading() as conn:
            return {
                r[0]: r[1]
                for r in conn.execute(
                    select(s.licences.c.source_id, s.licences.c.id).where(
                        s.licences.c.authority_code == authority_code,
                        s.licences.c.type_code == type_code,
                        s.licences.c.source_id.is_not(None),
                    )
                )
            }

    def query(
        self,
        *,
        type_code: str | None = None,
        holder_code: str | None = None,
        status: str | None = None,
        authority_code: str | None = None,
        source_id: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[LicenceRecord]:
        """Licences matching every given filter, in id order."""
        q = select(s.licences).order_by(s.licences.c.id).offset(offset)
        for col, value in (
            (s.licences.c.type_code, type_code),
            (s.licences.c.holder_code, holder_code),
            (s.licences.c.status, status),
            (s.licences.c.authority_code, authority_code),
            (s.licences.c.source_id, source_id),
        ):
            if value is not None:
                q = q.where(col == value)
        if limit is not None:
            q = q.limit(limit)
        with self.reading() as conn:
            return [_record(r) for r in conn.execute(q)]

    def count(self, **filters: str | None) -> int:
        """Number of licences matching ``filters`` (same names as :meth:`query`)."""
        q = select(func.count()).select_from(s.licences)
        for name, value in filters.items():
            if value is not None:
                q = q.where(s.licences.c[name] == value)
        with self.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def set_status(
        self,
        licence_id: str,
        status: LicenceStatus | str,
        reason: str | None,
        at: dt.datetime,
        actor: str,
        *,
        conn: Connection | None = None,
        effective_at: dt.datetime | None = None,
        successor: str | None = None,
    ) -> LicenceRecord:
        """Change a licence's status (with a status event and an audit entry, one transaction).

        ``at`` is when the change is recorded; ``effective_at`` (default ``at``) when it
        takes legal effect, earlier (back-dated) or later (scheduled). The ``status``
        column is the latest *recorded* status; :meth:`status_at` gives the one in
        effect at a time. ``successor`` (for a supersession) is stored on the event and
        on the licence row.
        """
        new = LicenceStatus(status)
        if reason is not None and len(reason) > 256:
            raise UsageError("reason is longer than 256 characters")
        if successor is not None and (new is not LicenceStatus.SUPERSEDED or len(successor) > 128):
            raise UsageError("only a supersession names a successor (an id of at most 128 characters)")
        effective = at if effective_at is None else effective_at
        with self._conn(conn) as c:
            row = c.execute(
                select(s.licences.c.status, s.licences.c.status_index)
                .where(s.licences.c.id == licence_id)
                .with_for_update()
            ).first()
            if row is None:
                raise RegistryError(f"no licence {licence_id}", message_zh=f"证照不存在：{licence_id}")
            if row.status_index is None:  # a row from before #16: the change could never be published
                raise MissingStatusIndex(
                    f"licence {licence_id} has no status index: its status cannot be changed in a way verifiers "
                    "would see; re-issue it with a status index and revoke this one by superseding it offline",
                    message_zh=f"证照 {licence_id} 没有状态列表索引，状态变更无法被校验方获知；请重新签发带索引的证照",
                    details={"licence_id": licence_id},
                )
            old = LicenceStatus(row.status)
            if new not in ALLOWED_TRANSITIONS[old]:
                raise StatusTransitionError(
                    f"cannot change {licence_id} from {old.value} to {new.value}",
                    message_zh=f"证照状态不能从 {old.value} 变为 {new.value}",
                    details={"from": old.value, "to": new.value},
                )
            values: dict[str, Any] = {"status": new.value, "updated_at": iso(at)}
            if successor is not None:
                values["successor"] = successor
            c.execute(s.licences.update().where(s.licences.c.id == licence_id).values(**values))
            c.execute(
                s.status_events.insert().values(
                    licence_id=licence_id,
                    status=new.value,
                    previous=old.value,
                    reason=reason,
                    at=iso(at),
                    actor=actor,
                    effective_at=iso(effective),
                    successor=successor,
                )
            )
            details: dict[str, Any] = {"from": old.value, "to": new.value, "reason": reason,
                                       "effective_at": iso(effective)}  # fmt: skip
            if successor is not None:
                details["successor"] = successor
            self.audit(c, action=_ACTION_FOR[new], subject=licence_id, actor=actor, at=at, details=details)
        record = self.get(licence_id) if conn is None else None
        if record is None:
            with self._conn(conn, write=False) as c:
                record = _record(c.execute(select(s.licences).where(s.licences.c.id == licence_id)).one())
        return record

    def status_at(self, licence_id: str, when: dt.datetime) -> dict[str, Any] | None:
        """The status in effect at ``when``: ``{status, since, reason, successor}``.

        ``None`` when the licence was not yet signed then; a change recorded but
        effective later (scheduled) is not in effect before its effective time.
        """
        record = self.get(licence_id)
        if record is None:
            raise RegistryError(f"no licence {licence_id}", message_zh=f"证照不存在：{licence_id}")
        moment = require_utc(when, "when")
        if parse_iso(record.signed_at) > moment:
            return None
        out: dict[str, Any] = {"status": LicenceStatus.VALID.value, "since": record.signed_at, "reason": None,
                               "successor": None}  # fmt: skip
        for e in self.status_events(licence_id):
            if parse_iso(e["effective_at"] or e["at"]) <= moment:
                out = {"status": e["status"], "since": e["effective_at"], "reason": e["reason"],
                       "successor": e["successor"]}  # fmt: skip
        return out

    def status_events(self, licence_id: str) -> list[dict[str, Any]]:
        """The licence's status history, oldest first (``at`` recorded, ``effective_at`` in effect)."""
        with self.reading() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(s.status_events)
                    .where(s.status_events.c.licence_id == licence_id)
                    .order_by(s.status_events.c.id)
                )
            ]

    # -- helpers -------------------------------------------------------------------------

    @contextmanager
    def _conn(self, conn: Connection | None, *, write: bool = True) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        elif write:
            with self.transaction() as c:
                yield c
        else:
            with self.reading() as c:
                yield c


def _ensure_wal(cur: sqlite3.Cursor, *, deadline_s: float = 60.0) -> None:
    """Switch the file to WAL once; retry while another connection holds it.

    ``PRAGMA journal_mode`` can answer SQLITE_BUSY without calling the busy handler (a
    connection closing the last handle checkpoints and removes the WAL under an exclusive
    lock), so several batch workers opening one file at the same moment need a bounded retry.
    """
    stop = time.monotonic() + deadline_s
    delay = 0.005
    while True:
        try:
            mode = cur.execute("PRAGMA journal_mode").fetchone()
            if mode is not None and str(mode[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            transient = "locked" in str(exc) or "busy" in str(exc)
            if not transient or time.monotonic() > stop:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_hooks(engine: Engine) -> None:
    """WAL, NORMAL sync, foreign keys; explicit BEGIN (IMMEDIATE for writes) so savepoints work."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")
        _ensure_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read = conn.get_execution_options().get("elicense_read", False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


__all__ = [
    "ALLOWED_TRANSITIONS",
    "STATUS_LIST_SIZE",
    "ChainAppend",
    "ChainWriter",
    "DuplicateLicence",
    "LicenceRecord",
    "PreparedIssue",
    "Registry",
    "RegistryError",
    "StatusEntry",
    "StatusTransitionError",
    "iso",
    "prepare_issued",
    "sqlite_url",
]


LICENCE_COLUMNS = (
    "id", "type_code", "authority_code", "serial", "version", "number", "holder_name", "holder_code",
    "holder_type", "issued_on", "valid_from", "valid_until", "status", "status_index", "source_id", "supersedes",
    "kid", "record_json", "full_payload", "qr_payload", "digest", "signed_at", "updated_at",
)  # fmt: skip
"""Columns the bulk insert writes, in the order of :class:`PreparedIssue` rows."""


@dataclass(frozen=True)
class _BulkSql:
    """The bulk path's statements in one DB-API parameter style, straight to the driver."""

    indexes: str
    licences: str
    audit: str
    move_head: str
    copy: bool = False
    """Send a batch with ``COPY ... FROM STDIN`` (PostgreSQL: one stream, half the cost of a multi-row
    ``INSERT``) rather than ``executemany`` (SQLite: a C loop in process)."""


def _insert_rows(conn: Connection, sql: _BulkSql, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` with ``statement`` (one of ``sql``'s single-row inserts) in one call.

    A constraint violation raises :class:`DuplicateLicence` either way (``COPY`` bypasses SQLAlchemy,
    so the driver's error is translated here); the transaction is then rolled back whole.
    """
    if not rows:
        return
    if not sql.copy:
        conn.exec_driver_sql(statement, list(rows))
        return
    table_and_columns = statement.removeprefix("INSERT INTO ").partition(" VALUES ")[0]
    raw: Any = conn.connection.dbapi_connection
    try:
        with raw.cursor() as cur, cur.copy(f"COPY {table_and_columns} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.IntegrityError as exc:
        raise DuplicateLicence(f"already registered: {exc}", message_zh="证照已登记") from exc


def _bulk_sql(ph: str, *, copy: bool = False) -> _BulkSql:
    """Statements with placeholder ``ph``: built from the constant column lists only (no outside text)."""
    audit_columns = ("at", "actor", "action", "subject", "details", "prev_hash", "hash", "chain", "chain_seq")

    def insert(table: str, columns: Sequence[str]) -> str:
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([ph] * len(columns))})"  # noqa: S608

    return _BulkSql(
        insert("status_indexes", ("authority_code", "idx", "licence_id", "allocated_at")),
        insert("licences", LICENCE_COLUMNS),
        insert("audit_log", audit_columns),
        "UPDATE audit_chains SET seq = ?, hash = ? WHERE chain = ? AND seq = ? AND hash = ?".replace("?", ph),
        copy,
    )


_BULK_SQL = {"sqlite": _bulk_sql("?"), "postgresql": _bulk_sql("%s", copy=True)}


@dataclass(frozen=True)
class PreparedIssue:
    """Rows of freshly issued licences, built before any transaction (:func:`prepare_issued`)."""

    indexes: list[tuple[str, int, str, str]]
    """``status_indexes`` rows (authority, index, licence id, allocated at)."""
    licences: list[tuple[Any, ...]]
    """``licences`` rows in :data:`LICENCE_COLUMNS` order."""
    audit: list[tuple[str, str, Mapping[str, Any]]]
    """``licence.issue`` audit entries ``(action, subject, details)``."""


def prepare_issued(items: Sequence[tuple[Any, Mapping[str, Any]]], *, kid: str, at: dt.datetime) -> PreparedIssue:
    """Rows and audit entries of freshly issued licences (each must have a status index); pure, no database."""
    when = iso(at)
    out = PreparedIssue([], [], [])
    for issued, details in items:
        lic = issued.licence
        _require_status_index(lic)
        digest = hashlib.sha256(issued.full_payload).hexdigest()
        row, entry = _issued_row(issued, kid, digest, when, details)
        out.indexes.append((row["authority_code"], lic.status_index, row["id"], when))
        out.licences.append(tuple(row[c] for c in LICENCE_COLUMNS))
        out.audit.append(("licence.issue", row["id"], entry))
    return out


_RECORD_JSON = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(..., ensure_ascii=False)`` without building an encoder per licence."""


def _issued_row(
    issued: Any, kid: str, digest: str, when: str, details: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``licences`` row and the ``licence.issue`` audit entry of a freshly issued licence (one place for both
    the single and the bulk path, so they cannot drift)."""
    lic = issued.licence
    row = {
        "id": str(lic.id),
        "type_code": lic.type_code,
        "authority_code": lic.issuer.code,
        "serial": lic.id.serial,
        "version": lic.id.version,
        "number": lic.number,
        "holder_name": lic.holder.name,
        "holder_code": lic.holder.code,
        "holder_type": lic.holder.code_type.value,
        "issued_on": lic.issued_on.isoformat(),
        "valid_from": lic.validity.start.isoformat(),
        "valid_until": lic.validity.end.isoformat() if lic.validity.end else None,
        "status": LicenceStatus.VALID.value,
        "status_index": lic.status_index,
        "source_id": lic.source_id,
        "supersedes": str(lic.supersedes) if lic.supersedes else None,
        "kid": kid,
        "record_json": _RECORD_JSON(lic.to_dict()),
        "full_payload": issued.full_payload,
        "qr_payload": issued.qr_payload,
        "digest": digest,
        "signed_at": iso(issued.signed_at),
        "updated_at": when,
    }
    entry = {"digest": digest, "type_code": lic.type_code, "source_id": lic.source_id,
             "status_index": lic.status_index, "kid": kid, **details}  # fmt: skip
    return row, entry
