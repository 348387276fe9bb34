"""Keys at rest, signers, algorithm allow-list and PKI profiles (all three algorithms end to end)."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import NOW
from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
from elicense.crypto.keys import (
    SoftwareSigner,
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    key_id,
)
from elicense.crypto.pki import (
    OID_EKU_TRUST_LIST_SIGNING,
    make_end_entity,
    make_regional_ca,
    make_root,
    uscc_of,
    validate_chain,
)
from elicense.errors import AlgorithmNotAllowed, CryptoError, TrustError
from elicense.issue import sign_licence
from elicense.trust.store import TrustedAuthority, TrustStore
from elicense.verify import Status, Verifier

DAY = dt.timedelta(days=1)


def pki(alg: Algorithm):  # type: ignore[no-untyped-def]
    root_key, ca_key, ee_key = (generate_private_key(alg) for _ in range(3))
    root = make_root(root_key, "root", not_before=NOW - 900 * DAY, not_after=NOW + 900 * DAY)
    ca = make_regional_ca(
        ca_key,
        "ca",
        province="山东省",
        issuer_cert=root,
        issuer_key=root_key,
        not_before=NOW - 800 * DAY,
        not_after=NOW + 800 * DAY,
    )
    ee = make_end_entity(
        ee_key.public_key(),
        "济南市行政审批服务局",
        uscc="11370100MB28571989",
        province="山东省",
        issuer_cert=ca,
        issuer_key=ca_key,
        not_before=NOW - 700 * DAY,
        not_after=NOW + 700 * DAY,
    )
    return root, ca, ee, ee_key


def test_private_key_roundtrip_is_encrypted() -> None:
    key = generate_private_key()
    pem = encrypt_private_key(key, b"s3cret")
    assert b"ENCRYPTED" in pem
    assert decrypt_private_key(pem, b"s3cret").private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    with pytest.raises(CryptoError):
        decrypt_private_key(pem, b"wrong")
    with pytest.raises(CryptoError):
        encrypt_private_key(key, b"")


def test_unencrypted_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization

    key = generate_private_key()
    plain = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(CryptoError):
        decrypt_private_key(plain, b"x")


def test_signer_must_match_certificate() -> None:
    _, _, ee, _ = pki(Algorithm.ES256)
    with pytest.raises(CryptoError):
        SoftwareSigner(generate_private_key(), ee)


def test_certificate_profile() -> None:
    from cryptography import x509

    root, ca, ee, _ = pki(Algorithm.ES256)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    ku = ee.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    assert uscc_of(ee) == "11370100MB28571989"
    chain = validate_chain(ee, roots=[root], intermediates=[ca])
    assert chain.chain[0] == ee and chain.chain[-1] == root
    assert chain.not_before == ee.not_valid_before_utc and chain.not_after == ee.not_valid_after_utc


def test_wrong_extended_key_usage_does_not_chain() -> None:
    root, ca, ee, _ = pki(Algorithm.ES256)
    with pytest.raises(TrustError):
        validate_chain(ee, roots=[root], intermediates=[ca], eku=OID_EKU_TRUST_LIST_SIGNING)


def test_kid_is_eight_bytes_of_sha256() -> None:
    import hashlib

    from cryptography.hazmat.primitives.serialization import Encoding

    _, _, ee, _ = pki(Algorithm.ES256)
    assert key_id(ee) == hashlib.sha256(ee.public_bytes(Encoding.DER)).digest()[:8]


@pytest.mark.parametrize("alg", [Algorithm.ES256, Algorithm.EDDSA, Algorithm.PS256])
def test_each_algorithm_end_to_end_and_allow_list(alg: Algorithm, world) -> None:  # type: ignore[no-untyped-def]
    root, ca, ee, key = pki(alg)
    licence = world.issued["business-licence-jinan"].licence
    authority = TrustedAuthority("济南市行政审批服务局", licence.issuer.code, "370100", frozenset({licence.type_code}))
    store = TrustStore.build(roots=[root], intermediates=[ca], authorities=[(authority, [ee])])
    text = sign_licence(licence, SoftwareSigner(key, ee, (ca,)), at=NOW).qr_payload
    assert Verifier(trust=store, clock=lambda: NOW, algorithms=[alg]).verify(text).status is Status.VALID
    others = [a for a in Algorithm if a is not alg]
    refused = Verifier(trust=store, clock=lambda: NOW, algorithms=others).verify(text)
    assert refused.status is Status.INVALID and refused.has_reason("algorithm_not_allowed")


def test_algorithm_labels_and_policy() -> None:
    assert Algorithm.from_label("es256") is Algorithm.ES256
    with pytest.raises(AlgorithmNotAllowed):
        Algorithm.from_label("HS256")
    with pytest.raises(CryptoError):
        AlgorithmPolicy(frozenset())
    with pytest.raises(AlgorithmNotAllowed):
        AlgorithmPolicy.of(["EdDSA"]).check(Algorithm.ES256)
