"""Verifier regression tests, one per attack, named after it."""

from __future__ import annotations

import datetime as dt
import zlib

import cbor2
import pytest

from conftest import NOW
from elicense.crypto.algorithms import Algorithm
from elicense.crypto.keys import SoftwareSigner, key_id
from elicense.crypto.pki import make_end_entity
from elicense.demo import _key
from elicense.errors import UsageError, VerificationFailed
from elicense.qr import cbor
from elicense.qr.base45 import b45decode, b45encode
from elicense.qr.cose import sign1
from elicense.qr.payload import PREFIX, unwrap, wrap
from elicense.trust.store import TrustedAuthority, TrustStore
from elicense.verify import Status, Verifier

SAMPLE = "business-licence-jinan"


def payload(world, name: str = SAMPLE) -> str:  # type: ignore[no-untyped-def]
    return world.issued[name].qr_payload


def cose_parts(text: str) -> list:  # type: ignore[type-arg]
    return list(cbor2.loads(unwrap(text)).value)


def rewrap(parts: list) -> str:  # type: ignore[type-arg]
    return wrap(cbor2.dumps(cbor2.CBORTag(18, parts)))


def test_genuine_payload_is_valid(world, verifier):  # type: ignore[no-untyped-def]
    result = verifier.verify(payload(world))
    assert result.status is Status.VALID, result.reasons
    assert bool(result) and result.raise_for_status() is result
    assert result.issuer is not None and result.issuer.name == "济南市行政审批服务局"
    assert str(result.licence.id) == str(world.issued[SAMPLE].licence.id)
    assert [c.name for c in result.checks][:3] == ["decode", "algorithm", "signature"]


def test_every_sample_verifies_as_expected(world, verifier):  # type: ignore[no-untyped-def]
    for name, issued in world.issued.items():
        result = verifier.verify(issued.qr_payload)
        bad = ("expired", "revoked", "suspended", "superseded")
        expected = Status.INVALID if any(w in name for w in bad) else Status.VALID
        assert result.status is expected, (name, result.reasons)


def test_tampered_payload_byte_is_invalid(world, verifier):  # type: ignore[no-untyped-def]
    parts = cose_parts(payload(world))
    claims = cbor2.loads(parts[2])
    claims[-65537][4] = "伪造科技有限公司"  # change the holder name (in the CWT's licence claims map)
    parts[2] = cbor.dumps(claims)
    result = verifier.verify(rewrap(parts))
    assert result.status is Status.INVALID
    assert result.has_reason("signature_invalid")
    assert result.licence is None  # nothing from a forged payload is shown


def test_every_single_bit_flip_is_rejected(world, verifier):  # type: ignore[no-untyped-def]
    raw = bytearray(unwrap(payload(world)))
    for i in range(0, len(raw), 3):
        for bit in (0, 5):
            forged = bytearray(raw)
            forged[i] ^= 1 << bit
            assert verifier.verify(PREFIX + b45encode(bytes(forged))).status is not Status.VALID, i


def test_wrong_key_signature_is_invalid(world, verifier):  # type: ignore[no-untyped-def]
    """A forger signs with their own key but reuses a trusted kid."""
    issued = world.issued[SAMPLE]
    genuine_cert = world.home.signer(world.home.authorities[0]).certificate
    forger = SoftwareSigner(_key(b"forger", "x"), _forger_cert(world))
    from elicense.catalog import Catalog
    from elicense.qr import claims as claims_mod

    lt = Catalog.default().get(issued.licence.type_code)
    body = claims_mod.build_claims(issued.licence, lt, signed_at=NOW)
    text = wrap(sign1(body, forger, key_id(genuine_cert)))
    result = verifier.verify(text)
    assert result.status is Status.INVALID and result.has_reason("signature_invalid")


def _forger_cert(world):  # type: ignore[no-untyped-def]
    from elicense.crypto.pki import make_root

    k = _key(b"forger", "x")
    root = make_root(k, "forger root", not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=9))
    return make_end_entity(
        k.public_key(),
        "济南市行政审批服务局",
        uscc=None,
        province=None,
        issuer_cert=root,
        issuer_key=k,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=9),
    )


def test_unknown_kid_is_indeterminate(world, verifier):  # type: ignore[no-untyped-def]
    parts = cose_parts(payload(world))
    parts[0] = cbor.dumps({1: -7, 4: b"\x00" * 8})
    result = verifier.verify(rewrap(parts))
    assert result.status is Status.INDETERMINATE and result.has_reason("unknown_key")
    assert not result


