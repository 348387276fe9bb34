"""The offline bundle: recognition table, freshness, rollback, withdrawal, tampering, root rotation."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from elicense.crypto.keys import SoftwareSigner
from elicense.crypto.pki import OID_EKU_TRUST_LIST_SIGNING, make_end_entity, make_root
from elicense.demo import _key
from elicense.errors import TrustError
from elicense.qr import cbor
from elicense.qr.cose import parse_sign1, sign1
from elicense.trust.bundle import (
    RootEntry,
    load_bundle,
    make_cross_certificate,
)
from elicense.trust.lists import GRANTED, WITHDRAWN, StatusChange, TrustRollback, TrustSignatureInvalid
from elicense.trust.policy import Recognition
from elicense.trust_state import TrustedState
from elicense.verify.verifier import Verifier
from trust_world import NOW, START, World, code, issue, make_world


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def bundle_path(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "trust-bundle.cose"
    path.write_bytes(world.bundle())
    return path


@pytest.fixture(scope="module")
def payloads(world: World) -> dict[str, str]:
    names = [
        "business-licence-jinan",
        "food-business-licence-jinan",
        "construction-safety-licence-shandong",
        "business-licence-nanjing",
        "driving-licence-nanjing",
        "real-estate-title-nanjing",
    ]
    return {n: issue(world, n) for n in names}


LATER = NOW + dt.timedelta(days=60)  # past every next-update of the default bundle

# (relying region, sample, at, expected status, expected reason)
TABLE = [
    (None, "construction-safety-licence-shandong", NOW, "VALID", None),  # national view: no recognition policy
    ("370000", "construction-safety-licence-shandong", NOW, "VALID", None),  # own region
    ("320000", "construction-safety-licence-shandong", NOW, "INVALID", "not_recognised"),  # no agreement for type
    ("320000", "business-licence-jinan", NOW, "VALID", None),  # agreement covers it
    ("320000", "food-business-licence-jinan", NOW, "VALID", None),
    ("370000", "real-estate-title-nanjing", NOW, "INVALID", "not_recognised"),
    ("370000", "driving-licence-nanjing", NOW, "VALID", None),
    ("370000", "business-licence-nanjing", NOW, "VALID", None),
    ("320000", "real-estate-title-nanjing", NOW, "VALID", None),  # own region
    ("320000", "business-licence-jinan", LATER, "INDETERMINATE", "trust_stale"),  # stale never VALID
    ("320000", "construction-safety-licence-shandong", LATER, "INVALID", "not_recognised"),
    ("110000", "business-licence-jinan", NOW, "INVALID", "not_recognised"),  # a region without agreements
]


@pytest.mark.parametrize(("region", "sample", "at", "status", "reason"), TABLE)
def test_recognition_table(
    bundle_path: Path,
    payloads: dict[str, str],
    region: str | None,
    sample: str,
    at: dt.datetime,
    status: str,
    reason: str | None,
) -> None:
    verifier = Verifier.from_bundle(bundle_path, region=region)
    result = verifier.verify(payloads[sample], at=at)
    assert result.status.value == status, result.reasons
    if reason:
        assert result.has_reason(reason)


def test_equivalent_type_codes_recognised() -> None:
    a, b = "1" * 18 + "001", "2" * 18 + "001"
    from elicense.trust.lists import Agreement

    policy = Recognition.from_agreements("320000", [Agreement("320000", "370000", frozenset({b}))], [frozenset({a, b})])
    assert policy.recognises("370000", a) and policy.recognises("370000", b)
    assert not policy.recognises("370000", "3" * 18 + "001")
    assert not Recognition.from_agreements("320000", [], []).recognises("370000", a)


def test_region_list_stale_alone_makes_indeterminate(world: World, tmp_path: Path) -> None:
    path = tmp_path / "b.cose"
    soon = NOW + dt.timedelta(days=2)
    path.write_bytes(world.bundle(region_next_update={"320000": soon}))
    verifier = Verifier.from_bundle(path)
    payload = issue(world, "business-licence-jinan")
    assert verifier.verify(payload, at=NOW).status.value == "VALID"
    late = verifier.verify(payload, at=soon + dt.timedelta(hours=1))
    assert late.status.value == "INDETERMINATE" and late.has_reason("trust_stale")


@pytest.mark.parametrize(
    ("history", "signed_at", "status", "reason"),
    [
        (
            (StatusChange(GRANTED, START), StatusChange(WITHDRAWN, NOW - dt.timedelta(days=50))),
            NOW - dt.timedelta(days=100),
            "VALID",
            None,
        ),  # signed before the withdrawal: stays valid
        (
            (StatusChange(GRANTED, START), StatusChange(WITHDRAWN, NOW - dt.timedelta(days=50))),
            NOW - dt.timedelta(days=10),
            "INVALID",
            "authority_withdrawn",
        ),  # signed after
        (
            (
                StatusChange(GRANTED, START),
                StatusChange(WITHDRAWN, NOW - dt.timedelta(days=50)),
                StatusChange(GRANTED, NOW - dt.timedelta(days=20)),
            ),
            NOW - dt.timedelta(days=10),
            "VALID",
            None,
        ),  # re-granted
        (
            (StatusChange(GRANTED, NOW - dt.timedelta(days=5)),),
            NOW - dt.timedelta(days=10),
            "INVALID",
            "authority_not_yet_authorised",
        ),
    ],
)
def test_withdrawn_before_and_after(
    history: tuple[StatusChange, ...], signed_at: dt.datetime, status: str, reason: str | None, tmp_path: Path
) -> None:
    world = make_world()
    world.history["jinan-approval"] = history
    path = tmp_path / "b.cose"
    path.write_bytes(world.bundle())
    result = Verifier.from_bundle(path).verify(issue(world, "business-licence-jinan", signed_at=signed_at), at=NOW)
    assert result.status.value == status, result.reasons
    if reason:
        assert result.has_reason(reason)


def test_type_not_in_list_refused(world: World, tmp_path: Path) -> None:
    w = make_world()
    k, c, uscc, area, _ = w.authorities["jinan-approval"]
    w.authorities["jinan-approval"] = (k, c, uscc, area, (code("business-licence"),))
    path = tmp_path / "b.cose"
    path.write_bytes(w.bundle())
    result = Verifier.from_bundle(path).verify(issue(w, "food-business-licence-jinan"), at=NOW)
    assert result.status.value == "INVALID" and result.has_reason("type_not_authorised")


def test_unknown_issuer(world: World, bundle_path: Path) -> None:
    stranger = make_world(b"another-world")
    result = Verifier.from_bundle(bundle_path).verify(issue(stranger, "business-licence-jinan"), at=NOW)
    assert result.status.value == "INDETERMINATE" and result.has_reason("unknown_issuer")


# -- authenticity -------------------------------------------------------------------------------


def test_deep_load_and_extras(world: World) -> None:
    data = world.bundle(extras={"status": b"{}", "crl/370000": b"\x30\x00"})
    b = load_bundle(data, deep=True)
    assert b.section("crl/370000") == b"\x30\x00" and b.section("nope") is None
    assert set(b.regions) == {"370000", "320000"} and len(b.authorities) == 5


@pytest.mark.parametrize("offset", [40, 500, 5000, -70, -5])
def test_tampered_bytes_refused(world: World, offset: int) -> None:
    data = bytearray(world.bundle())
    data[offset] ^= 0x01
    with pytest.raises(TrustError):
        load_bundle(bytes(data))


def _resign(data: bytes, signer: SoftwareSigner, mutate) -> bytes:  # type: ignore[no-untyped-def]
    doc = cbor.loads(parse_sign1(data).payload, max_depth=8)
    mutate(doc)
    return sign1(cbor.dumps(doc), signer, signer.kid)


def test_index_not_matching_xml_caught_by_deep_load(world: World) -> None:
    key, cert = world.national_op
    signer = SoftwareSigner(key, cert)

    def add_type(doc: dict) -> None:  # type: ignore[type-arg]
        doc["index"]["authorities"][0]["types"].append(code("real-estate-title"))

    data = _resign(world.bundle(), signer, add_type)
    load_bundle(data)  # the national operator's signature covers it (it is trusted)...
    with pytest.raises(TrustSignatureInvalid, match="index"):
        load_bundle(data, deep=True)  # ...but it no longer says what the signed lists say


def test_bundle_signed_by_region_operator_refused(world: World) -> None:
    key, cert = world.region_ops["370000"]
    data = _resign(
        world.bundle(),
        SoftwareSigner(key, cert),
        lambda doc: doc.update(
            signer=[
                cert.public_bytes(
                    __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER
                )
            ]
        ),
    )
    with pytest.raises(TrustSignatureInvalid):
        load_bundle(data)


def test_foreign_anchor_refused(world: World) -> None:
    other = make_world(b"other")
    with pytest.raises(TrustSignatureInvalid, match="anchor"):
        load_bundle(world.bundle(), anchors=[other.root])


# -- rollback and update ---------------------------------------------------------------------


def test_rollback_refused(world: World, tmp_path: Path) -> None:
    current, newer, older = tmp_path / "current.cose", tmp_path / "newer.cose", tmp_path / "older.cose"
    current.write_bytes(world.bundle(sequence=5))
    newer.write_bytes(world.bundle(sequence=6))
    older.write_bytes(world.bundle(sequence=4))
    before = current.read_bytes()
    for bad in (older, current):
        with pytest.raises(TrustRollback):
            TrustedState.update_file(current, bad)
        assert current.read_bytes() == before
    assert TrustedState.update_file(current, newer).sequence == 6
    assert current.read_bytes() == newer.read_bytes()


def test_region_list_rollback_inside_newer_bundle_refused(world: World) -> None:
    cur = load_bundle(world.bundle(sequence=5))
    new = load_bundle(world.bundle(sequence=5, bundle_sequence=6, region_sequence={"370000": 4}))
    with pytest.raises(TrustRollback, match="370000"):
        TrustedState.check_update(cur, new)


def test_update_from_other_anchor_refused(world: World, tmp_path: Path) -> None:
    current, evil = tmp_path / "current.cose", tmp_path / "evil.cose"
    current.write_bytes(world.bundle(sequence=1))
    evil.write_bytes(make_world(b"evil").bundle(sequence=99))
    before = current.read_bytes()
    with pytest.raises(TrustSignatureInvalid):
        TrustedState.update_file(current, evil)
    assert current.read_bytes() == before


# -- root rotation -------------------------------------------------------------------------------


def _rotate(world: World, *, forge: bool = False, drop: bool = False) -> World:
    new_key = _key(b"rotation", "root2")
    new_root = make_root(
        new_key,
        "国家电子证照信任根（第二代）",
        not_before=NOW - dt.timedelta(days=2),
        not_after=NOW + dt.timedelta(days=7000),
    )
    announcer = make_world(b"forger") if forge else world
    cross = make_cross_certificate(new_root, announcer.root, announcer.root_key)
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
    return replace(world, roots=[RootEntry(world.root), RootEntry(new_root, cross, drop)], national_op=(nk, ncert))


def test_root_rotation_accepted_under_old_anchor(world: World, tmp_path: Path) -> None:
    current, new = tmp_path / "current.cose", tmp_path / "new.cose"
    current.write_bytes(world.bundle(sequence=1))
    rotated = _rotate(world)
    new.write_bytes(rotated.bundle(sequence=2))
    b = TrustedState.update_file(current, new)
    assert b.current_root != world.root
    # authorities whose CAs chain to the previous root keep verifying (not dropped)
    assert Verifier.from_bundle(current).verify(issue(world, "business-licence-jinan"), at=NOW).valid
    # the next update must chain from the NEW root: a bundle under the old root alone is refused
    old_style = tmp_path / "old.cose"
    old_style.write_bytes(world.bundle(sequence=3))
    with pytest.raises(TrustSignatureInvalid):
        TrustedState.update_file(current, old_style)


def test_forged_root_announcement_refused(world: World) -> None:
    with pytest.raises(TrustSignatureInvalid, match="cross-certificate"):
        _rotate(world, forge=True).bundle()


def test_missing_cross_certificate_refused(world: World) -> None:
    rotated = _rotate(world)
    rotated.roots = [RootEntry(world.root), RootEntry(rotated.roots[1].root, None)]
    with pytest.raises(TrustSignatureInvalid):
        rotated.bundle()


def test_drop_previous_root_removes_old_anchors(world: World) -> None:
    # dropped root: region list signers (under the old root's CAs) no longer validate
    with pytest.raises(TrustError):
        _rotate(world, drop=True).bundle(sequence=2)


# -- fast path -----------------------------------------------------------------------------------


def test_verify_with_bundle_imports_no_xml_stack(bundle_path: Path, payloads: dict[str, str], tmp_path: Path) -> None:
    qr = tmp_path / "x.qr.txt"
    qr.write_text(payloads["business-licence-jinan"])
    code_ = (
        "import sys; from elicense.cli import run; "
        f"rc = run(['verify', {str(qr)!r}, '--trust', {str(bundle_path)!r}, '--region', '320000', "
        f"'--at', {NOW.isoformat()!r}]); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('lxml', 'signxml', 'pyhanko', 'PIL', 'sqlalchemy')); "
        "print(rc, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code_], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("0 []"), out
