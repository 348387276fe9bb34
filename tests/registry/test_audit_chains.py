"""Per-writer audit chains (schema v3, ``specs/audit-log.md``): concurrent writers, tampering with
one writer's chain, migration of a single-chain registry, the bulk insert's constraint guard,
kill -9 of a two-worker batch on PostgreSQL, and the bulk signing path's equality with the checked one."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

import registry_support as rs
from elicense.errors import StorageError
from elicense.home import Home
from elicense.registry import Registry, sqlite_url
from elicense.registry.audit import GENESIS, entry_hash
from elicense.registry.core import DuplicateLicence

ELICENSE = str(Path(sys.executable).with_name("elicense"))


@pytest.fixture(params=rs.BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return rs.registry_url(request.param, tmp_path)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return Home.load(rs.demo_home(tmp_path_factory.mktemp("chains") / "home"))


_batch, _tamper, _writer_chains = rs.batch_chains, rs.tamper, rs.writer_chains


def test_two_writer_processes_issue_concurrently_and_audit_verifies(url: str, home: Home) -> None:
    n = 2000  # PARALLEL_PLAN_ROWS: both workers start (to validate rows) before any licence is issued
    assert _batch(home, url, n, chunk=50) == n
    with Registry.open(url) as reg:
        report = reg.verify_audit()
        assert report.ok, report
        chains = _writer_chains(reg)
        assert len(chains) == 2, chains  # one chain per worker process, both used
        main_issued = sum(1 for e in reg.audit_entries() if e.chain == "main" and e.action == "licence.issue")
        assert sum(len(v) for v in chains.values()) + main_issued == n  # main: rows re-checked after a clash
        main = [e for e in reg.audit_entries() if e.chain == "main"]
        assert {e.subject for e in main if e.action == "audit.chain_open"} == set(chains)
        closes = {e.subject: json.loads(e.details) for e in main if e.action == "audit.chain_close"}
        assert set(closes) == set(chains)
        assert all(d["transactions"] >= 1 and d["lock_ms"] >= 0 for d in closes.values())
        assert report.chains == 4  # the pre-v3 chain (empty), main, two writers
    assert _batch(home, url, n, chunk=50) == 0  # idempotent re-run: nothing issued, no chain needed


def test_a_stale_writer_head_aborts_instead_of_forking_the_chain(url: str) -> None:
    with Registry.open(url) as reg:
        w = reg.open_chain(actor="a", at=rs.NOW)
        twin = dataclasses.replace(w)
        first = w.prepare([("key.register", "X", {"n": 1})], at=rs.NOW)
        with reg.transaction() as conn:
            reg.append_chain(conn, first)
        w.advance(first)
        stale = twin.prepare([("key.register", "X", {"n": 2})], at=rs.NOW)
        with pytest.raises((StorageError, DuplicateLicence)), reg.transaction() as conn:
            reg.append_chain(conn, stale)  # the (chain, position) index, else the head's compare-and-set
        assert reg.verify_audit().ok
        assert [e.details for e in reg.audit_entries() if e.chain == w.chain] == ['{"n":1}']


def test_bulk_insert_constraint_guard_stores_nothing_of_the_batch(url: str, home: Home) -> None:
    """A clash in the bulk insert (COPY on PostgreSQL) is a DuplicateLicence and rolls the batch back whole."""
    from elicense.registry import batch as b

    _batch(home, url, 30, workers=1)
    entry = home.authority_for_type("11100000MB0143028R001")
    b._init_worker(b._Job(url, entry, functools.partial(home.signer, entry), "11100000MB0143028R001", rs.NOW, "t"))
    try:
        st = b._STATE
        assert st is not None
        with Registry.open(url) as reg:
            before = reg.count()
            taken = reg.query(limit=1)[0].status_index
        plan = b.plan_batch(rs.csv_bytes([rs.row(i) for i in range(500, 503)]), licence_type=st.licence_type,
                            authority=entry.authority, at=rs.NOW)  # fmt: skip
        prepared = b._sign_all(st, plan.rows, (7, 8, taken))
        from elicense.registry.core import prepare_issued

        bulk = prepare_issued([(p, {}) for p in prepared], kid=st.kid, at=rs.NOW)
        writer = b._chain(st, b._session(st))
        appended = writer.prepare(bulk.audit, at=rs.NOW)
        with pytest.raises(DuplicateLicence), st.registry.transaction() as conn:
            st.registry.insert_issued(conn, bulk, appended)
        with Registry.open(url) as reg:
            assert reg.count() == before
            assert reg.verify_audit().ok
    finally:
        b._close_worker()


def test_single_chain_registry_migrates_and_its_old_entries_stay_verifiable(tmp_path: Path, home: Home) -> None:
    """A v2 registry (one chain, ``audit_head``) opens under v3: old entries verify, new ones go to chains."""
    url = sqlite_url(tmp_path / "v2.sqlite")
    with Registry.open(url) as reg, reg.engine.begin() as conn:  # rebuild what v2 code wrote
        conn.execute(text("DROP INDEX ix_audit_log_chain"))
        conn.execute(text("ALTER TABLE audit_log DROP COLUMN chain"))
        conn.execute(text("ALTER TABLE audit_log DROP COLUMN chain_seq"))
        conn.execute(text("DROP TABLE audit_chains"))
        conn.execute(text("DELETE FROM schema_version WHERE version > 2"))
        prev = GENESIS
        for seq in (1, 2, 3):
            details = json.dumps({"n": seq})
            h = entry_hash(seq, "2026-01-01T00:00:00Z", "old", "key.register", "X", details, prev)
            conn.execute(
                text(
                    "INSERT INTO audit_log VALUES (:s, '2026-01-01T00:00:00Z', 'old', 'key.register', 'X', :d, :p, :h)"
                ),
                {"s": seq, "d": details, "p": prev, "h": h},
            )
            prev = h
        conn.execute(text("UPDATE audit_head SET seq = 3, hash = :h WHERE id = 1"), {"h": prev})
    assert _batch(home, url, 50, workers=1) == 50
    with Registry.open(url) as reg:
        report = reg.verify_audit()
        assert report.ok, report
        entries = list(reg.audit_entries())
        assert [e.chain for e in entries[:3]] == [None, None, None]
        assert all(e.chain is not None for e in entries[3:])
        assert entries[3].seq == 4  # storage order continues after the old chain
        _tamper(reg, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
        report = reg.verify_audit()
        assert not report.ok and report.first_broken_seq == 2 and report.broken_chain is None


def test_kill_9_of_a_two_worker_batch_on_postgresql_then_rerun_is_exactly_once(home: Home, tmp_path: Path) -> None:
    url = rs.registry_url("postgresql", tmp_path)
    n = 3000
    batch = tmp_path / "batch.csv"
    batch.write_bytes(rs.csv_bytes([rs.row(i) for i in range(n)]))
    cmd = [ELICENSE, "issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home.path), "--db", url,
           "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    count = 0
    deadline = time.monotonic() + 120
    with Registry.open(url) as reg:
        while time.monotonic() < deadline and proc.poll() is None and count < 300:
            time.sleep(0.05)
            count = reg.count()
    assert proc.poll() is None, "the batch finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with Registry.open(url) as reg:
        partial = reg.count()
        assert 0 < partial < n
        assert reg.verify_audit().ok  # killed writers leave open chains, each still anchored by its head
    out = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["issued"] + doc["already_issued"] == n and doc["already_issued"] >= partial
    with Registry.open(url) as reg:
        recs = reg.query(limit=None)
        assert len(recs) == n and len({r.source_id for r in recs}) == n and len({r.status_index for r in recs}) == n
        report = reg.verify_audit()
        assert report.ok, report
        assert sum(1 for e in reg.audit_entries() if e.action == "licence.issue") == n


def test_bulk_signing_path_makes_the_same_claims_as_the_checked_path(home: Home) -> None:
    """``unsafe_fields_normalized`` and a precomputed record only skip repeated work: same bytes."""
    from elicense.catalog import Catalog
    from elicense.qr import cbor, claims
    from elicense.qr.base45 import b45encode
    from elicense.qr.cose import parse_sign1, sign1
    from elicense.registry.batch import plan_batch

    entry = home.authority_for_type("11100000MB0143028R001")
    lt = Catalog.default().get(rs.TYPE)
    plan = plan_batch(rs.csv_bytes([rs.row(i) for i in range(20)]), licence_type=lt, authority=entry.authority,
                      at=rs.NOW)  # fmt: skip
    for r in plan.rows:
        lic = dataclasses.replace(r.licence, status_index=r.row * 7)
        record = claims.full_record(lic)
        fast = claims.build_claims(lic, lt, signed_at=rs.NOW, record=record, unsafe_fields_normalized=True)
        assert fast == claims.build_claims(lic, lt, signed_at=rs.NOW)
    signer = home.signer(entry)
    for size in (0, 5, 23, 24, 255, 256, 700, 70_000):
        msg = sign1(b"p" * size, signer, b"k" * 8)
        parts = parse_sign1(msg)
        assert msg == cbor.dumps(cbor.tag(18, [parts.protected, {}, b"p" * size, parts.signature]))
    base45 = pytest.importorskip("base45")
    for data in (b"", b"\x00", bytes(range(256)), os.urandom(301)):
        assert b45encode(data) == base45.b45encode(data).decode()