def test_kid_collision_tries_every_certificate(world):  # type: ignore[no-untyped-def]
    """Two trusted certificates share a kid: the verifier must try both."""
    home = world.home
    store = home.trust_store()
    genuine = store.candidates(next(iter(store.keys)))[0]
    jinan = next(k for ks in store.keys.values() for k in ks if k.authority.name == "济南市行政审批服务局")
    decoy = next(k for ks in store.keys.values() for k in ks if k.authority.name != "济南市行政审批服务局")
    colliding = dict(store.keys)
    colliding[jinan.kid] = (
        type(decoy)(jinan.kid, decoy.chain, decoy.authority, decoy.algorithm, decoy.public_key),
        jinan,
    )
    collided = TrustStore(roots=store.roots, keys=colliding, authorities=store.authorities)
    result = Verifier(trust=collided, clock=lambda: NOW).verify(payload(world))
    assert result.status is Status.VALID, result.reasons
    assert result.issuer == jinan.authority
    assert genuine is not None


def test_unknown_algorithm_is_invalid(world, verifier):  # type: ignore[no-untyped-def]
    parts = cose_parts(payload(world))
    kid = cbor2.loads(parts[0])[4]
    parts[0] = cbor.dumps({1: -999, 4: kid})
    result = verifier.verify(rewrap(parts))
    assert result.status is Status.INVALID and result.has_reason("algorithm_not_allowed")


def test_alg_none_is_invalid(world, verifier):  # type: ignore[no-untyped-def]
    parts = cose_parts(payload(world))
    kid = cbor2.loads(parts[0])[4]
    parts[0] = cbor.dumps({1: 0, 4: kid})
    parts[3] = b""
    assert verifier.verify(rewrap(parts)).status is Status.INVALID


def test_alg_swapped_into_unprotected_header_is_invalid(world, verifier):  # type: ignore[no-untyped-def]
    parts = cose_parts(payload(world))
    parts[1] = {1: -8}
    result = verifier.verify(rewrap(parts))
    assert result.status is Status.INVALID and result.has_reason("payload_malformed")


def test_algorithm_outside_allow_list_is_invalid(world):  # type: ignore[no-untyped-def]
    v = Verifier(trust=world.home.trust_store(), clock=lambda: NOW, algorithms=[Algorithm.EDDSA])
    result = v.verify(payload(world))
    assert result.status is Status.INVALID and result.has_reason("algorithm_not_allowed")


def test_der_signature_instead_of_raw_is_invalid(world, verifier):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    parts = cose_parts(payload(world))
    sig = parts[3]
    parts[3] = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    assert verifier.verify(rewrap(parts)).has_reason("signature_invalid")


def test_signed_after_certificate_expiry_is_invalid(world):  # type: ignore[no-untyped-def]
    from elicense.issue import sign_licence

    issued = world.issued[SAMPLE]
    signer = world.home.signer(world.home.authorities[0])
    late = signer.certificate.not_valid_after_utc + dt.timedelta(days=1)
    text = sign_licence(issued.licence, signer, at=late).qr_payload
    v = Verifier(trust=world.home.trust_store(), clock=lambda: late + dt.timedelta(days=1))
    result = v.verify(text)
    assert result.status is Status.INVALID and result.has_reason("certificate_expired")


def test_signed_before_certificate_validity_is_invalid(world):  # type: ignore[no-untyped-def]
    from elicense.issue import sign_licence

    signer = world.home.signer(world.home.authorities[0])
    early = signer.certificate.not_valid_before_utc - dt.timedelta(days=1)
    text = sign_licence(world.issued[SAMPLE].licence, signer, at=early).qr_payload
    result = Verifier(trust=world.home.trust_store(), clock=lambda: NOW).verify(text)
    assert result.has_reason("certificate_not_yet_valid")


def test_licence_stays_valid_after_certificate_expiry(world):  # type: ignore[no-untyped-def]
    """Signed while the certificate was valid: a long-term licence outlives its key."""
    signer = world.home.signer(world.home.authorities[0])
    later = signer.certificate.not_valid_after_utc + dt.timedelta(days=400)
    result = Verifier(trust=world.home.trust_store(), clock=lambda: later).verify(payload(world))
    assert result.status is Status.VALID, result.reasons


def test_signing_time_in_future_is_invalid(world):  # type: ignore[no-untyped-def]
    from elicense.issue import sign_licence

    signer = world.home.signer(world.home.authorities[0])
    text = sign_licence(world.issued[SAMPLE].licence, signer, at=NOW + dt.timedelta(hours=2)).qr_payload
    result = Verifier(trust=world.home.trust_store(), clock=lambda: NOW).verify(text)
    assert result.has_reason("signed_in_future")


def test_expired_licence_is_invalid(world, verifier):  # type: ignore[no-untyped-def]
    result = verifier.verify(payload(world, "food-business-licence-expired"))
    assert result.status is Status.INVALID and result.has_reason("licence_expired")
    with pytest.raises(VerificationFailed):
        result.raise_for_status()


