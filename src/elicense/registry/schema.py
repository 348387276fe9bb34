"""The registry schema (SQLAlchemy Core) and its small versioned migration scheme.

One schema serves SQLite (the embedded default) and PostgreSQL (several
machines issuing into one registry). Only portable column types are used:
dates and instants are ISO-8601 text (instants always UTC, ``...Z``), blobs are
``LargeBinary``. Migrations are a numbered list of functions; ``schema_version``
records what was applied, and applying is serialised (SQLite write lock,
PostgreSQL advisory lock) so that several workers may open a fresh registry at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", String(32), nullable=False),
)

issuer_keys = Table(
    "issuer_keys",
    metadata,
    Column("authority_code", String(18), primary_key=True),
    Column("kid", String(16), primary_key=True),  # hex of the 8-byte key id
    Column("cert_pem", Text, nullable=False),
    Column("key_ref", String(512), nullable=False),  # a reference (path / URI), never key bytes
    Column("registered_at", String(32), nullable=False),
    Column("retired_at", String(32)),
)

seals = Table(
    "seals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("authority_code", String(18), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kid", String(16)),
    Column("registered_at", String(32), nullable=False),
    UniqueConstraint("authority_code", "name", name="uq_seal_authority_name"),
)

status_lists = Table(
    "status_lists",
    metadata,
    Column("authority_code", String(18), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
)

status_indexes = Table(
    "status_indexes",
    metadata,
    Column("authority_code", String(18), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("licence_id", String(128)),
    Column("allocated_at", String(32), nullable=False),
)

licences = Table(
    "licences",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("type_code", String(21), nullable=False),
    Column("authority_code", String(18), nullable=False),
    Column("serial", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("number", String(64), nullable=False),
    Column("holder_name", String(200), nullable=False),
    Column("holder_code", String(64), nullable=False),
    Column("holder_type", String(3), nullable=False),
    Column("issued_on", String(10), nullable=False),
    Column("valid_from", String(10), nullable=False),
    Column("valid_until", String(10)),
    Column("status", String(16), nullable=False),
    Column("status_index", Integer),
    Column("source_id", String(128)),
    Column("supersedes", String(128)),  # predecessor: the licence this one replaces
    Column("successor", String(128)),  # the licence that superseded this one (schema v2)
    Column("kid", String(16), nullable=False),
    Column("record_json", Text, nullable=False),
    Column("full_payload", LargeBinary, nullable=False),
    Column("qr_payload", Text, nullable=False),
    Column("digest", String(64), nullable=False),  # SHA-256 hex of full_payload
    Column("signed_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("authority_code", "type_code", "source_id", name="uq_licence_source"),
    UniqueConstraint("authority_code", "status_index", name="uq_licence_status_index"),
)
Index("ix_licences_holder_code", licences.c.holder_code)
Index("ix_licences_type_status", licences.c.type_code, licences.c.status)

status_events = Table(
    "status_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("licence_id", String(128), ForeignKey("licences.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("previous", String(16)),
    Column("reason", String(256)),
    Column("at", String(32), nullable=False),  # recorded (v1 rows: effective = recorded)
    Column("actor", String(128), nullable=False),
    Column("effective_at", String(32)),  # when it takes legal effect; may be later than ``at`` (schema v2)
    Column("successor", String(128)),  # for a supersession (schema v2)
)
Index("ix_status_events_licence", status_events.c.licence_id)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("chain", String(64)),  # schema v3: the writer chain (NULL: the single chain of v1/v2 registries)
    Column("chain_seq", BigInteger().with_variant(Integer, "sqlite")),  # position in that chain, from 1
)
Index("ix_audit_log_chain", audit_log.c.chain, audit_log.c.chain_seq, unique=True)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_chains = Table(
    "audit_chains",
    metadata,
    Column("chain", String(64), primary_key=True),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("opened_at", String(32), nullable=False),
)
"""Schema v3: the head (last position and hash) of each writer chain (see ``specs/audit-log.md``)."""

MAIN_CHAIN = "main"
"""The chain of single writes (status changes, keys, seals) and of every other chain's opening and closing."""

_SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)

_PG_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION elicense_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION elicense_audit_append_only()",
)


def _v1(conn: Connection) -> None:
    """Initial schema: every table, the audit genesis head, append-only triggers."""
    metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t is not schema_version])
    conn.execute(audit_head.insert().values(id=1, seq=0, hash="0" * 64))
    statements = _PG_APPEND_ONLY if conn.dialect.name == "postgresql" else _SQLITE_APPEND_ONLY
    for stmt in statements:
        conn.execute(text(stmt))


