"""Attacks on the status section of an all-SM2 world (issue 18 item 3).

SM2 status lists and SM2 CRLs are held to the ES256 world's rules: a list answers only for the
authority whose key signed it, a CRL only when its CA's SM2 key signed it, with the signed and the
unsigned algorithm fields agreeing. A forged item is refused (``StatusStore.problems``) and never
makes a revoked licence VALID or a genuine one INVALID.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

pytest.importorskip("tongsuopy")

from cryptography import x509

from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
from elicense.status.store import StatusStore
from elicense.verify import Status, Verifier

SM2_ONLY = AlgorithmPolicy.of(["SM2"])
NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def gm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from elicense.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("sm2attack"), now=NOW, seed=b"sm2-attacks", images=False,
                      algorithm=Algorithm.SM2)  # fmt: skip


def _genuine(world: Any) -> tuple[Any, list[bytes], list[bytes]]:
    from elicense.trust.bundle import STATUS_SECTION, read_bundle_file

    bundle = read_bundle_file(world.trust_file, algorithms=SM2_ONLY)
    section = json.loads(bundle.section(STATUS_SECTION) or b"{}")
    lists = [base64.b64decode(x) for x in section["status_lists"]]
    crls = [base64.b64decode(x) for x in section["crls"]]
    return bundle.trust_store(), lists, crls


def _verify(trust: Any, store: StatusStore, payload: str) -> Any:
    return Verifier(trust=trust, status=store, algorithms=SM2_ONLY).verify(payload, at=NOW)


def _ca(world: Any, region: str = "370000") -> tuple[Any, x509.Certificate]:
    from elicense.crypto.sm2 import Sm2PrivateKey

    home = world.home
    (entry,) = [r for r in home.regions if r.code == region]
    cert = home.certificates(entry.ca_cert)[0]
    assert entry.ca_key is not None
    return Sm2PrivateKey.from_encrypted_pem((home.path / entry.ca_key).read_bytes(), home.passphrase()), cert


def test_attack_sm2_status_list_signed_by_other_authority_is_ignored(gm: Any) -> None:
    """南京市场监管局's genuine SM2 key signs an all-valid list naming 济南审批局 (whose licence is revoked),
    with a higher sequence: refused; the revoked licence stays INVALID."""
    from elicense.status.statuslist import MIN_ENTRIES, sign_status_list

    trust, lists, crls = _genuine(gm)
    revoked = gm.issued["business-licence-revoked"]
    jinan = revoked.licence.issuer.code
    other = gm.home.authority("南京市市场监督管理局")
    forged = sign_status_list(gm.home.signer(other), issuer=jinan, sequence=2**40, issued_at=NOW,
                              entries=[], size=MIN_ENTRIES)  # fmt: skip
    store = StatusStore.build(trust, status_lists=[*lists, forged], crls=crls)
    assert any("signature does not verify with a key of that authority" in p for p in store.problems)
    res = _verify(trust, store, revoked.qr_payload)
    assert res.status is Status.INVALID and [r.code for r in res.reasons] == ["licence_revoked"]
    # alone (the genuine list withheld) it still does not answer: INDETERMINATE, never VALID
    store = StatusStore.build(trust, status_lists=[forged], crls=crls)
    res = _verify(trust, store, revoked.qr_payload)
    assert res.status is Status.INDETERMINATE and [r.code for r in res.reasons] == ["status_unknown"]


def test_attack_sm2_status_list_signed_by_seal_maker_is_ignored(gm: Any) -> None:
    """A key of the SM2 PKI that is not a licence-signing authority (the region's seal-making system) signs
    a list for 济南审批局: refused."""
    from elicense.crypto.keys import Sm2Signer
    from elicense.crypto.sm2 import Sm2PrivateKey
    from elicense.status.statuslist import sign_status_list

    trust, lists, crls = _genuine(gm)
    maker = gm.home.extra["sm2_seals"]["makers"]["370000"]
    cert = gm.home.certificates(maker["cert"])[0]
    key = Sm2PrivateKey.from_encrypted_pem((gm.home.path / maker["key"]).read_bytes(), gm.home.passphrase())
    revoked = gm.issued["business-licence-revoked"]
    forged = sign_status_list(Sm2Signer(key, cert), issuer=revoked.licence.issuer.code, sequence=2**40,
                              issued_at=NOW, entries=[])  # fmt: skip
    store = StatusStore.build(trust, status_lists=[forged, *lists], crls=crls)
    assert len(store.problems) == 1
    assert _verify(trust, store, revoked.qr_payload).status is Status.INVALID


def test_attack_sm2_crl_with_forged_signature_is_refused(gm: Any) -> None:
    """A CRL naming the 山东 SM2 CA, revoking the 济南 authority's certificate, signed by an attacker's SM2 key
    (an impostor CA certificate with the same name), or the genuine CRL with one signature bit flipped:
    refused, the genuine CRL stays in use."""
    from elicense.crypto.sm2 import Sm2PrivateKey, _sign_tbs
    from elicense.status.crl import CRLError, RevokedCert, build_sm2_crl, index_crl

    trust, lists, crls = _genuine(gm)
    lic = gm.issued["business-licence-jinan"]
    auth_cert = gm.home.certificates(gm.home.authority(lic.licence.issuer.code).cert)[0]
    attacker = Sm2PrivateKey.generate()
    _, ca_cert = _ca(gm)
    impostor = _sign_tbs(ca_cert.subject, ca_cert.subject, attacker.public_key(), attacker,
                         NOW - dt.timedelta(days=1000), NOW + dt.timedelta(days=1000), None,
                         [(x509.BasicConstraints(ca=True, path_length=0), True)])  # fmt: skip
    forged = build_sm2_crl(impostor, attacker, [RevokedCert(auth_cert.serial_number, NOW - dt.timedelta(days=400))],
                           last_update=NOW, next_update=NOW + dt.timedelta(days=7), number=2**40)  # fmt: skip
    assert x509.load_der_x509_crl(forged).issuer == ca_cert.subject
    (genuine,) = [c for c in crls if x509.load_der_x509_crl(c).issuer == ca_cert.subject]
    flipped = bytearray(genuine)
    flipped[-5] ^= 0x01  # inside the SM2 signature's s
    for bad in (forged, bytes(flipped)):
        store = StatusStore.build(trust, status_lists=lists, crls=[*crls, bad])
        assert any("not signed by a trusted CA" in p for p in store.problems)
        assert _verify(trust, store, lic.qr_payload).status is Status.VALID
        with pytest.raises(CRLError):
            index_crl(x509.load_der_x509_crl(bad), [ca_cert])
    # the forged CRL alone: the chain has no authentic CRL → INDETERMINATE, not INVALID
    store = StatusStore.build(trust, status_lists=lists, crls=[c for c in crls if c != genuine] + [forged])
    res = _verify(trust, store, lic.qr_payload)
    assert res.status is Status.INDETERMINATE and [r.code for r in res.reasons] == ["revocation_unknown"]


def test_attack_sm2_crl_with_inner_algorithm_mismatch_is_refused(gm: Any) -> None:
    """An SM2 signature over a TBSCertList whose own ``signature`` field names ECDSA-with-SHA256 (algorithm
    confusion between the signed and unsigned fields, RFC 5280 §5.1.1.2): refused even though it verifies."""
    from asn1crypto import crl as acrl

    from elicense.status.crl import CRLError, load_crl

    key, ca_cert = _ca(gm)
    trust, lists, crls = _genuine(gm)
    (genuine,) = [c for c in crls if x509.load_der_x509_crl(c).issuer == ca_cert.subject]
    parsed = acrl.CertificateList.load(genuine)
    tbs = parsed["tbs_cert_list"]
    tbs["signature"] = {"algorithm": "sha256_ecdsa"}
    tbs_der = tbs.dump(force=True)
    bad = acrl.CertificateList({"tbs_cert_list": acrl.TbsCertList.load(tbs_der),
                                "signature_algorithm": parsed["signature_algorithm"],
                                "signature": key.sign(tbs_der)}).dump()  # fmt: skip
    with pytest.raises(CRLError, match="do not match"):  # refused at parse time (and again by crl_signed_by)
        load_crl(bad)
    store = StatusStore.build(trust, status_lists=lists, crls=[c for c in crls if c != genuine] + [bad])
    assert store.problems
    res = _verify(trust, store, gm.issued["business-licence-jinan"].qr_payload)
    assert res.status is Status.INDETERMINATE and [r.code for r in res.reasons] == ["revocation_unknown"]


def test_attack_ecdsa_crl_in_the_name_of_an_sm2_ca_is_refused(gm: Any) -> None:
    """Algorithm substitution: a P-256-signed CRL carrying the SM2 CA's name (and revoking its authority)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from elicense.status.crl import RevokedCert, build_crl

    _, ca_cert = _ca(gm)
    trust, lists, crls = _genuine(gm)
    lic = gm.issued["business-licence-jinan"]
    auth_cert = gm.home.certificates(gm.home.authority(lic.licence.issuer.code).cert)[0]
    p256 = ec.generate_private_key(ec.SECP256R1())
    forged = build_crl(ca_cert, p256, [RevokedCert(auth_cert.serial_number, NOW - dt.timedelta(days=400))],
                       last_update=NOW, number=2**40)  # fmt: skip
    store = StatusStore.build(trust, status_lists=lists, crls=[*crls, forged])
    assert any("not signed by a trusted CA" in p for p in store.problems)
    assert _verify(trust, store, lic.qr_payload).status is Status.VALID
