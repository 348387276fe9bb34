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
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, or_

from elicense.basics import licence_record
from elicense.errors import StorageError
from elicense.issue import IssuedLicence
from elicense.model import LicenceStatus
from elicense.qr.cose import parse_sign1
from elicense.registry import schema as s
from elicense.registry.auditing import ChainAppend, ChainWriter
from elicense.registry.keys import KeyStore
from elicense.registry.licences import ALLOWED_TRANSITIONS, SOURCE_LOOKUP, LicenceStore
from elicense.registry.records import (
    DuplicateLicence,
    LicenceRecord,
    MissingStatusIndex,
    RegistryError,
    StatusEntry,
    StatusTransitionError,
    WriteConflict,
    iso,
    parse_iso,
    sqlite_url,
)
from elicense.registry.records import require_status_index as _require_status_index
from elicense.registry.status_alloc import MAX_FILL, STATUS_LIST_SIZE, StatusAllocator

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


class Registry(LicenceStore, StatusAllocator, KeyStore):
    """A licence registry on one database (SQLite file or PostgreSQL): the facade over its parts.

    The parts are :class:`~elicense.registry.licences.LicenceStore`,
    :class:`~elicense.registry.status_alloc.StatusAllocator`, :class:`~elicense.registry.keys.KeyStore`
    and :class:`~elicense.registry.auditing.AuditLog` over :class:`~elicense.registry.store.Store`;
    what stays here is the issuing write path, which shares the bulk statements below.
    """

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

    def add_issued_many(
        self,
        conn: Connection,
        items: Sequence[tuple[IssuedLicence, Mapping[str, Any]]],
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
        self.insert_issued(conn, bulk, self.main_chain(conn, actor).prepare(bulk.audit, at=at))

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
        # in index order: two writers that drew the same two indexes wait for each other in the same order,
        # never in a cycle (PostgreSQL makes a second insert of a key wait for the first one's transaction)
        _insert_rows(conn, sql, sql.indexes, sorted(bulk.indexes, key=_INDEX_OF_ROW))
        _insert_rows(conn, sql, sql.licences, bulk.licences)
        self.append_chain(conn, appended)

    def add_issued(
        self,
        issued: IssuedLicence,
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


__all__ = [
    "ALLOWED_TRANSITIONS",
    "MAX_FILL",
    "SOURCE_LOOKUP",
    "STATUS_LIST_SIZE",
    "ChainAppend",
    "ChainWriter",
    "DuplicateLicence",
    "LicenceRecord",
    "MissingStatusIndex",
    "PreparedIssue",
    "Registry",
    "RegistryError",
    "StatusEntry",
    "StatusTransitionError",
    "WriteConflict",
    "iso",
    "parse_iso",
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


def prepare_issued(
    items: Sequence[tuple[IssuedLicence, Mapping[str, Any]]], *, kid: str, at: dt.datetime
) -> PreparedIssue:
    """Rows and audit entries of freshly issued licences (each must have a status index); pure, no database."""
    when = iso(at)
    out = PreparedIssue([], [], [])
    for issued, details in items:
        lic = issued.licence
        index = _require_status_index(lic)
        digest = hashlib.sha256(issued.full_payload).hexdigest()
        row, entry = _issued_row(issued, kid, digest, when, details)
        out.indexes.append((row["authority_code"], index, row["id"], when))
        out.licences.append(_LICENCE_ROW(row))
        out.audit.append(("licence.issue", row["id"], entry))
    return out


_INDEX_OF_ROW = operator.itemgetter(1)
"""A ``status_indexes`` row (authority, index, licence id, allocated at) → its index."""
_LICENCE_ROW = operator.itemgetter(*LICENCE_COLUMNS)
"""A ``licences`` row dict → its values in :data:`LICENCE_COLUMNS` order (one C call per licence)."""
_RECORD_JSON = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(..., ensure_ascii=False)`` without building an encoder per licence."""


def _issued_row(
    issued: IssuedLicence, kid: str, digest: str, when: str, details: Mapping[str, Any]
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
        "record_json": _RECORD_JSON(licence_record(lic)),
        "full_payload": issued.full_payload,
        "qr_payload": issued.qr_payload,
        "digest": digest,
        "signed_at": iso(issued.signed_at),
        "updated_at": when,
    }
    entry = {"digest": digest, "type_code": lic.type_code, "source_id": lic.source_id,
             "status_index": lic.status_index, "kid": kid, **details}  # fmt: skip
    return row, entry