_V2_COLUMNS = (
    ("status_events", "effective_at", "VARCHAR(32)"),
    ("status_events", "successor", "VARCHAR(128)"),
    ("licences", "successor", "VARCHAR(128)"),
)


def _v2(conn: Connection) -> None:
    """Effective time and successor of status events; successor of licences.

    Registries created by v1 code get the columns by ``ALTER TABLE ... ADD COLUMN``
    (nullable, so portable and instant); registries created by later code already
    have them from :func:`_v1` (the metadata grew), hence the column check. Old rows
    are back-filled: a v1 event's ``at`` was its effective time, and a supersession
    kept its successor in the reason JSON (``{"s": id}``).
    """
    inspector = inspect(conn)
    for table, column, sql_type in _V2_COLUMNS:
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
    conn.execute(
        status_events.update().where(status_events.c.effective_at.is_(None)).values(effective_at=status_events.c.at)
    )
    rows = conn.execute(
        select(status_events.c.id, status_events.c.licence_id, status_events.c.reason).where(
            status_events.c.status == "superseded", status_events.c.successor.is_(None)
        )
    ).all()
    for event_id, licence_id, stored in rows:
        try:
            successor = json.loads(stored or "").get("s")
        except (ValueError, AttributeError):
            successor = None
        if isinstance(successor, str) and successor:
            conn.execute(status_events.update().where(status_events.c.id == event_id).values(successor=successor))
            conn.execute(licences.update().where(licences.c.id == licence_id).values(successor=successor))


def _v3(conn: Connection) -> None:
    """Per-writer audit chains: ``audit_log.chain``/``chain_seq``, the ``audit_chains`` heads, the ``main`` chain.

    Entries of v1/v2 keep ``chain`` NULL and stay verifiable as the one chain they were (head
    ``audit_head`` 1); new entries go to a chain. The global ``seq`` becomes a storage order given by
    the database (SQLite rowid, a PostgreSQL sequence), so writers of different chains share no lock.
    """
    inspector = inspect(conn)
    have = {c["name"] for c in inspector.get_columns("audit_log")}
    for column, sql_type in (("chain", "VARCHAR(64)"), ("chain_seq", "BIGINT")):
        if column not in have:
            conn.execute(text(f"ALTER TABLE audit_log ADD COLUMN {column} {sql_type}"))
    if "ix_audit_log_chain" not in {i["name"] for i in inspector.get_indexes("audit_log")}:
        conn.execute(text("CREATE UNIQUE INDEX ix_audit_log_chain ON audit_log (chain, chain_seq)"))
    audit_chains.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        conn.execute(text("CREATE SEQUENCE IF NOT EXISTS audit_log_seq_gen OWNED BY audit_log.seq"))
        conn.execute(
            text("SELECT setval('audit_log_seq_gen', (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log), false)")
        )
        conn.execute(text("ALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('audit_log_seq_gen')"))
    exists = conn.execute(select(audit_chains.c.chain).where(audit_chains.c.chain == MAIN_CHAIN)).first()
    if exists is None:
        conn.execute(audit_chains.insert().values(chain=MAIN_CHAIN, seq=0, hash="0" * 64, opened_at=""))


LICENCE_TOAST_TUPLE_TARGET = 8160
"""PostgreSQL: licence rows up to this size stay in the table's page, uncompressed (its largest allowed value).

A licence row is ~2.3 KiB (the signed record, its JSON, the QR text); past PostgreSQL's default 2 KiB
target every insert tries ``pglz`` on its widest columns and moves them to the TOAST table: a fifth of
the server's time per bulk transaction, to save a sixth of the space of data that is mostly signatures
and CBOR (``benchmarks/bench_registry.py``)."""


def _v4(conn: Connection) -> None:
    """PostgreSQL: licence rows inline and uncompressed (:data:`LICENCE_TOAST_TUPLE_TARGET`); rows
    already stored keep their form until rewritten. Nothing to do on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE licences SET (toast_tuple_target = {LICENCE_TOAST_TUPLE_TARGET})"))


MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = ((1, _v1), (2, _v2), (3, _v3), (4, _v4))
"""Ordered (version, apply) pairs; append new versions, never edit applied ones."""

LATEST = MIGRATIONS[-1][0]
"""The schema version this code writes."""
