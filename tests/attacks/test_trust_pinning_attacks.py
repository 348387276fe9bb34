"""A restart must not forget which trust was pinned (#16 item 2).

The verifier state (``--state DIR`` / ``$ELICENSE_STATE``; the kiosk always has one) pins the
root of the first bundle it accepts and remembers the highest sequence. A bundle under another
root is refused after any number of restarts, and never written into the state (a foreign bundle
with a higher sequence must not make the genuine one look like a rollback), until an operator
re-pins with ``elicense trust pin``. Root rotation by cross-certificate keeps working.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import elicense.kiosk.server as server_mod
from elicense.cli import run
from elicense.crypto.pki import OID_EKU_TRUST_LIST_SIGNING, make_end_entity, make_root
from elicense.demo import _key
from elicense.kiosk.server import KioskApp
from elicense.status.state import STATE_FILE, VerifierState, fingerprint, kiosk_state_dir
from elicense.trust.bundle import RootEntry, make_cross_certificate
from elicense.trust.common import TrustNotPinned
from elicense.trust_state import TrustedState
from elicense.verify import Status, Verifier
from trust_world import NOW, World, issue, make_world

JINAN = "business-licence-jinan"


@pytest.fixture(scope="module")
def tw() -> World:
    return make_world()


@pytest.fixture(scope="module")
def foreign() -> World:
    return make_world(b"foreign-root")


def _state_bytes(state: Path) -> bytes:
    return (state / STATE_FILE).read_bytes()


def test_attack_foreign_root_bundle_refused_after_restarts(
    tw: World, foreign: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A foreign-root bundle with a HIGHER sequence, handed to a restarted verifier: refused every time,
    the state untouched, and the genuine bundle still accepted afterwards (no poisoning)."""
    state = tmp_path / "state"
    genuine, evil = tmp_path / "genuine.cose", tmp_path / "evil.cose"
    genuine.write_bytes(tw.bundle(sequence=1))
    evil.write_bytes(foreign.bundle(sequence=99))
    payload = issue(tw, JINAN)
    assert Verifier.from_bundle(genuine, state=state).verify(payload, at=NOW).status is Status.VALID
    pinned = _state_bytes(state)
    assert VerifierState.load(state).anchors == (fingerprint(tw.root),)
    for _ in range(3):  # restarts
        with pytest.raises(TrustNotPinned, match="pinned"):
            Verifier.from_bundle(evil, state=state)
        assert _state_bytes(state) == pinned
    qr = tmp_path / "x.qr.txt"
    qr.write_text(issue(foreign, JINAN))
    capsys.readouterr()
    assert run(["verify", str(qr), "--trust", str(evil), "--state", str(state)]) == 3
    err = capsys.readouterr().err
    assert "pinned" in err and "trust pin" in err and err.count("\n") == 1
    monkeypatch.setenv("ELICENSE_STATE", str(state))
    assert run(["verify", str(qr), "--trust", str(evil)]) == 3
    with pytest.raises(TrustNotPinned):
        Verifier.from_trust_file(evil)
    monkeypatch.delenv("ELICENSE_STATE")
    assert _state_bytes(state) == pinned
    # not poisoned: the genuine bundle (and a newer genuine one) still load
    assert Verifier.from_bundle(genuine, state=state).verify(payload, at=NOW).status is Status.VALID
    newer = tmp_path / "newer.cose"
    newer.write_bytes(tw.bundle(sequence=2))
    assert Verifier.from_bundle(newer, state=state).bundle is not None
    assert VerifierState.load(state).bundle is not None and VerifierState.load(state).bundle[0] == 2  # type: ignore[index]


def test_attack_foreign_root_via_trust_update_refused(tw: World, foreign: World, tmp_path: Path) -> None:
    """The installed file was swapped for a foreign one; ``trust update`` to a newer foreign one is refused
    by the state's pin (and the state does not move)."""
    state = tmp_path / "state"
    genuine = tmp_path / "genuine.cose"
    genuine.write_bytes(tw.bundle(sequence=1))
    Verifier.from_bundle(genuine, state=state)
    pinned = _state_bytes(state)
    installed, newer = tmp_path / "installed.cose", tmp_path / "newer.cose"
    installed.write_bytes(foreign.bundle(sequence=50))
    newer.write_bytes(foreign.bundle(sequence=51))
    with pytest.raises(TrustNotPinned):
        TrustedState.update_file(installed, newer, state=state)
    assert run(["trust", "update", str(installed), str(newer), "--state", str(state)]) == 3
    assert _state_bytes(state) == pinned


