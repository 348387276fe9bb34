"""SM2/SM3: known-answer tests, cross-implementation checks, certificates, QR end to end."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("tongsuopy")

from elicense.crypto import sm2
from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
from elicense.errors import AlgorithmNotAllowed, CryptoError, TrustError

NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
YEAR = dt.timedelta(days=365)

# GB/T 32918.5-2017 / GM/T 0003.5-2012 Annex A: signature on the recommended curve,
# default user id 1234567812345678.
KAT_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
KAT_PUB = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
KAT_Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
KAT_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
KAT_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
KAT_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
KAT_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
MSG = b"message digest"

# GB/T 32918.2 Annex A (and draft-shen-sm2-ecdsa): 256-bit *test* curve, id ALICE123@YAHOO.COM.
ALICE = b"ALICE123@YAHOO.COM"
TEST_CURVE = {
    "p": 0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
    "a": 0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
    "b": 0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
    "gx": 0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
    "gy": 0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
    "n": 0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
}
ALICE_D = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
ALICE_K = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
ALICE_R = 0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1
ALICE_S = 0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7
ALICE_PUB = (
    0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A,
    0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857,
)


def _der(r: int, s: int) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    return encode_dss_signature(r, s)


# -- known answers ---------------------------------------------------------------------------


def test_kat_public_key_z_and_digest() -> None:
    key = sm2.Sm2PrivateKey.from_private_value(KAT_D)
    assert key.public_key().point == KAT_PUB
    assert sm2.z_value(KAT_PUB) == KAT_Z
    assert sm2.signed_digest(KAT_PUB, MSG) == KAT_E


def test_kat_signature_verifies() -> None:
    pub = sm2.Sm2PublicKey.from_point(KAT_PUB)
    assert pub.verify(_der(KAT_R, KAT_S), MSG)
    assert not pub.verify(_der(KAT_R, KAT_S), MSG + b"!")
    assert not pub.verify(_der(KAT_R, KAT_S ^ 1), MSG)


def test_kat_deterministic_signature_with_reference_implementation() -> None:
    """gmalg with the standard's k reproduces (r, s) exactly — and our Z feeds it."""
    gmalg = pytest.importorskip("gmalg")
    signer = gmalg.SM2(KAT_D.to_bytes(32, "big"), sm2.DEFAULT_USER_ID, KAT_PUB, rnd_fn=lambda _n: KAT_K)
    r, s = signer.sign(MSG)
    assert (int.from_bytes(r, "big"), int.from_bytes(s, "big")) == (KAT_R, KAT_S)


def test_kat_annex_a_test_curve_alice() -> None:
    """GB/T 32918.2 Annex A on its test curve with user id ALICE123@YAHOO.COM (gmalg, any curve)."""
    gmalg = pytest.importorskip("gmalg")
    from gmalg import ellipticcurve as ec
    from gmalg.sm2 import SM2Core
    from gmalg.sm3 import SM3

    c = TEST_CURVE
    core = SM2Core(ec.ECDLP(c["p"], c["a"], c["b"], (c["gx"], c["gy"]), c["n"]), SM3(), lambda _n: ALICE_K)
    assert core.generate_pk(ALICE_D) == ALICE_PUB
    assert core.sign(MSG, ALICE_D, ALICE, ALICE_PUB) == (ALICE_R, ALICE_S)
    assert core.verify(MSG, ALICE_R, ALICE_S, ALICE, ALICE_PUB)
    del gmalg


# -- cross-implementation ------------------------------------------------------------------


