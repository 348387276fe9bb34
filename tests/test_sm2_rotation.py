"""Issue 18 item 3: SM2 national-root rotation by cross-certificate, as in the ES256 world.

The old SM2 root certifies the new SM2 root's key (an SM2-signed cross-certificate); the next bundle
lists both roots and is signed by a national trust-list operator under the new root. A verifier that
pinned the old root accepts it and moves its pin (``elicense.status.state``) to the new root; a later
bundle under the old root alone is refused; a cross-certificate the old root did not sign is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tongsuopy")

from elicense.cli import run
from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
from elicense.verify import Status, Verifier

SM2_ONLY = AlgorithmPolicy.of(["SM2"])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from elicense.demo import build_demo

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    return build_demo(tmp_path_factory.mktemp("sm2rot"), now=now, seed=b"sm2-rotation", images=False,
                      algorithm=Algorithm.SM2)  # fmt: skip


def _rotate(home_dir: Path, *, forge: bool = False) -> None:
    """The operator's rotation in an SM2 issuer home: new root, cross-certified by the old one (or, with
    ``forge``, by a key that is not the old root's), and a new national operator under the new root."""
    from elicense.crypto import sm2
    from elicense.crypto.pki import OID_EKU_TRUST_LIST_SIGNING
    from elicense.crypto.suites import write_key
    from elicense.home import Home, write_pem
    from elicense.trust.bundle import make_cross_certificate

    home = Home.load(home_dir)
    pw = home.passphrase()
    old_root = home.root_certificates()[0]
    old_key = sm2.Sm2PrivateKey.from_encrypted_pem((home_dir / "keys/root.key.pem").read_bytes(), pw)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    new_key = sm2.Sm2PrivateKey.generate()
    new_root = sm2.make_sm2_root(new_key, "国家电子证照信任根（第二代）", not_before=now - dt.timedelta(days=1),
                                 not_after=now + dt.timedelta(days=7000))  # fmt: skip
    if forge:  # an impostor "old root": same name, another key
        fake_key = sm2.Sm2PrivateKey.generate()
        fake_old = sm2._sign_tbs(old_root.subject, old_root.subject, fake_key.public_key(), fake_key,
                                 old_root.not_valid_before_utc, old_root.not_valid_after_utc, None, [])  # fmt: skip
        cross = make_cross_certificate(new_root, fake_old, fake_key)
    else:
        cross = make_cross_certificate(new_root, old_root, old_key)
    assert sm2.is_sm2_certificate(cross) and cross.issuer == old_root.subject and cross.subject == new_root.subject
    op_key = sm2.Sm2PrivateKey.generate()
    op = sm2.make_sm2_end_entity(op_key.public_key(), "国家电子证照信任列表运营机构（新根）", uscc=None, province=None,
                                 issuer_cert=new_root, issuer_key=new_key, not_before=now - dt.timedelta(days=1),
                                 not_after=now + dt.timedelta(days=900), eku=OID_EKU_TRUST_LIST_SIGNING)  # fmt: skip
    write_pem(home_dir / "pki/root-2.pem", [new_root])
    write_pem(home_dir / "pki/root-2-cross.pem", [cross])
    write_pem(home_dir / "pki/tl-national-2.pem", [op])
    write_key(home_dir / "keys/root-2.key.pem", new_key, pw)
    write_key(home_dir / "keys/tl-national-2.key.pem", op_key, pw)
    trust = dict(home.extra["trust"])
    trust["roots"] = [*trust["roots"], {"root": "pki/root-2.pem", "cross": "pki/root-2-cross.pem",
                                        "drop_previous": False}]  # fmt: skip
    trust["national"] = {"operator": "国家电子证照信任列表运营机构（新根）", "cert": "pki/tl-national-2.pem",
                         "key": "keys/tl-national-2.key.pem"}  # fmt: skip
    replace(home, extra={**home.extra, "trust": trust}).save()


