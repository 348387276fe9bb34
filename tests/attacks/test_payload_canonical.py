"""One licence, one byte string: second encodings of a signed payload are not VALID, and a ``crit`` header
has its own reason. Each attack holds through the Python API, the CLI and the kiosk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import NOW
from elicense.qr import cbor
from elicense.qr.cose import P256_ORDER, sig_structure
from elicense.qr.payload import unwrap, wrap
from elicense.verify import Status

from ._support import verify_cli

SAMPLE = "business-licence-jinan"


def _genuine(world) -> bytes:  # type: ignore[no-untyped-def]
    return unwrap(world.issued[SAMPLE].qr_payload)


def _signer(world):  # type: ignore[no-untyped-def]
    issued = world.issued[SAMPLE]
    return world.home.signer(world.home.authority(issued.licence.issuer.code))


def _everywhere(world, verifier, text: str, code: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """INVALID with ``code`` from the API, the CLI (exit 1, JSON) and the kiosk (HTTP 200 JSON)."""
    from elicense.kiosk.server import make_app

    result = verifier.verify(text, at=NOW)
    assert result.status is Status.INVALID and {r.code for r in result.reasons} == {code}, result.reasons
    path = tmp_path / "payload.txt"
    path.write_text(text)
    run = verify_cli(str(path), "--json", trust=world.trust_file, at=NOW)
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert doc["status"] == "INVALID" and [r["code"] for r in doc["reasons"]] == [code]
    kiosk = make_app(verifier).handle("POST", "/api/verify", text.encode()).json()
    assert kiosk["status"] == "INVALID" and [r["code"] for r in kiosk["reasons"]] == [code]


def test_genuine_payload_is_valid(world, verifier) -> None:  # type: ignore[no-untyped-def]
    assert verifier.verify(world.issued[SAMPLE].qr_payload, at=NOW).status is Status.VALID


def test_our_signatures_are_always_low_s(world) -> None:  # type: ignore[no-untyped-def]
    """cryptography (OpenSSL) signs high-S about half the time: ``sign1`` normalises every signature."""
    from elicense.qr.cose import parse_sign1, sign1

    signer = _signer(world)
    for i in range(64):
        message = parse_sign1(sign1(b"payload %d" % i, signer, b"k" * 8))
        assert int.from_bytes(message.signature[32:], "big") <= P256_ORDER // 2


def test_attack_high_s_signature_is_not_a_second_valid_encoding(world, verifier, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from cryptography.hazmat.primitives.hashes import SHA256

    good = _genuine(world)
    obj = cbor.loads(good, allowed_tags=frozenset({18}), max_depth=4)
    protected, _unprotected, payload, signature = obj.value
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    high = signature[:32] + (P256_ORDER - s).to_bytes(32, "big")
    # the mirrored signature is mathematically valid for the same key and bytes...
    key = _signer(world).certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(encode_dss_signature(r, P256_ORDER - s), sig_structure(protected, payload), ec.ECDSA(SHA256()))
    forged = cbor.dumps(cbor.tag(18, [protected, {}, payload, high]))
    assert forged != good
    # ...but it is a second encoding of the same licence: refused
    _everywhere(world, verifier, wrap(forged), "payload_not_canonical", tmp_path)


@pytest.mark.parametrize("where", ["protected-length", "payload-length", "long-form-tag-18", "signature-length"])
def test_attack_non_minimal_cbor_heads_in_the_cose_structure(world, verifier, tmp_path, where: str) -> None:  # type: ignore[no-untyped-def]
    """Re-encoding the envelope needs no key: every such variant must stay a non-VALID second encoding."""
    good = _genuine(world)
    obj = cbor.loads(good, allowed_tags=frozenset({18}), max_depth=4)
    protected, _unprotected, payload, signature = obj.value

    def bstr(b: bytes, long: bool) -> bytes:
        return (b"\x59" + len(b).to_bytes(2, "big") if long else cbor.dumps(b)[: len(cbor.dumps(b)) - len(b)]) + b

    tag = b"\xd8\x12" if where == "long-form-tag-18" else b"\xd2"
    forged = (
        tag
        + b"\x84"
        + bstr(protected, where == "protected-length")
        + b"\xa0"
        + bstr(payload, where == "payload-length")
        + bstr(signature, where == "signature-length")
    )
    assert forged != good and cbor.loads(forged, allowed_tags=frozenset({18}), max_depth=4).value == obj.value
    _everywhere(world, verifier, wrap(forged), "payload_not_canonical", tmp_path)


def test_attack_non_minimal_heads_in_signed_claims(world, verifier, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A (rogue but trusted) signer re-encodes the claims map with a long-form head: same claims, other
    signed bytes. The verifier accepts only the canonical encoding."""
    from elicense.crypto.algorithms import der_to_cose
    from elicense.qr.cose import low_s

    good = _genuine(world)
    protected, _u, payload, _sig = cbor.loads(good, allowed_tags=frozenset({18}), max_depth=4).value
    assert 0xA0 <= payload[0] < 0xB8  # a map of fewer than 24 entries: one-byte head
    claims = b"\xb8" + bytes((payload[0] - 0xA0,)) + payload[1:]
    assert cbor.loads(claims, max_depth=3) == cbor.loads(payload, max_depth=3)
    signer = _signer(world)
    signature = low_s(-7, der_to_cose(signer.algorithm, signer.sign(sig_structure(protected, claims))))
    forged = cbor.dumps(cbor.tag(18, [protected, {}, claims, signature]))
    _everywhere(world, verifier, wrap(forged), "payload_not_canonical", tmp_path)


def test_attack_crit_protected_header_has_its_own_reason(world, verifier, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from elicense.crypto.algorithms import der_to_cose
    from elicense.qr.cose import low_s

    good = _genuine(world)
    protected, _u, payload, _sig = cbor.loads(good, allowed_tags=frozenset({18}), max_depth=4).value
    header = cbor.loads(protected, max_depth=1)
    crit = cbor.dumps({**header, 2: [99], 99: "must understand"})
    signer = _signer(world)
    signature = low_s(-7, der_to_cose(signer.algorithm, signer.sign(sig_structure(crit, payload))))
    forged = cbor.dumps(cbor.tag(18, [crit, {}, payload, signature]))
    _everywhere(world, verifier, wrap(forged), "critical_header_unsupported", tmp_path)
    from elicense.verify.result import REASONS

    assert "crit" in REASONS["critical_header_unsupported"].zh