def test_cross_check_with_gmalglib_both_ways() -> None:
    gmalglib = pytest.importorskip("gmalglib")
    key = sm2.Sm2PrivateKey.generate()
    point = key.public_key().point
    for i in range(5):
        data = b"licence %d" % i
        sig = key.sign(data)
        assert gmalglib.sm2.SM2(pk=point).verify(data, sm2.der_to_raw(sig))
    other = gmalglib.sm2.SM2(KAT_D.to_bytes(32, "big"))
    for i in range(5):
        data = b"seal %d" % i
        raw = other.sign(data)
        assert sm2.Sm2PublicKey.from_point(KAT_PUB).verify(sm2.raw_to_der(raw), data)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_cross_check_with_openssl_cli(tmp_path: Path) -> None:
    key = sm2.Sm2PrivateKey.generate()
    pem = key.public_key().spki()
    import base64

    (tmp_path / "pub.pem").write_bytes(
        b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(pem) + b"-----END PUBLIC KEY-----\n"
    )
    (tmp_path / "msg").write_bytes(MSG)
    (tmp_path / "sig").write_bytes(key.sign(MSG))
    (tmp_path / "key.pem").write_bytes(key.to_encrypted_pem(b"pw"))
    out = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-in", "msg", "-sigfile", "sig", "-pubin", "-inkey",
         "pub.pem", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if "Verified Successfully" not in out.stdout:
        pytest.skip(f"this openssl has no SM2 support: {out.stderr.strip()[:200]}")
    subprocess.run(
        ["openssl", "pkeyutl", "-sign", "-in", "msg", "-inkey", "key.pem", "-passin", "pass:pw",
         "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-out", "osig"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    assert key.public_key().verify((tmp_path / "osig").read_bytes(), MSG)


# -- strictness ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, KAT_S), (KAT_R, 0), (KAT_R, sm2.N), (KAT_R + sm2.N, KAT_S), (KAT_R, KAT_S + sm2.N)],
)
def test_out_of_range_signatures_are_refused(r: int, s: int) -> None:
    pub = sm2.Sm2PublicKey.from_point(KAT_PUB)
    assert not pub.verify(_der(r, s), MSG)


def test_non_canonical_der_is_refused() -> None:
    pub = sm2.Sm2PublicKey.from_point(KAT_PUB)
    good = _der(KAT_R, KAT_S)
    assert pub.verify(good, MSG)
    assert not pub.verify(good + b"\x00", MSG)  # trailing garbage
    r = KAT_R.to_bytes(33, "big")  # 0x00 + r: r has its top bit set, so 33 bytes is canonical
    padded_s = b"\x00\x00" + KAT_S.to_bytes(32, "big")  # one zero too many
    body = b"\x02\x21" + r + b"\x02\x22" + padded_s
    assert not pub.verify(b"\x30" + bytes([len(body)]) + body, MSG)
    assert not pub.verify(sm2.der_to_raw(good), MSG)  # raw r‖s is not DER
    with pytest.raises(CryptoError):
        sm2.raw_to_der(b"\x00" * 64)


def test_off_curve_point_is_refused() -> None:
    bad = KAT_PUB[:-1] + bytes([KAT_PUB[-1] ^ 1])
    with pytest.raises(CryptoError):
        sm2.Sm2PublicKey.from_point(bad)


def test_only_default_user_id() -> None:
    key = sm2.Sm2PrivateKey.generate()
    with pytest.raises(CryptoError):
        key.sign(MSG, user_id=ALICE)


def test_encrypted_pem_round_trip_and_refusals() -> None:
    key = sm2.Sm2PrivateKey.from_private_value(KAT_D)
    pem = key.to_encrypted_pem(b"secret")
    assert b"ENCRYPTED" in pem
    assert sm2.Sm2PrivateKey.from_encrypted_pem(pem, b"secret").public_key().point == KAT_PUB
    with pytest.raises(CryptoError):
        sm2.Sm2PrivateKey.from_encrypted_pem(pem, b"wrong")
    with pytest.raises(CryptoError):
        key.to_encrypted_pem(b"")
    with pytest.raises(CryptoError):
        sm2.Sm2PrivateKey.from_private_value(0)


# -- certificates -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki() -> dict[str, object]:
    root_key = sm2.Sm2PrivateKey.generate()
    root = sm2.make_sm2_root(
        root_key, "国家电子证照根（SM2 测试）", not_before=NOW - 3 * YEAR, not_after=NOW + 20 * YEAR
    )
    ca_key = sm2.Sm2PrivateKey.generate()
    ca = sm2.make_sm2_regional_ca(
        ca_key, "山东省电子证照 CA（SM2 测试）", province="山东省", issuer_cert=root, issuer_key=root_key,
        not_before=NOW - 3 * YEAR, not_after=NOW + 10 * YEAR,
    )  # fmt: skip
    ee_key = sm2.Sm2PrivateKey.generate()
    ee = sm2.make_sm2_end_entity(
        ee_key.public_key(), "济南市行政审批服务局", uscc=None,
        province="山东省", issuer_cert=ca, issuer_key=ca_key,
        not_before=NOW - 2 * YEAR, not_after=NOW + 3 * YEAR,
    )  # fmt: skip
    return {"root": root, "root_key": root_key, "ca": ca, "ca_key": ca_key, "ee": ee, "ee_key": ee_key}


def test_certificate_profile_and_oids(pki: dict[str, object]) -> None:
    from asn1crypto import x509 as a509

    ee = pki["ee"]
    der = sm2.certificate_der(ee)  # type: ignore[arg-type]
    parsed = a509.Certificate.load(der)
    assert parsed["signature_algorithm"]["algorithm"].dotted == sm2.OID_SM2_WITH_SM3
    assert parsed["tbs_certificate"]["signature"]["algorithm"].dotted == sm2.OID_SM2_WITH_SM3
    spki = parsed["tbs_certificate"]["subject_public_key_info"]["algorithm"]
    assert spki["algorithm"].dotted == sm2.OID_EC_PUBLIC_KEY
    assert spki["parameters"].chosen.dotted == sm2.OID_SM2_CURVE
    assert sm2.is_sm2_certificate(ee)  # type: ignore[arg-type]
    key = pki["ee_key"]
    assert sm2.Sm2PublicKey.from_certificate(ee) == key.public_key()  # type: ignore[arg-type,attr-defined]


def test_chain_validation(pki: dict[str, object]) -> None:
    chain = sm2.validate_sm2_chain(pki["ee"], roots=[pki["root"]], intermediates=[pki["ca"]])  # type: ignore[list-item,arg-type]
    assert len(chain.chain) == 3
    # the pki.validate_chain hook dispatches SM2 leaves here
    from elicense.crypto.pki import validate_chain

    assert validate_chain(pki["ee"], roots=[pki["root"]], intermediates=[pki["ca"]]).chain == chain.chain  # type: ignore[arg-type,list-item]


def test_chain_refusals(pki: dict[str, object]) -> None:
    root, ca, ee = pki["root"], pki["ca"], pki["ee"]
    with pytest.raises(TrustError):  # missing intermediate
        sm2.validate_sm2_chain(ee, roots=[root])  # type: ignore[arg-type,list-item]
    other_key = sm2.Sm2PrivateKey.generate()
    other_root = sm2.make_sm2_root(other_key, "国家电子证照根（SM2 测试）", not_before=NOW - YEAR, not_after=NOW + YEAR)
    with pytest.raises(TrustError):  # same name, different key: signature check fails
        sm2.validate_sm2_chain(ee, roots=[other_root], intermediates=[ca])  # type: ignore[arg-type,list-item]
    with pytest.raises(TrustError):  # a CA is not a signing certificate
        sm2.validate_sm2_chain(ca, roots=[root])  # type: ignore[arg-type,list-item]
    from elicense.crypto.pki import OID_EKU_TRUST_LIST_SIGNING

    with pytest.raises(TrustError):  # wrong EKU
        sm2.validate_sm2_chain(ee, roots=[root], intermediates=[ca], eku=OID_EKU_TRUST_LIST_SIGNING)  # type: ignore[arg-type,list-item]
    # an end entity cannot act as a CA
    rogue_key = sm2.Sm2PrivateKey.generate()
    rogue = sm2.make_sm2_end_entity(
        rogue_key.public_key(), "冒充机关", uscc=None, province=None, issuer_cert=ee,  # type: ignore[arg-type]
        issuer_key=pki["ee_key"], not_before=NOW - YEAR, not_after=NOW + YEAR,  # type: ignore[arg-type]
    )  # fmt: skip
    with pytest.raises(TrustError):
        sm2.validate_sm2_chain(rogue, roots=[root], intermediates=[ca, ee])  # type: ignore[arg-type,list-item]


def test_tampered_certificate_fails(pki: dict[str, object]) -> None:
    der = bytearray(sm2.certificate_der(pki["ee"]))  # type: ignore[arg-type]
    i = der.find("济南".encode())
    der[i] ^= 0x01
    tampered = sm2.load_certificate(bytes(der))
    ca_pub = sm2.Sm2PublicKey.from_certificate(pki["ca"])  # type: ignore[arg-type]
    assert sm2.verify_certificate_signature(pki["ee"], ca_pub)  # type: ignore[arg-type]
    assert not sm2.verify_certificate_signature(tampered, ca_pub)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_verifies_each_certificate_link(pki: dict[str, object], tmp_path: Path) -> None:
    """OpenSSL 3 checks each SM2-with-SM3 link (its chain builder needs ``-vfyopt`` per link)."""
    from elicense.crypto.pki import to_pem

    for name in ("root", "ca", "ee"):
        (tmp_path / f"{name}.pem").write_bytes(to_pem([pki[name]]))  # type: ignore[list-item]
    for issuer, subject in (("root", "root"), ("root", "ca"), ("ca", "ee")):
        out = subprocess.run(
            ["openssl", "verify", "-vfyopt", "distid:1234567812345678", "-partial_chain",
             "-CAfile", f"{issuer}.pem", f"{subject}.pem"],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if issuer == "root" and out.returncode != 0 and "OK" not in out.stdout:
            pytest.skip(f"this openssl cannot verify SM2 certificates: {out.stderr[:200]}")
        assert out.stdout.strip().endswith("OK"), (issuer, subject, out.stderr)


# -- algorithm allow-list and QR end to end ----------------------------------------------------


def test_policy_default_excludes_sm2() -> None:
    assert Algorithm.SM2 not in AlgorithmPolicy.default().allowed
    assert Algorithm.from_label("sm2") is Algorithm.SM2
    assert Algorithm.from_cose_id(-65537) is Algorithm.SM2
    with pytest.raises(AlgorithmNotAllowed):
        AlgorithmPolicy.default().check(Algorithm.SM2)


@pytest.fixture(scope="module")
def sm2_world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from elicense.cli.sm2 import build_sm2_demo

    return build_sm2_demo(tmp_path_factory.mktemp("sm2world"), now=NOW)


def test_qr_payload_end_to_end(sm2_world) -> None:  # type: ignore[no-untyped-def]
    from elicense.trust.file import load_trust_file
    from elicense.verify import Verifier

    trust = load_trust_file(sm2_world.trust_file)
    payload = sm2_world.issued.qr_payload
    ok = Verifier(trust=trust, algorithms=["ES256", "SM2"]).verify(payload, at=NOW)
    assert ok.valid, ok.to_dict()
    assert ok.checks[1].detail == "SM2"
    refused = Verifier(trust=trust).verify(payload, at=NOW)  # default policy: no SM2
    assert refused.has_reason("algorithm_not_allowed")
    # the full record (PDF attachment form) carries an SM2 COSE signature too
    from elicense.qr.cose import parse_sign1

    assert parse_sign1(sm2_world.issued.full_payload).alg_id == Algorithm.SM2.cose_id


def test_qr_tampered_signature_is_invalid(sm2_world) -> None:  # type: ignore[no-untyped-def]
    from elicense.qr import cbor
    from elicense.qr.payload import unwrap, wrap
    from elicense.trust.file import load_trust_file
    from elicense.verify import Verifier

    trust = load_trust_file(sm2_world.trust_file)
    msg = cbor.loads(unwrap(sm2_world.issued.qr_payload), allowed_tags=frozenset({18}), max_depth=4)
    protected, unprotected, body, sig = msg.value
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    bad = wrap(cbor.dumps(cbor.tag(18, [protected, unprotected, body, flipped])))
    result = Verifier(trust=trust, algorithms=["SM2"]).verify(bad, at=NOW)
    assert result.has_reason("signature_invalid")


def test_mixed_trust_store_ecdsa_and_sm2(sm2_world, pki: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    """One trust store with a P-256 and an SM2 hierarchy: both chains validate, keys typed per suite."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from elicense.crypto.pki import make_end_entity, make_regional_ca, make_root
    from elicense.trust.file import load_trust_file
    from elicense.trust.store import TrustedAuthority, TrustStore

    rk, ck, ek = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = make_root(rk, "ECDSA 根", not_before=NOW - YEAR, not_after=NOW + YEAR)
    ca = make_regional_ca(ck, "ECDSA CA", province="江苏省", issuer_cert=root, issuer_key=rk,
                          not_before=NOW - YEAR, not_after=NOW + YEAR)  # fmt: skip
    ee = make_end_entity(ek.public_key(), "南京市市场监督管理局", uscc=None, province="江苏省", issuer_cert=ca,
                         issuer_key=ck, not_before=NOW - YEAR, not_after=NOW + YEAR)  # fmt: skip
    sm2_store = load_trust_file(sm2_world.trust_file)
    sm2_key = next(iter(sm2_store.keys.values()))[0]
    store = TrustStore.build(
        roots=[*sm2_store.roots, root],
        intermediates=[ca, *sm2_key.chain.chain[1:-1]],
        authorities=[(TrustedAuthority("南京市市场监督管理局", "320100", "320100"), [ee]),
                     (sm2_key.authority, [sm2_key.certificate])],
    )  # fmt: skip
    algs = sorted(k.algorithm.label for keys in store.keys.values() for k in keys)
    assert algs == ["ES256", "SM2"]
    assert isinstance(next(k for v in store.keys.values() for k in v if k.algorithm is Algorithm.SM2).public_key,
                      sm2.Sm2PublicKey)  # fmt: skip


def test_verify_with_user_id_agrees_with_gmalglib() -> None:
    """Other SM2 user ids (some seal systems): plain curve arithmetic, cross-checked with gmalglib (C)."""
    gmalglib = pytest.importorskip("gmalglib")
    for i, uid in enumerate((b"ALICE123@YAHOO.COM", b"SEAL-MAKER-01", b"", sm2.DEFAULT_USER_ID, b"\xff" * 100)):
        sk, pk = gmalglib.sm2.SM2().generate_keypair()
        key = sm2.Sm2PublicKey.from_point(bytes(pk))
        msg = b"seal %d" % i
        der = sm2.raw_to_der(bytes(gmalglib.sm2.SM2(sk=sk, pk=pk, uid=uid).sign(msg)))
        assert sm2.verify_with_user_id(key, der, msg, uid)
        assert not sm2.verify_with_user_id(key, der, msg + b"!", uid)
        assert not sm2.verify_with_user_id(key, der, msg, uid + b"x")
        assert sm2.verify_with_user_id(key, der, msg, sm2.DEFAULT_USER_ID) is (uid == sm2.DEFAULT_USER_ID)
    own = sm2.Sm2PrivateKey.generate()
    assert sm2.verify_with_user_id(own.public_key(), own.sign(b"x"), b"x", sm2.DEFAULT_USER_ID)  # tongsuopy's
    assert not sm2.verify_with_user_id(own.public_key(), b"\x30\x00", b"x", sm2.DEFAULT_USER_ID)


def test_spki_with_another_algorithm_is_a_crypto_error_not_an_attribute_error() -> None:
    """One byte changed in id-ecPublicKey (1.2.840.10045.2.1 → 1.2.840.10173.2.1) leaves asn1crypto an opaque
    ``Any`` as parameters: the loader says "not an SM2 key", never raises AttributeError (a seal verdict, not a crash)."""
    from elicense.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey
    from elicense.errors import CryptoError

    der = Sm2PrivateKey.generate().public_key().spki()
    oid = bytes.fromhex("2a8648ce3d0201")
    assert oid in der
    forged = der.replace(oid, bytes.fromhex("2a8648cf3d0201"))
    with pytest.raises(CryptoError):
        Sm2PublicKey.from_spki(forged)
    assert Sm2PublicKey.from_spki(der).spki() == der
