"""Issue #16 item 6: a revocation must always take effect.

The attack: a licence issued without a status index (the builder's default) entered the
registry; ``elicense revoke`` reported success, and verifiers kept saying VALID with
``licence_status`` PASSED. Now the registry refuses such a licence, a status change of one
(a row from an older registry) is a typed error, and a verifier with status data reports it
INDETERMINATE ``status_index_missing`` with ``licence_status`` SKIPPED (``specs/status-list.md``).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from elicense.cli import run
from elicense.home import Home
from elicense.issue import LicenceBuilder, sign_licence
from elicense.verify import Verifier
from elicense.verify.result import Status

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
AT = "2026-06-01T08:00:00Z"


def _unindexed(world: Any, home: Home, serial: str = "NOINDEX1", sample: str = "business-licence-jinan") -> Any:
    """A conforming licence, signed by its genuine authority, but built without a status index."""
    base = world.issued[sample].licence
    entry = home.authority(base.issuer.code)
    lic = (LicenceBuilder().licence_type(base.type_code).serial(serial).holder(base.holder).issuer(entry.authority)
           .issued_on(base.issued_on).validity(base.validity.start, base.validity.end).fields(dict(base.fields))
           .build())  # fmt: skip
    assert lic.status_index is None  # the builder's default
    return sign_licence(lic, home.signer(entry), at=NOW - dt.timedelta(hours=1))


@pytest.fixture
def home(world: Any, tmp_path: Path) -> Home:
    """A private copy of the demo home (its registry is written to)."""
    shutil.copytree(world.home.path, tmp_path / "home")
    return Home.load(tmp_path / "home")


def _registry(home: Home) -> Any:
    from elicense.registry import Registry, url_for

    return Registry.open(url_for(home, None), create=False)


def test_attack_registry_refuses_licence_without_status_index(world: Any, home: Home) -> None:
    from elicense.registry import MissingStatusIndex

    issued = _unindexed(world, home)
    registry = _registry(home)
    try:
        with pytest.raises(MissingStatusIndex) as caught:
            registry.add_issued(issued, actor="test", at=NOW)
        assert "status index" in caught.value.message and caught.value.message_zh and "索引" in caught.value.message_zh
        with pytest.raises(MissingStatusIndex), registry.transaction() as conn:
            registry.add_issued_many(conn, [(issued, {})], kid="00", actor="test", at=NOW)
        assert registry.get(str(issued.licence.id)) is None  # nothing was written
    finally:
        registry.close()


def _strip_index(home: Home, licence_id: str) -> None:
    """What a registry from before the fix may hold: a licence row without status index."""
    with sqlite3.connect(home.path / "registry.sqlite") as db:
        db.execute("UPDATE licences SET status_index = NULL WHERE id = ?", (licence_id,))
        db.execute("DELETE FROM status_indexes WHERE licence_id = ?", (licence_id,))


def test_attack_revoke_licence_without_status_index(
    world: Any, home: Home, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lid = str(world.issued["business-licence-nanjing"].licence.id)
    _strip_index(home, lid)
    for command, lang, word in (("revoke", "en", "status-list index"), ("suspend", "zh", "状态列表索引"),
                                ("revoke", "zh", "状态列表索引")):  # fmt: skip
        monkeypatch.setenv("ELICENSE_LANG", lang)
        code = run([command, lid, "--home", str(home.path)])
        err = capsys.readouterr().err
        assert code == 3, err  # never a silent "success"
        assert err.count("\n") == 1 and word in err and "Traceback" not in err
    code = run(["status", "show", lid, "--home", str(home.path), "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["status"] == "valid"  # nothing was recorded
    # the Python API says the same, at both layers
    from elicense.registry import MissingStatusIndex
    from elicense.services.status import change_status
    from elicense.status.lifecycle import Action, NoStatusIndex

    registry = _registry(home)
    try:
        with pytest.raises(NoStatusIndex):
            change_status(registry, lid, Action.REVOKE, at=NOW + dt.timedelta(days=1), actor="test")
        with pytest.raises(MissingStatusIndex):
            registry.set_status(lid, "revoked", None, NOW + dt.timedelta(days=1), "test")
    finally:
        registry.close()


def test_attack_licence_without_status_index_is_never_valid_under_status_data(
    world: Any, verifier: Verifier, tmp_path: Path, capsys: Any
) -> None:
    issued = _unindexed(world, world.home)
    result = verifier.verify(issued.qr_payload, at=NOW)
    checks = {c.name: c.outcome.value for c in result.checks}
    assert result.status is Status.INDETERMINATE and [r.code for r in result.reasons] == ["status_index_missing"]
    assert checks["licence_status"] == "SKIPPED" and checks["signature"] == "PASSED"
    # the CLI
    path = tmp_path / "noindex.qr.txt"
    path.write_text(issued.qr_payload)
    code = run(["verify", "--trust", str(world.trust_file), "--at", AT, "--json", str(path)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2 and doc["status"] == "INDETERMINATE" and doc["reasons"][0]["code"] == "status_index_missing"
    # the kiosk
    from elicense.kiosk.server import make_app

    app = make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW))
    answer = app.handle("POST", "/api/verify", issued.qr_payload.encode()).json()
    assert answer["status"] == "INDETERMINATE" and answer["reasons"][0]["code"] == "status_index_missing"
    assert answer["reasons"][0]["zh"]
    # a presentation of it
    from elicense.present import SoftwareDeviceKey, issue_holder_credential, make_presentation

    device = SoftwareDeviceKey.generate()
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    cred = issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(hours=1))
    shown = Verifier(trust=verifier.trust, status=verifier.status).verify(
        make_presentation(cred, device, now=NOW).payload, at=NOW)  # fmt: skip
    assert shown.status is Status.INDETERMINATE and [r.code for r in shown.reasons] == ["status_index_missing"]


def test_without_status_data_the_status_check_is_skipped_not_passed(world: Any, verifier: Verifier) -> None:
    """A verifier given no status data at all cannot check any status: SKIPPED (never PASSED), index or not."""
    bare = Verifier(trust=verifier.trust, clock=lambda: NOW)
    indexed = world.issued["business-licence-jinan"].qr_payload
    for payload in (_unindexed(world, world.home, "NOINDEX2").qr_payload, indexed):
        result = bare.verify(payload)
        assert {c.name: c.outcome.value for c in result.checks}["licence_status"] == "SKIPPED"
    # with status data an indexed licence is checked and PASSED
    result = verifier.verify(world.issued["business-licence-jinan"].qr_payload, at=NOW)
    assert {c.name: c.outcome.value for c in result.checks}["licence_status"] == "PASSED"
