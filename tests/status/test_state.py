"""A verifier's sequence memory (``--state`` / ``$ELICENSE_STATE``): no rollback of bundles or status lists,
across process restarts (a new ``Verifier`` = a restarted kiosk)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from elicense.cli import run
from elicense.errors import StorageError
from elicense.home import Home
from elicense.services.status import change_status, open_registry, status_sections
from elicense.services.trust import publish
from elicense.status.lifecycle import Action
from elicense.status.state import STATE_FILE, VerifierState
from elicense.trust.bundle import read_bundle_file
from elicense.trust.lists import TrustRollback
from elicense.verify import Verifier
from elicense.verify.result import Status

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def home(world, tmp_path):  # type: ignore[no-untyped-def]
    shutil.copytree(world.home.path, tmp_path / "home")
    return Home.load(tmp_path / "home")


def _bundle(home: Home, path: Path, now: dt.datetime, *, sequence: int | None = None) -> Path:
    home = Home.load(home.path)  # publish() saves the next bundle sequence in home.json
    sections = status_sections(home, now, sequence=sequence)
    _, _, data = publish(home, now=now, extras={"status": sections.to_json()})
    path.write_bytes(data)
    return path


def _check(bundle: Path, state: Path, payload: str, at: dt.datetime):  # type: ignore[no-untyped-def]
    return Verifier.from_bundle(bundle, state=state).verify(payload, at=at)


def test_older_bundle_is_refused_after_a_restart(world, home, tmp_path):  # type: ignore[no-untyped-def]
    payload = world.issued["business-licence-jinan"].qr_payload
    b1 = _bundle(home, tmp_path / "b1.cose", NOW)
    b2 = _bundle(home, tmp_path / "b2.cose", NOW + HOUR)
    state = tmp_path / "state"
    assert _check(b1, state, payload, NOW + 2 * HOUR).status is Status.VALID
    assert _check(b2, state, payload, NOW + 2 * HOUR).status is Status.VALID
    doc = json.loads((state / STATE_FILE).read_text())
    assert doc["format"] == "elicense-verifier-state/1" and len(doc["status_lists"]) == len(home.authorities)
    assert _check(b2, state, payload, NOW + 2 * HOUR).status is Status.VALID  # the same bundle again: fine
    with pytest.raises(TrustRollback):  # a restarted kiosk handed the old bundle
        Verifier.from_bundle(b1, state=state)
    Verifier.from_bundle(b1, state=tmp_path / "fresh")  # another kiosk that never saw b2 accepts it
    # the CLI: one line, exit 3
    assert run(["verify", str(world.home.path / "licences" / "business-licence-jinan.qr.txt"), "--trust", str(b1),
                "--state", str(state)]) == 3  # fmt: skip


def test_rolled_back_status_list_is_indeterminate(world, home, tmp_path, capsys, monkeypatch):  # type: ignore[no-untyped-def]
    issued = world.issued["business-licence-jinan"]
    old_seq = int((NOW + HOUR).timestamp())
    state = tmp_path / "state"
    newer = _bundle(home, tmp_path / "b1.cose", NOW + 2 * HOUR)
    assert _check(newer, state, issued.qr_payload, NOW + 3 * HOUR).status is Status.VALID
    # a *newer* bundle carrying *older* status lists (replayed signed lists)
    replay = _bundle(home, tmp_path / "b2.cose", NOW + 3 * HOUR, sequence=old_seq)
    for _ in range(2):  # and again after a restart
        result = _check(replay, state, issued.qr_payload, NOW + 4 * HOUR)
        assert result.status is Status.INDETERMINATE
        assert result.reasons[0].code == "status_list_rolled_back" and "already seen" in (
            result.reasons[0].detail or ""
        )
    monkeypatch.setenv("ELICENSE_STATE", str(state))  # the environment variable is the default
    capsys.readouterr()
    assert run(["verify", str(world.home.path / "licences" / "business-licence-jinan.qr.txt"), "--trust", str(replay),
                "--json", "--at", (NOW + 4 * HOUR).isoformat()]) == 2  # fmt: skip
    assert json.loads(capsys.readouterr().out)["reasons"][0]["code"] == "status_list_rolled_back"
    assert Verifier.from_bundle(replay).verify(issued.qr_payload, at=NOW + 4 * HOUR).status is Status.INDETERMINATE
    monkeypatch.delenv("ELICENSE_STATE")
    # without memory, the replayed (authentic, fresh) list is what it is: valid
    assert Verifier.from_bundle(replay).verify(issued.qr_payload, at=NOW + 4 * HOUR).status is Status.VALID


def test_same_sequence_with_different_content_is_refused(world, home, tmp_path):  # type: ignore[no-untyped-def]
    """Equivocation: two different lists with one sequence number (e.g. one for this kiosk, one for others)."""
    issued = world.issued["business-licence-jinan"]
    seq = int((NOW + HOUR).timestamp())
    state = tmp_path / "state"
    first = _bundle(home, tmp_path / "b1.cose", NOW + HOUR, sequence=seq)
    assert _check(first, state, issued.qr_payload, NOW + 2 * HOUR).status is Status.VALID
    with open_registry(home) as reg:
        change_status(reg, str(issued.licence.id), Action.REVOKE, at=NOW + HOUR, actor="t")
    other = _bundle(home, tmp_path / "b2.cose", NOW + HOUR, sequence=seq)  # same time and number, new content
    result = _check(other, state, issued.qr_payload, NOW + 2 * HOUR)
    assert result.status is Status.INDETERMINATE and result.reasons[0].code == "status_list_rolled_back"
    assert "different content" in (result.reasons[0].detail or "")
    # an unaffected authority's list is identical in content: accepted (a re-signature is not a change)
    nanjing = world.issued["business-licence-nanjing"].qr_payload
    assert _check(other, state, nanjing, NOW + 2 * HOUR).status is Status.VALID


def test_trust_update_refuses_rolled_back_lists_and_bundles(world, home, tmp_path, capsys):  # type: ignore[no-untyped-def]
    b1 = _bundle(home, tmp_path / "b1.cose", NOW + HOUR)
    b2 = _bundle(home, tmp_path / "b2.cose", NOW + 2 * HOUR)
    b3 = _bundle(home, tmp_path / "b3.cose", NOW + 3 * HOUR, sequence=int((NOW + HOUR).timestamp()))
    installed = tmp_path / "installed.cose"
    shutil.copy(b2, installed)
    capsys.readouterr()
    assert run(["trust", "update", str(installed), str(b3)]) == 3  # newer bundle, older status lists
    err = capsys.readouterr().err
    assert "goes back" in err and err.count("\n") == 1
    assert installed.read_bytes() == b2.read_bytes()
    # the state remembers the newest bundle seen, even if the installed file was swapped for an older one
    state = tmp_path / "state"
    Verifier.from_bundle(b2, state=state)
    shutil.copy(b1, installed)
    b4 = _bundle(home, tmp_path / "b4.cose", NOW + 4 * HOUR)
    assert run(["trust", "update", str(installed), str(b4), "--state", str(state)]) == 0
    remembered = VerifierState.load(state).bundle
    assert remembered is not None and remembered[0] == read_bundle_file(b4).sequence
    shutil.copy(b1, installed)  # swapped back to b1: updating to b2 (older than b4 seen) is refused
    assert run(["trust", "update", str(installed), str(b2), "--state", str(state)]) == 3
    assert "rollback" in capsys.readouterr().err


def test_corrupt_state_is_an_error_not_amnesia(tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(StorageError):
        VerifierState.load(tmp_path)
    (tmp_path / STATE_FILE).write_text(json.dumps({"format": "elicense-verifier-state/1", "bundle": ["x", 1]}))
    with pytest.raises(StorageError):
        VerifierState.load(tmp_path)
    s = VerifierState.load(tmp_path / "new")
    s.remember(bundle=(5, "a"), status_lists={"370000": (10, "d")})
    other = VerifierState.load(tmp_path / "new")
    other.remember(status_lists={"370000": (9, "old"), "320000": (1, "e")})  # merge: numbers only go up
    final = VerifierState.load(tmp_path / "new")
    assert final.bundle == (5, "a") and final.status_lists == {"370000": (10, "d"), "320000": (1, "e")}
