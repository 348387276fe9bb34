"""Registry CRUD, status transitions, index allocation and audit tamper detection,
on SQLite and on a real (throwaway, loopback) PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

import registry_support as rs
from elicense.home import Home
from elicense.issue import LicenceBuilder, sign_licence
from elicense.model import Holder, HolderType, LicenceStatus
from elicense.registry import (
    DuplicateLicence,
    Registry,
    RegistryError,
    StatusTransitionError,
    sqlite_url,
)
from elicense.registry.schema import LATEST

ACTOR = "tester"


@pytest.fixture(params=rs.BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return rs.registry_url(request.param, tmp_path)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return Home.load(rs.demo_home(tmp_path_factory.mktemp("h") / "home"))


def _issue(home: Home, reg: Registry, serial: str, *, source: str | None = None, index: int | None = None):
    entry = home.authority_for_type("11100000MB0143028R001")
    b = (
        LicenceBuilder()
        .licence_type("business-licence")
        .serial(serial)
        .holder(Holder("济南测试科技有限公司", "91370102MA3C8K2L65", HolderType.USCC))
        .issuer(entry.authority)
        .issued_on(dt.date(2026, 5, 1))
        .validity(dt.date(2026, 5, 1), None)
        .fields(
            {
                "entity_type": "有限责任公司",
                "legal_representative": "王堃",
                "establishment_date": "2019-03-18",
                "domicile": "济南",
                "business_scope": "软件开发",
            }
        )
    )
    if source:
        b = b.source_id(source)
    idx = index if index is not None else reg.allocate_status_index(entry.code, at=rs.NOW)
    issued = sign_licence(b.status_index(idx).build(), home.signer(entry), at=rs.NOW)
    reg.add_issued(issued, actor=ACTOR, at=rs.NOW)
    return issued


def test_open_is_idempotent_and_versioned(url: str) -> None:
    with Registry.open(url) as reg:
        assert reg.migrate() == LATEST
    with Registry.open(url) as reg:
        assert reg.migrate() == LATEST
        assert reg.verify_audit().ok


def test_new_sqlite_registry_uses_16_kib_pages_and_an_older_file_keeps_its_own(tmp_path: Path, home: Home) -> None:
    import sqlite3

    from elicense.registry.store import SQLITE_PAGE_SIZE

    def page_size(path: Path) -> int:
        with sqlite3.connect(path) as c:
            return int(c.execute("PRAGMA page_size").fetchone()[0])

    with Registry.open(sqlite_url(tmp_path / "new.sqlite")) as reg:
        _issue(home, reg, "P1")
    assert page_size(tmp_path / "new.sqlite") == SQLITE_PAGE_SIZE == 16_384
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as c:  # a registry file made with SQLite's default pages
        c.execute("PRAGMA page_size=4096")
        c.execute("PRAGMA journal_mode=WAL")
    with Registry.open(sqlite_url(old)) as reg:
        issued = _issue(home, reg, "P2")
        assert reg.get(str(issued.licence.id)) is not None and reg.verify_audit().ok
    assert page_size(old) == 4096


def test_missing_sqlite_registry_is_refused(tmp_path: Path) -> None:
    from elicense.errors import StorageError

    with pytest.raises(StorageError):
        Registry.open(sqlite_url(tmp_path / "none.sqlite"), create=False)


def test_crud_and_queries(url: str, home: Home) -> None:
    with Registry.open(url) as reg:
        issued = _issue(home, reg, "A1", source="SRC-1")
        _issue(home, reg, "A2", source="SRC-2")
        lid = str(issued.licence.id)
        rec = reg.get(lid)
        assert rec is not None and rec.status == "valid" and rec.source_id == "SRC-1"
        assert rec.qr_payload == issued.qr_payload and rec.full_payload == issued.full_payload
        assert rec.to_issued().licence == issued.licence
        assert reg.count() == 2
        assert [r.id for r in reg.query(source_id="SRC-2")] == [
            str(reg.find_source(issued.licence.issuer.code, issued.licence.type_code, "SRC-2").id)
        ]  # type: ignore[union-attr]
        assert len(reg.query(holder_code="91370102MA3C8K2L65")) == 2
        assert reg.query(type_code="nope") == []
        assert reg.issued_sources(issued.licence.issuer.code, issued.licence.type_code).keys() == {"SRC-1", "SRC-2"}
        with pytest.raises(DuplicateLicence):
            _issue(home, reg, "A3", source="SRC-1")  # same business key
        with pytest.raises(DuplicateLicence):
            _issue(home, reg, "A4", index=rec.status_index)  # same status index
        assert reg.count() == 2
        assert reg.verify_audit().ok


def test_status_transitions(url: str, home: Home) -> None:
    with Registry.open(url) as reg:
        lid = str(_issue(home, reg, "T1").licence.id)
        later = rs.NOW + dt.timedelta(days=1)
        assert reg.set_status(lid, LicenceStatus.SUSPENDED, "暂扣", later, ACTOR).status == "suspended"
        assert reg.set_status(lid, "valid", None, later, ACTOR).status == "valid"
        assert reg.set_status(lid, "revoked", "吊销", later, ACTOR).status == "revoked"
        with pytest.raises(StatusTransitionError):
            reg.set_status(lid, "valid", None, later, ACTOR)
        with pytest.raises(RegistryError):
            reg.set_status("1.2.156.3005.2.nope", "revoked", None, later, ACTOR)
        events = reg.status_events(lid)
        assert [(e["previous"], e["status"]) for e in events] == [
            ("valid", "suspended"),
            ("suspended", "valid"),
            ("valid", "revoked"),
        ]
        actions = [e.action for e in reg.audit_entries()]
        assert actions[-3:] == ["licence.suspend", "licence.reinstate", "licence.revoke"]
        assert reg.status_entries(home.authority_for_type("11100000MB0143028R001").code)[0].status == "revoked"
        assert reg.verify_audit().ok


def test_status_index_allocation_is_random_and_unique(url: str) -> None:
    with Registry.open(url) as reg:
        with reg.transaction() as conn:
            got = [reg.allocate_status_index("370100", at=rs.NOW, conn=conn) for _ in range(3000)]
        assert len(set(got)) == 3000
        assert all(0 <= i < 131_072 for i in got)
        assert reg.status_list_size("370100") == 131_072
        assert max(got) > 100_000 and min(got) < 30_000  # spread over the list, not sequential


def test_key_references_only(url: str, home: Home) -> None:
    from elicense.errors import UsageError

    entry = home.authorities[0]
    cert = home.certificates(entry.cert)[0]
    with Registry.open(url) as reg:
        kid = reg.register_key(entry.code, cert, entry.key, at=rs.NOW, actor=ACTOR)
        assert reg.register_key(entry.code, cert, entry.key, at=rs.NOW, actor=ACTOR) == kid
        with pytest.raises(UsageError):
            reg.register_key(entry.code, cert, "-----BEGIN PRIVATE KEY-----", at=rs.NOW, actor=ACTOR)
        (k,) = reg.keys(entry.code)
        assert k["key_ref"] == entry.key and "PRIVATE" not in k["cert_pem"]
        assert sum(1 for e in reg.audit_entries() if e.action == "key.register") == 1


# --------------------------------------------------------------------------- tampering


def _tamper(reg: Registry, sql: str) -> None:
    """Bypass the append-only triggers, as an attacker with database access would."""
    with reg.engine.begin() as conn:
        if reg.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(text(sql))


def _filled(url: str, home: Home, n: int = 5) -> Registry:
    reg = Registry.open(url)
    for i in range(n):
        _issue(home, reg, f"X{i}")
    assert reg.verify_audit().ok
    return reg


def test_audit_log_refuses_update_and_delete(url: str, home: Home) -> None:
    from sqlalchemy.exc import DBAPIError

    with _filled(url, home, 2) as reg:
        with pytest.raises(DBAPIError), reg.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
        with pytest.raises(DBAPIError), reg.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        assert reg.verify_audit().ok


def test_audit_detects_modified_entry(url: str, home: Home) -> None:
    with _filled(url, home) as reg:
        _tamper(reg, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        report = reg.verify_audit()
        assert not report.ok and report.first_broken_seq == 3 and "modified" in str(report.problem)


def test_audit_detects_rehashed_entry(url: str, home: Home) -> None:
    """Recomputing the tampered entry's own hash (its chain's formula) breaks the next link instead."""
    import dataclasses

    with _filled(url, home) as reg:
        e = next(x for x in reg.audit_entries() if x.seq == 2)
        forged = dataclasses.replace(e, actor="mallory").expected_hash()
        _tamper(reg, f"UPDATE audit_log SET actor = 'mallory', hash = '{forged}' WHERE seq = 2")
        report = reg.verify_audit()
        assert not report.ok and report.first_broken_seq == 3


def test_audit_detects_deleted_entry_and_truncation(url: str, home: Home) -> None:
    with _filled(url, home) as reg:
        _tamper(reg, "DELETE FROM audit_log WHERE seq = 4")
        report = reg.verify_audit()
        assert not report.ok and report.first_broken_seq == 5 and "gap" in str(report.problem)
    with _filled(rs.pg_database() if url.startswith("postgresql") else url + "2", home) as reg:
        last = reg.verify_audit().entries
        _tamper(reg, f"DELETE FROM audit_log WHERE seq = {last}")
        report = reg.verify_audit()
        assert not report.ok and "head" in str(report.problem)


def test_audit_detects_licence_rows_changed_behind_its_back(url: str, home: Home) -> None:
    with _filled(url, home, 3) as reg:
        victim = reg.query(limit=1)[0].id
        _tamper(reg, f"UPDATE licences SET status = 'revoked' WHERE id = '{victim}'")
        report = reg.verify_audit()
        assert not report.ok and report.first_broken_seq is None
        assert any(victim in p and "status" in p for p in report.licence_problems)
        _tamper(reg, f"DELETE FROM status_indexes WHERE licence_id = '{victim}'")
        _tamper(reg, f"DELETE FROM licences WHERE id = '{victim}'")
        assert any("missing from the registry" in p for p in reg.verify_audit().licence_problems)


def test_workers_opening_one_file_at_once_retry_a_busy_journal_switch() -> None:
    """``PRAGMA journal_mode`` may answer "database is locked" without the busy handler: retry, bounded."""
    import sqlite3

    from elicense.registry.store import _ensure_wal

    class Busy:
        calls = 0

        def execute(self, sql: str) -> Busy:
            Busy.calls += 1
            if Busy.calls <= 2:
                raise sqlite3.OperationalError("database is locked")
            return self

        def fetchone(self) -> tuple[str]:
            return ("wal",)

    _ensure_wal(Busy(), deadline_s=5)  # type: ignore[arg-type]
    assert Busy.calls == 3

    class Broken(Busy):
        def execute(self, sql: str) -> Busy:
            raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _ensure_wal(Broken(), deadline_s=5)  # type: ignore[arg-type]

    class AlwaysBusy(Busy):
        def execute(self, sql: str) -> Busy:
            raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _ensure_wal(AlwaysBusy(), deadline_s=0.05)  # type: ignore[arg-type]


def test_postgresql_keeps_licence_rows_inline_uncompressed(url: str) -> None:
    """Schema v4: PostgreSQL stores a licence row (~2.3 KiB) in its page, not compressed into TOAST on every
    insert; a v3 registry gets the setting when it is opened. SQLite has nothing to change."""
    from sqlalchemy import text

    from elicense.registry.schema import LICENCE_TOAST_TUPLE_TARGET

    with Registry.open(url) as reg:
        assert reg.migrate() == LATEST == 4
        if reg.dialect != "postgresql":
            return
        want = f"toast_tuple_target={LICENCE_TOAST_TUPLE_TARGET}"
        query = text("SELECT reloptions FROM pg_class WHERE relname = 'licences'")
        with reg.engine.begin() as conn:
            assert want in conn.execute(query).scalar_one()
            conn.execute(text("ALTER TABLE licences RESET (toast_tuple_target)"))
            conn.execute(text("DELETE FROM schema_version WHERE version > 3"))
            assert conn.execute(query).scalar_one() is None
    with Registry.open(url) as reg:
        assert reg.migrate() == 4
        with reg.engine.connect() as conn:
            assert want in conn.execute(query).scalar_one()