def test_sm2_root_rotation_by_cross_certificate_moves_the_pin(live: Any, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from elicense.crypto.pki import algorithm_of
    from elicense.status.state import VerifierState, fingerprint
    from elicense.trust.bundle import read_bundle_file
    from elicense.trust.common import TrustNotPinned

    home = tmp_path / "home"
    shutil.copytree(live.home.path, home)
    b1, b2, b3 = tmp_path / "b1.cose", tmp_path / "b2.cose", tmp_path / "b3.cose"
    assert run(["bundle", "--home", str(home), "-o", str(b1)]) == 0
    state = tmp_path / "state"
    old_root = read_bundle_file(b1, algorithms=SM2_ONLY).current_root
    Verifier.from_bundle(b1, state=state, algorithms=SM2_ONLY)
    assert VerifierState.load(state).anchors == (fingerprint(old_root),)
    stale_home = tmp_path / "stale-home"
    shutil.copytree(home, stale_home)  # the old root's world, kept for the refusal below

    _rotate(home)
    assert run(["bundle", "--home", str(home), "-o", str(b2)]) == 0  # with its SM2 status section
    rotated = read_bundle_file(b2, anchors=[old_root], algorithms=SM2_ONLY)
    assert len(rotated.roots) == 2 and rotated.roots[1].cross is not None
    assert {algorithm_of(rotated.current_root), algorithm_of(rotated.roots[1].cross)} == {Algorithm.SM2}
    v = Verifier.from_bundle(b2, state=state, algorithms=SM2_ONLY)
    for name, status in (("business-licence-jinan", Status.VALID), ("business-licence-revoked", Status.INVALID)):
        assert v.verify(live.issued[name].qr_payload).status is status, name  # status section still checked
    assert VerifierState.load(state).anchors == (fingerprint(rotated.current_root),)
    assert Verifier.from_bundle(b2, state=state, algorithms=SM2_ONLY).bundle is not None  # restart
    # a newer bundle under the old root alone is refused once the pin has moved
    for _ in range(3):
        assert run(["bundle", "--home", str(stale_home), "-o", str(b3)]) == 0
    with pytest.raises(TrustNotPinned):
        Verifier.from_bundle(b3, state=state, algorithms=SM2_ONLY)
    # `elicense trust update` follows the rotation too
    other, installed = tmp_path / "other", tmp_path / "installed.cose"
    shutil.copy(b1, installed)
    Verifier.from_bundle(installed, state=other, algorithms=SM2_ONLY)
    capsys.readouterr()
    assert run(["trust", "update", str(installed), str(b2), "--state", str(other), "--allow-alg", "SM2"]) == 0
    assert VerifierState.load(other).anchors == (fingerprint(rotated.current_root),)
    capsys.readouterr()
    assert run(["trust", "show", str(installed), "--allow-alg", "SM2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["cross_certified"] for r in shown["roots"]] == [False, True]


def test_attack_sm2_root_rotation_with_forged_cross_certificate_is_refused(live: Any, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A new SM2 root 'announced' by a cross-certificate from a same-named impostor key: the bundle cannot
    even be published, and a verifier pinned to the genuine root never accepts it."""
    from elicense.trust.bundle import RootEntry, _check_root_history, make_cross_certificate
    from elicense.trust.lists import TrustSignatureInvalid

    home = tmp_path / "home"
    shutil.copytree(live.home.path, home)
    _rotate(home, forge=True)
    capsys.readouterr()
    assert run(["bundle", "--home", str(home), "-o", str(tmp_path / "evil.cose")]) == 3
    err = capsys.readouterr().err
    assert "cross-certificate" in err and err.count("\n") == 1
    from elicense.home import Home

    h = Home.load(home)
    old_root, new_root = h.certificates("pki/root.pem")[0], h.certificates("pki/root-2.pem")[0]
    cross = h.certificates("pki/root-2-cross.pem")[0]
    with pytest.raises(TrustSignatureInvalid, match="not signed by the previous root"):
        _check_root_history([RootEntry(old_root), RootEntry(new_root, cross)])
    # a genuine cross-certificate of ANOTHER key (the old root certifies key A, the bundle's new root has key B)
    from elicense.crypto import sm2

    old_key = sm2.Sm2PrivateKey.from_encrypted_pem((home / "keys/root.key.pem").read_bytes(), h.passphrase())
    other_key = sm2.Sm2PrivateKey.generate()
    other_root = sm2.make_sm2_root(other_key, "国家电子证照信任根（第二代）", not_before=new_root.not_valid_before_utc,
                                   not_after=new_root.not_valid_after_utc)  # fmt: skip
    genuine_other = make_cross_certificate(other_root, old_root, old_key)
    with pytest.raises(TrustSignatureInvalid, match="certifies another key"):
        _check_root_history([RootEntry(old_root), RootEntry(new_root, genuine_other)])