def _serve_once(monkeypatch: pytest.MonkeyPatch) -> list[KioskApp]:
    """Make ``elicense kiosk`` return after building its app (captured) instead of serving."""
    apps: list[KioskApp] = []

    def serve(app: KioskApp, host: str, port: int, *, quiet: bool, ready: Any) -> None:
        apps.append(app)
        ready(object())

    monkeypatch.setattr(server_mod, "serve", serve)
    return apps


def test_attack_kiosk_restart_with_foreign_bundle_refused_until_repinned(
    tw: World, foreign: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``elicense kiosk`` keeps a state by default: a foreign bundle copied over its trust file is refused
    after a restart; ``elicense trust pin`` is the explicit way to trust it."""
    monkeypatch.delenv("ELICENSE_STATE", raising=False)
    apps = _serve_once(monkeypatch)
    trust = tmp_path / "kiosk" / "trust-bundle.cose"
    trust.parent.mkdir()
    trust.write_bytes(tw.bundle(sequence=1))
    assert run(["kiosk", "--trust", str(trust), "--port", "0"]) == 0
    default = kiosk_state_dir(trust)
    assert default.parent == Path(os.environ["XDG_STATE_HOME"]) / "elicense" / "kiosk"  # documented default
    assert VerifierState.load(default).anchors == (fingerprint(tw.root),)
    assert f"state {default}" in capsys.readouterr().err
    shutil.copy(tmp_path / "kiosk" / "trust-bundle.cose", tmp_path / "genuine.cose")
    trust.write_bytes(foreign.bundle(sequence=99))  # copied over the trust file while the kiosk was down
    for _ in range(2):
        assert run(["kiosk", "--trust", str(trust), "--port", "0"]) == 3
        err = capsys.readouterr().err
        assert "pinned" in err and err.count("\n") == 1
    assert len(apps) == 1
    # the operator re-pins explicitly (default state of that trust path)
    assert run(["trust", "pin", str(trust)]) == 0
    out = capsys.readouterr().out
    assert "pinned root" in out and fingerprint(foreign.root) in out and fingerprint(tw.root) in out
    assert run(["kiosk", "--trust", str(trust), "--port", "0"]) == 0
    assert apps[-1].verifier.verify(issue(foreign, JINAN), at=NOW).status is Status.VALID
    # and now the old root is the foreign one
    trust.write_bytes((tmp_path / "genuine.cose").read_bytes())
    assert run(["kiosk", "--trust", str(trust), "--port", "0"]) == 3
    # --state and $ELICENSE_STATE take precedence over the default
    explicit = tmp_path / "explicit"
    assert run(["kiosk", "--trust", str(trust), "--port", "0", "--state", str(explicit)]) == 0
    assert VerifierState.load(explicit).anchors == (fingerprint(tw.root),)
    monkeypatch.setenv("ELICENSE_STATE", str(explicit))
    assert kiosk_state_dir(trust) == explicit


def test_attack_running_kiosk_reload_keeps_the_pin(tw: World, foreign: World, tmp_path: Path) -> None:
    """The Python API: a kiosk app over a verifier loaded with a state reloads through that state."""
    state = tmp_path / "state"
    trust = tmp_path / "trust.cose"
    trust.write_bytes(tw.bundle(sequence=1))
    app = KioskApp(Verifier.from_bundle(trust, state=state, clock=lambda: NOW), bundle_path=trust, reload_interval=0)
    pinned = _state_bytes(state)
    trust.write_bytes(foreign.bundle(sequence=99))
    assert app.verifier.bundle is not None and app.verifier.bundle.sequence == 1 and app.reloads == 0
    assert _state_bytes(state) == pinned
    trust.write_bytes(tw.bundle(sequence=2))
    assert app.verifier.bundle is not None and app.verifier.bundle.sequence == 2 and app.reloads == 1
    assert VerifierState.load(state).bundle[0] == 2  # type: ignore[index]  # the reload went through the state


def _rotate(world: World) -> World:
    new_key = _key(b"rotation", "root2")
    new_root = make_root(
        new_key,
        "国家电子证照信任根（第二代）",
        not_before=NOW - dt.timedelta(days=2),
        not_after=NOW + dt.timedelta(days=7000),
    )
    cross = make_cross_certificate(new_root, world.root, world.root_key)
    nk = _key(b"rotation", "tl-national")
    ncert = make_end_entity(
        nk.public_key(),
        "国家信任列表运营机构（新）",
        uscc=None,
        province=None,
        issuer_cert=new_root,
        issuer_key=new_key,
        not_before=NOW - dt.timedelta(days=2),
        not_after=NOW + dt.timedelta(days=900),
        eku=OID_EKU_TRUST_LIST_SIGNING,
    )
    return replace(world, roots=[RootEntry(world.root), RootEntry(new_root, cross)], national_op=(nk, ncert))


def test_root_rotation_by_cross_certificate_moves_the_pin(tw: World, tmp_path: Path) -> None:
    """A rotated bundle (new root announced by the pinned one) is accepted and the pin follows it; a bundle
    under the old root alone is then refused, after a restart too."""
    state = tmp_path / "state"
    b1, b2, b3 = tmp_path / "b1.cose", tmp_path / "b2.cose", tmp_path / "b3.cose"
    b1.write_bytes(tw.bundle(sequence=1))
    rotated = _rotate(tw)
    b2.write_bytes(rotated.bundle(sequence=2))
    b3.write_bytes(tw.bundle(sequence=3))
    payload = issue(tw, JINAN)
    Verifier.from_bundle(b1, state=state)
    assert Verifier.from_bundle(b2, state=state).verify(payload, at=NOW).status is Status.VALID
    assert VerifierState.load(state).anchors == (fingerprint(rotated.roots[-1].root),)
    assert Verifier.from_bundle(b2, state=state).bundle is not None  # restart
    with pytest.raises(TrustNotPinned):
        Verifier.from_bundle(b3, state=state)
    # trust update follows the rotation as well
    other_state, installed = tmp_path / "other", tmp_path / "installed.cose"
    shutil.copy(b1, installed)
    Verifier.from_bundle(installed, state=other_state)
    assert run(["trust", "update", str(installed), str(b2), "--state", str(other_state)]) == 0
    assert VerifierState.load(other_state).anchors == (fingerprint(rotated.roots[-1].root),)


def test_trust_pin_refuses_what_does_not_verify(tw: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``trust pin`` verifies fully first; a tampered or missing bundle is exit 3 and the state unchanged."""
    state = tmp_path / "state"
    good = tmp_path / "good.cose"
    good.write_bytes(tw.bundle(sequence=4))
    assert run(["trust", "pin", str(good), "--state", str(state), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["anchors"] == [fingerprint(tw.root)] and doc["sequence"] == 4 and doc["previous"] == []
    before = _state_bytes(state)
    bad = tmp_path / "bad.cose"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 1
    bad.write_bytes(bytes(data))
    for target in (bad, tmp_path / "missing.cose"):
        assert run(["trust", "pin", str(target), "--state", str(state)]) == 3
        assert capsys.readouterr().err.count("\n") == 1
    assert _state_bytes(state) == before
    # re-pinning an OLDER bundle of the same root is the operator's explicit choice: allowed
    older = tmp_path / "older.cose"
    older.write_bytes(tw.bundle(sequence=2))
    assert run(["trust", "pin", str(older), "--state", str(state)]) == 0
    assert VerifierState.load(state).bundle[0] == 2  # type: ignore[index]


def test_state_without_anchors_pins_on_first_bundle_and_bad_anchors_are_an_error(
    tw: World, foreign: World, tmp_path: Path
) -> None:
    """A state written before pinning existed (no ``anchors``) keeps its sequences and pins the next
    accepted bundle's root; a malformed ``anchors`` is an error, never an empty pin."""
    from elicense.errors import StorageError

    state = tmp_path / "state"
    state.mkdir()
    (state / STATE_FILE).write_text(
        json.dumps({"format": "elicense-verifier-state/1", "bundle": [1, "x"], "status_lists": {}})
    )
    b2 = tmp_path / "b2.cose"
    b2.write_bytes(tw.bundle(sequence=2))
    Verifier.from_bundle(b2, state=state)
    assert VerifierState.load(state).anchors == (fingerprint(tw.root),)
    evil = tmp_path / "evil.cose"
    evil.write_bytes(foreign.bundle(sequence=9))
    with pytest.raises(TrustNotPinned):
        Verifier.from_bundle(evil, state=state)
    for bad in ("not a list", ["short"], [fingerprint(tw.root)] * 17):
        (state / STATE_FILE).write_text(json.dumps({"format": "elicense-verifier-state/1", "anchors": bad}))
        with pytest.raises(StorageError):
            Verifier.from_bundle(evil, state=state)
