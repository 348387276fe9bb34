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
from elicense.trust_state import TrustedState
from elicense.verify import Status, Verifier

SM2_ONLY = AlgorithmPolicy.of(["SM2"])
ISSUE_FIELDS = {
    "source_id": "MIG-0001", "number": "MIG0001", "holder_name": "江苏国密迁移测试有限公司",
    "holder_code": "91320102MA1XR7KP7K", "issued_on": "2026-06-01", "entity_type": "有限责任公司",
    "legal_representative": "陈昇", "registered_capital": "100.00", "capital_currency": "人民币",
    "establishment_date": "2020-01-01", "domicile": "江苏省南京市玄武区", "business_scope": "密码技术服务",
}  # fmt: skip


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


def test_sm2_root_rotation_by_cross_certificate_moves_the_pin(
    live: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_attack_sm2_root_rotation_with_forged_cross_certificate_is_refused(
    live: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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


# -- ES256 → SM2 migration: a mixed-suite bundle ----------------------------------------------------


@pytest.fixture(scope="module")
def es_live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from elicense.demo import build_demo

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    return build_demo(tmp_path_factory.mktemp("esrot"), now=now, seed=b"es-migration", images=False, pdf=False)


def _migrate(es_home: Path, gm_home: Path, out: Path) -> None:
    """An ES256 home whose 江苏 region moves to SM2: the SM2 root is announced by the ES256 root (an ECDSA
    cross-certificate over an SM2 key), 江苏's CA, authorities and list operator become SM2, the national
    operator is the SM2 root's. 山东 stays ES256 (``drop_previous`` false: both roots anchor)."""
    from elicense.crypto.keys import decrypt_private_key
    from elicense.home import Home, write_pem
    from elicense.trust.bundle import make_cross_certificate

    shutil.copytree(es_home, out)
    es, gm = Home.load(out), Home.load(gm_home)
    es_root = es.root_certificates()[0]
    es_key = decrypt_private_key((out / "keys/root.key.pem").read_bytes(), es.passphrase())
    files = ["pki/ca-320000.pem", "keys/ca-320000.key.pem", "pki/tl-320000.pem", "keys/tl-320000.key.pem"]
    files += [p for a in gm.authorities if a.region == "320000" for p in (a.cert, a.key or "")]
    for f in files:
        shutil.copyfile(gm_home / f, out / f)
    for src, dst in (("pki/root.pem", "pki/root-sm2.pem"), ("keys/root.key.pem", "keys/root-sm2.key.pem"),
                     ("pki/tl-national.pem", "pki/tl-national-sm2.pem"),
                     ("keys/tl-national.key.pem", "keys/tl-national-sm2.key.pem")):  # fmt: skip
        shutil.copyfile(gm_home / src, out / dst)
    write_pem(out / "pki/root-sm2-cross.pem", [make_cross_certificate(gm.root_certificates()[0], es_root, es_key)])
    trust = dict(es.extra["trust"])
    trust["roots"] = [*trust["roots"], {"root": "pki/root-sm2.pem", "cross": "pki/root-sm2-cross.pem",
                                        "drop_previous": False}]  # fmt: skip
    trust["national"] = {**gm.extra["trust"]["national"], "cert": "pki/tl-national-sm2.pem",
                         "key": "keys/tl-national-sm2.key.pem"}  # fmt: skip
    trust["regions"] = {**trust["regions"], "320000": gm.extra["trust"]["regions"]["320000"]}
    replace(es, roots=(*es.roots, "pki/root-sm2.pem"), extra={**es.extra, "trust": trust}).save()


def test_es256_to_sm2_migration_gives_a_mixed_bundle(
    es_live: Any, live: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One bundle, two suites: 山东 signs ES256, 江苏 SM2, the bundle and national list SM2 under a root
    history ES256 → SM2. With ES256+SM2 allowed each licence verifies under its own algorithm with its own
    region's status list and CRLs (an SM2 licence revoked in the registry is INVALID after the next bundle);
    a kiosk pinned to the ES256 root follows the migration."""
    from elicense.crypto.pki import algorithm_of
    from elicense.status.state import VerifierState, fingerprint
    from elicense.trust.bundle import read_bundle_file

    both = AlgorithmPolicy.of(["ES256", "SM2"])
    mixed = tmp_path / "mixed"
    _migrate(es_live.home.path, live.home.path, mixed)
    from elicense.home import Home

    # a new SM2 licence from the migrated home: `issue --alg sm2` picks a 江苏 authority (山东's key is ES256)
    issued_dir = tmp_path / "issued"
    fields = [x for k, v in ISSUE_FIELDS.items() for x in ("--field", f"{k}={v}")]
    assert run(["issue", "--home", str(mixed), "--type", "business-licence", "--alg", "sm2", "--out", str(issued_dir),
                "--no-progress", "--json", *fields]) == 0  # fmt: skip
    lid = json.loads(capsys.readouterr().out)["id"]
    gm_payload = (issued_dir / f"{lid}.qr.txt").read_text().strip()
    assert Home.load(mixed).authority(lid.split(".")[-4]).region == "320000"
    installed, b = tmp_path / "installed.cose", tmp_path / "mixed.cose"
    shutil.copyfile(es_live.trust_file, installed)
    state = tmp_path / "state"
    Verifier.from_bundle(installed, state=state)  # an ES256 kiosk: pins the ES256 root
    assert run(["bundle", "--home", str(mixed), "-o", str(b)]) == 0
    bundle = read_bundle_file(b, algorithms=both, deep=True)
    assert [algorithm_of(r.root) for r in bundle.roots] == [Algorithm.ES256, Algorithm.SM2]
    assert b"urn:elicense:xmldsig:sm2-sm3" in bundle.region_xml["320000"]
    assert b"urn:elicense:xmldsig:sm2-sm3" not in bundle.region_xml["370000"]
    status = TrustedState.inspect(bundle).status
    assert status.problems == () and all(not f.missing for f in status.chains.values())
    es_lic, es_revoked = es_live.issued["business-licence-jinan"], es_live.issued["business-licence-revoked"]
    expected = [(es_lic.qr_payload, Status.VALID, "ES256"), (es_revoked.qr_payload, Status.INVALID, "ES256"),
                (gm_payload, Status.VALID, "SM2")]  # fmt: skip
    v = Verifier.from_bundle(b, state=state, algorithms=both)  # the ES256 kiosk takes the migration bundle
    assert VerifierState.load(state).anchors == (fingerprint(bundle.current_root),)
    for payload, status_, alg in expected:
        res = v.verify(payload)
        assert res.status is status_, res.reasons
        assert [c.detail for c in res.checks if c.name == "algorithm"] == [alg]
    sm2_only = Verifier.from_bundle(b, algorithms=SM2_ONLY)
    assert [r.code for r in sm2_only.verify(es_lic.qr_payload).reasons] == ["algorithm_not_allowed"]
    assert sm2_only.verify(gm_payload).status is Status.VALID
    # the SM2 licence revoked in the mixed registry: INVALID after the next bundle
    assert run(["revoke", lid, "--home", str(mixed)]) == 0
    assert run(["bundle", "--home", str(mixed), "-o", str(b)]) == 0
    capsys.readouterr()
    qr = issued_dir / f"{lid}.qr.txt"
    assert run(["verify", str(qr), "--trust", str(b), "--allow-alg", "ES256,SM2", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in doc["reasons"]] == ["licence_revoked"]
