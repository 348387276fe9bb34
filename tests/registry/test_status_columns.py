"""Registry schema v2: effective times, successor/predecessor links, status at a time, migration of v1 homes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import text

import registry_support as rs
from elicense.home import Home
from elicense.issue import LicenceBuilder, sign_licence
from elicense.model import Holder, HolderType
from elicense.registry import Registry, sqlite_url
from elicense.registry.schema import LATEST
from elicense.services.status import change_status, licence_state, list_entries, pending_and_entries
from elicense.status.lifecycle import Action, IllegalTransition

ACTOR = "tester"
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return Home.load(rs.demo_home(tmp_path_factory.mktemp("h") / "home"))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "registry.sqlite")


def _issue(home: Home, reg: Registry, serial: str, *, version: int = 1, supersedes: str | None = None):  # type: ignore[no-untyped-def]
    entry = home.authority_for_type("11100000MB0143028R001")
    b = (
        LicenceBuilder()
        .licence_type("business-licence")
        .serial(serial)
        .version(version)
        .holder(Holder("济南测试科技有限公司", "91370102MA3C8K2L65", HolderType.USCC))
        .issuer(entry.authority)
        .issued_on(dt.date(2026, 5, 1))
        .validity(dt.date(2026, 5, 1), None)
        .fields({"entity_type": "有限责任公司", "legal_representative": "王堃", "establishment_date": "2019-03-18",
                 "domicile": "济南", "business_scope": "软件开发"})
    )  # fmt: skip
    if supersedes:
        b = b.supersedes(supersedes)
    idx = reg.allocate_status_index(entry.code, at=rs.NOW)
    issued = sign_licence(b.status_index(idx).build(), home.signer(entry), at=rs.NOW)
    reg.add_issued(issued, actor=ACTOR, at=rs.NOW)
    return issued


def test_effective_time_successor_and_audit(url: str, home: Home) -> None:
    with Registry.open(url) as reg:
        old = _issue(home, reg, "S1")
        oid = str(old.licence.id)
        new = _issue(home, reg, "S1", version=2, supersedes=oid)
        nid = str(new.licence.id)
        recorded = rs.NOW + 3 * DAY
        event = change_status(reg, oid, Action.SUPERSEDE, at=recorded, actor=ACTOR, successor=nid,
                              effective_at=rs.NOW + 2 * DAY)  # fmt: skip
        assert event.effective_at == rs.NOW + 2 * DAY
        rec_old, rec_new = reg.get(oid), reg.get(nid)
        assert rec_old is not None and rec_new is not None
        assert rec_old.successor == nid and rec_old.to_dict()["successor"] == nid
        assert rec_new.predecessor == oid and rec_new.to_dict()["predecessor"] == oid
        (ev,) = reg.status_events(oid)
        assert ev["effective_at"] == "2026-06-03T08:00:00Z" and ev["at"] == "2026-06-04T08:00:00Z"
        assert ev["successor"] == nid
        entry = [e for e in reg.audit_entries() if e.action == "licence.supersede"][-1]
        details = json.loads(entry.details)
        assert details["effective_at"] == "2026-06-03T08:00:00Z" and details["successor"] == nid
        assert entry.at == "2026-06-04T08:00:00Z"
        assert reg.verify_audit().ok
        assert reg.status_at(oid, rs.NOW + DAY)["status"] == "valid"  # type: ignore[index]
        at = reg.status_at(oid, rs.NOW + 2 * DAY)
        assert at is not None and at["status"] == "superseded" and at["successor"] == nid
        assert reg.status_at(oid, rs.NOW - DAY) is None  # not yet signed
        state = licence_state(reg, oid)
        assert state.history[-1].recorded_at == recorded and state.history[-1].successor == nid


def test_scheduled_revocation(url: str, home: Home) -> None:
    """Recorded now, effective in 5 days: in effect only from then; lists published before end there."""
    with Registry.open(url) as reg:
        lic = _issue(home, reg, "F1")
        lid = str(lic.licence.id)
        code = lic.licence.issuer.code
        t = rs.NOW + 5 * DAY
        change_status(reg, lid, Action.REVOKE, at=rs.NOW, actor=ACTOR, effective_at=t, reason="cancelled")
        assert reg.get(lid).status == "revoked"  # type: ignore[union-attr]  # latest recorded
        assert reg.status_at(lid, t - dt.timedelta(seconds=1))["status"] == "valid"  # type: ignore[index]
        assert reg.status_at(lid, t)["status"] == "revoked"  # type: ignore[index]
        entries, pending = pending_and_entries(reg, code, rs.NOW + DAY)
        assert entries == [] and pending == t
        (e,) = list_entries(reg, code, t)
        assert e.index == lic.licence.status_index and e.since == t and e.reason is not None
        assert e.reason.key == "cancelled"
        with pytest.raises(IllegalTransition):  # reinstating a (scheduled) revocation
            change_status(reg, lid, Action.REINSTATE, at=rs.NOW + DAY, actor=ACTOR)
        with pytest.raises(IllegalTransition):  # beyond a year
            change_status(reg, str(_issue(home, reg, "F2").licence.id), Action.SUSPEND, at=rs.NOW, actor=ACTOR,
                          effective_at=rs.NOW + 400 * DAY)  # fmt: skip
        assert reg.verify_audit().ok


def test_v1_registry_is_migrated(url: str, home: Home) -> None:
    """A registry written by v1 code (no effective_at/successor columns) opens, migrates and back-fills."""
    with Registry.open(url) as reg:
        old = _issue(home, reg, "M1")
        oid = str(old.licence.id)
        nid = str(_issue(home, reg, "M1", version=2, supersedes=oid).licence.id)
        change_status(reg, oid, Action.SUPERSEDE, at=rs.NOW + DAY, actor=ACTOR, successor=nid)
        with reg.engine.begin() as conn:  # turn it back into what v1 code wrote
            for table, column in (("status_events", "effective_at"), ("status_events", "successor"),
                                  ("licences", "successor")):  # fmt: skip
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
            conn.execute(text("DELETE FROM schema_version WHERE version > 1"))
        with reg.engine.connect() as conn:
            cols = {r[1] for r in conn.execute(text("PRAGMA table_info(status_events)"))}
        assert "effective_at" not in cols
    with Registry.open(url) as reg:
        assert reg.migrate() == LATEST == 4
        (ev,) = reg.status_events(oid)
        assert ev["effective_at"] == ev["at"] == "2026-06-02T08:00:00Z"
        assert ev["successor"] == nid and reg.get(oid).successor == nid  # type: ignore[union-attr]
        assert reg.verify_audit().ok  # the chain is untouched by the migration
        event = change_status(reg, nid, Action.SUSPEND, at=rs.NOW + 2 * DAY, actor=ACTOR)
        assert event.effective_at == rs.NOW + 2 * DAY


def test_registry_show_prints_links_and_history(home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from elicense.cli import run

    h = Home.load(rs.demo_home(tmp_path / "home"))
    with Registry.open(sqlite_url(h.path / "registry.sqlite")) as reg:
        oid = str(_issue(h, reg, "P1").licence.id)
        nid = str(_issue(h, reg, "P1", version=2, supersedes=oid).licence.id)
        change_status(reg, oid, Action.SUPERSEDE, at=rs.NOW + DAY, actor=ACTOR, successor=nid)
    capsys.readouterr()
    assert run(["registry", "show", oid, "--home", str(h.path)]) == 0
    out = capsys.readouterr().out
    assert f"successor       {nid}" in out and "event effective 2026-06-02T08:00:00Z" in out
    assert run(["registry", "show", nid, "--home", str(h.path)]) == 0
    out = capsys.readouterr().out
    assert f"predecessor     {oid}" in out
    assert run(["registry", "show", oid, "--home", str(h.path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["successor"] == nid and doc["status_events"][0]["effective_at"] == "2026-06-02T08:00:00Z"