def test_not_yet_valid_licence_is_invalid(world, verifier):  # type: ignore[no-untyped-def]
    lic = world.issued[SAMPLE].licence
    before = dt.datetime.combine(lic.validity.start, dt.time(), dt.UTC) - dt.timedelta(days=2)
    result = verifier.verify(payload(world), at=before)
    assert result.has_reason("licence_not_yet_valid")


def test_authority_not_authorised_for_type_is_invalid(world):  # type: ignore[no-untyped-def]
    store = world.home.trust_store()
    entries = []
    for a in world.home.authorities:
        types = frozenset() if a.name == "济南市行政审批服务局" else frozenset(a.licence_types)
        entries.append((TrustedAuthority(a.name, a.code, a.area_code, types), world.home.certificates(a.cert)))
    restricted = TrustStore.build(
        roots=store.roots, intermediates=world.home.intermediate_certificates(), authorities=entries
    )
    result = Verifier(trust=restricted, clock=lambda: NOW).verify(payload(world))
    assert result.status is Status.INVALID and result.has_reason("type_not_authorised")


def test_authority_withdrawn_before_signing_is_invalid_after_is_valid(world):  # type: ignore[no-untyped-def]
    signed = world.issued[SAMPLE].signed_at
    for withdrawn, expected in (
        (signed - dt.timedelta(days=1), Status.INVALID),
        (signed + dt.timedelta(days=1), Status.VALID),
    ):
        entries = [
            (
                TrustedAuthority(
                    a.name,
                    a.code,
                    a.area_code,
                    frozenset(a.licence_types),
                    withdrawn_at=withdrawn if a.name == "济南市行政审批服务局" else None,
                ),
                world.home.certificates(a.cert),
            )
            for a in world.home.authorities
        ]
        store = TrustStore.build(
            roots=world.home.root_certificates(),
            intermediates=world.home.intermediate_certificates(),
            authorities=entries,
        )
        assert Verifier(trust=store, clock=lambda: NOW).verify(payload(world)).status is expected


def test_stale_trust_is_indeterminate(world, verifier):  # type: ignore[no-untyped-def]
    result = verifier.verify(payload(world), at=NOW + dt.timedelta(days=60))
    assert result.status is Status.INDETERMINATE and result.has_reason("trust_stale")


def test_certificate_not_chaining_to_root_is_rejected_at_load(world):  # type: ignore[no-untyped-def]
    from elicense.errors import TrustError

    with pytest.raises(TrustError):
        TrustStore.build(
            roots=world.home.root_certificates(),
            intermediates=[],
            authorities=[(TrustedAuthority("x", "11370100MB28571989", "370100"), [_forger_cert(world)])],
        )


def test_oversized_payload_is_invalid_not_a_crash(verifier):  # type: ignore[no-untyped-def]
    result = verifier.verify("EL2:" + "0" * 100_000)
    assert result.status is Status.INVALID and result.has_reason("payload_too_large")


def test_zlib_bomb_is_refused(verifier):  # type: ignore[no-untyped-def]
    bomb = zlib.compress(b"\x00" * 10_000_000, 9)
    result = verifier.verify(PREFIX + b45encode(bomb))
    assert result.has_reason("payload_too_large")


def test_deeply_nested_cbor_is_refused(verifier):  # type: ignore[no-untyped-def]
    nested = b"\x81" * 2000 + b"\x00"
    result = verifier.verify(PREFIX + b45encode(zlib.compress(nested)))
    assert result.status is Status.INVALID


def test_regex_tag_is_refused_not_compiled(verifier):  # type: ignore[no-untyped-def]
    evil = cbor2.dumps(cbor2.CBORTag(18, [b"", {}, cbor2.dumps(cbor2.CBORTag(35, "(a+)+$")), b""]))
    assert verifier.verify(wrap(evil)).has_reason("payload_malformed")


@pytest.mark.parametrize("text", ["", "EL2:", "HC1:ABC", "EL2:é", "EL2:::::", "EL2:" + "Z" * 30, "\x00" * 10])
def test_garbage_is_invalid_with_reason(verifier, text):  # type: ignore[no-untyped-def]
    result = verifier.verify(text)
    assert result.status is Status.INVALID and result.reasons


def test_naive_datetime_is_misuse(verifier, world):  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        verifier.verify(payload(world), at=dt.datetime(2026, 1, 1))


def test_verifier_requires_explicit_trust():  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        Verifier(trust=None)  # type: ignore[arg-type]


def test_base45_roundtrip_and_garbage():
    assert b45decode(b45encode(b"hello \x00\xff")) == b"hello \x00\xff"
    assert b45decode("QED8WEX0") == b"ietf!"
    for bad in ("GGW", "A", ":::", "a"):
        with pytest.raises(Exception):  # noqa: B017 - PayloadError is an Exception
            b45decode(bad)
