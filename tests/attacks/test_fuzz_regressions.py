"""Regression tests for what fuzzing found (tests/fuzz): each named after the finding."""

from __future__ import annotations

import base64
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from elicense.errors import PayloadError, TrustError
from elicense.qr import cbor
from elicense.verify.result import Status
from fuzz._corpus import _ep1_original, _fresh_verifier, bundle_payload, world


def _broken_subject(der: bytes, subject: bytes) -> bytes:
    """``der`` with two invalid UTF-8 bytes in the subject's first UTF8String (parsed lazily by cryptography)."""
    at = der.index(subject) + subject.index(b"\x0c") + 2
    return der[:at] + b"\xff\xff" + der[at + 2 :]


def test_attack_cbor_trailing_bytes_after_cose_is_refused() -> None:
    """atheris el1/el1_cose/ep1_cose: a genuine COSE_Sign1 followed by junk verified VALID (cbor2 stops
    after the first item): a second encoding of one signed message. Now a decode error."""
    from elicense.present.presentation import wrap as ep1_wrap
    from elicense.qr.payload import unwrap, wrap

    genuine = unwrap(world().el1["business-licence-jinan"])
    assert world().verifier.verify(wrap(genuine)).status is Status.VALID
    for junk in (b"\x00", b"\x00" * 40, b"\xf6", genuine):
        with pytest.raises(PayloadError, match="trailing"):
            cbor.loads(genuine + junk, allowed_tags=frozenset({18}))
        assert world().verifier.verify(wrap(genuine + junk)).status is Status.INVALID
        assert _fresh_verifier().verify(ep1_wrap(_ep1_original() + junk)).status is not Status.VALID


@pytest.mark.parametrize("encoded", [b"\xf7", b"\xf0", b"\xf8\x20", b"\x82\x01\xf3", b"\xa1\x01\xf7"])
def test_attack_cbor_simple_value_is_refused(encoded: bytes) -> None:
    """hypothesis cbor: ``undefined`` and ``simple(n)`` came back as non-plain cbor2 objects."""
    with pytest.raises(PayloadError, match="not allowed"):
        cbor.loads(encoded)


def test_attack_bundle_certificate_with_unparsable_subject_is_typed() -> None:
    """atheris bundle_content: a signer certificate whose subject only fails when read (cryptography parses
    it lazily) escaped as ValueError from the chain-error message. Now a TrustError at load."""
    from elicense.crypto.keys import key_id
    from elicense.qr.cose import sign1
    from elicense.trust.bundle import load_bundle

    w = world()
    signer = w.bundle_signer
    doc: dict[str, Any] = cbor2.loads(bundle_payload())
    der = signer.certificate.public_bytes(Encoding.DER)
    doc["signer"] = [_broken_subject(der, signer.certificate.subject.public_bytes())]
    message = sign1(cbor.dumps(doc), signer, key_id(signer.certificate))
    with pytest.raises(TrustError, match="not a certificate"):
        load_bundle(message, anchors=[w.bundle_obj.current_root])


def test_attack_trust_list_certificate_with_unparsable_subject_is_typed() -> None:
    """The same lazily-parsed subject in a trust list's KeyInfo."""
    from elicense.trust.lists import read_national_list

    w = world()
    xml = w.bundle_obj.national_xml
    cert = w.bundle_obj.current_root  # any certificate the list could carry
    der = cert.public_bytes(Encoding.DER)
    bad = base64.b64encode(_broken_subject(der, cert.subject.public_bytes()))
    start = xml.index(b"<ds:X509Certificate>") + len(b"<ds:X509Certificate>")
    end = xml.index(b"</ds:X509Certificate>")
    with pytest.raises(TrustError):
        read_national_list(xml[:start] + bad + xml[end:], roots=[cert])


def test_attack_certificate_with_invalid_version_is_typed() -> None:
    """atheris trust_list_xml: a certificate with version 106 raised ``x509.InvalidVersion`` (not a ValueError)."""
    from cryptography import x509

    der = world().bundle_obj.current_root.public_bytes(Encoding.DER)
    at = der.index(b"\xa0\x03\x02\x01\x02") + 4
    bad = der[:at] + b"\x6a" + der[at + 1 :]
    with pytest.raises(x509.InvalidVersion):
        x509.load_der_x509_certificate(bad)  # what cryptography does
    _assert_every_certificate_loader_refuses(bad)


def test_attack_certificate_name_with_bitstring_attribute_is_typed() -> None:
    """atheris ses_signature: a name attribute encoded as BIT STRING (not x500UniqueIdentifier) made cryptography
    raise TypeError when the name was read. Now a typed error wherever certificates come from outside."""

    root = world().bundle_obj.current_root
    der = root.public_bytes(Encoding.DER)
    at = der.index(root.subject.public_bytes()) + root.subject.public_bytes().index(b"\x13\x02CN")
    bad = der[:at] + b"\x03\x02\x00N" + der[at + 4 :]
    _assert_every_certificate_loader_refuses(bad)


def test_attack_ca_certificate_with_unsupported_curve_is_skipped() -> None:
    """atheris region_list: a CA certificate (from the unverified list) on an unknown curve made path building
    raise ``UnsupportedAlgorithm``. Now that candidate is skipped: no chain is a TrustError, a genuine CA still works."""
    from elicense.trust.lists import _certs, _parse, read_national_list, validate_list_signer

    b = world().bundle_obj
    root = b.current_root
    nl, _ = read_national_list(b.national_xml, roots=[root])
    pointer = next(p for p in nl.pointers if p.region == "370000")
    cas = _certs(_parse(b.region_xml["370000"]), "CACertificates")
    assert cas, "the region list carries its CA"
    der = cas[0].public_bytes(Encoding.DER)
    p256 = bytes.fromhex("06082a8648ce3d030107")
    bad_ca = der.replace(p256, p256[:-1] + b"\x63", 1)  # 1.2.840.10045.3.1.99: no such curve
    assert bad_ca != der
    from cryptography import x509

    bad = x509.load_der_x509_certificate(bad_ca)
    if pointer.signer.issuer == root.subject:
        pytest.skip("the region operator is issued by the root directly: no CA on the path")
    with pytest.raises(TrustError):
        validate_list_signer(pointer.signer, roots=[root], intermediates=[bad])
    chain = validate_list_signer(pointer.signer, roots=[root], intermediates=[bad, *cas])
    assert chain.chain[0] == pointer.signer


@pytest.mark.parametrize("replacement", [b"\x03\x02\x00N", b"\x0d\x02CN"])
def test_attack_crl_with_unparsable_issuer_is_refused_not_a_crash(replacement: bytes) -> None:
    """hypothesis crl: a CRL whose issuer name only fails when read (lazily) escaped as ValueError from
    ``StatusStore.build``. Now ``load_crl`` refuses it and the store lists it as a problem."""
    import json

    from elicense.status.crl import CRLError, load_crl
    from elicense.status.store import StatusStore

    w = world()
    good = base64.b64decode(json.loads(w.bundle_obj.extras["status"])["crls"][0])
    crl = load_crl(good)
    name = crl.issuer.public_bytes()
    at = good.index(name) + name.index(b"\x13\x02CN")
    bad = good[:at] + replacement + good[at + 4 :]
    with pytest.raises(CRLError):
        load_crl(bad)
    store = StatusStore.build(w.verifier.trust, crls=[bad])
    assert store.problems and not store.crls


def test_attack_crl_with_invalid_version_is_refused() -> None:
    """atheris crl: a CRL with version 96 raised ``x509.InvalidVersion`` (not a ValueError) from ``load_crl``."""
    import json

    from elicense.status.crl import CRLError, load_crl

    good = base64.b64decode(json.loads(world().bundle_obj.extras["status"])["crls"][0])
    at = good.index(b"\x02\x01\x01")  # TBSCertList.version v2(1)
    bad = good[: at + 2] + b"\x60" + good[at + 3 :]
    with pytest.raises(CRLError):
        load_crl(bad)


@pytest.mark.parametrize("name", ["kiosk" + "A" * 300 + ".js", "kiosk\x00.js", "ä" * 200 + ".css"])
def test_attack_kiosk_static_name_too_long_is_404(name: str) -> None:
    """atheris kiosk: ``GET /static/<300 characters>`` raised OSError (ENAMETOOLONG) out of the app. Now 404."""
    from fuzz._corpus import kiosk_app

    r = kiosk_app().handle("GET", "/static/" + name)
    assert r.status == 404 and r.json()["error"]["code"] == "not_found"


def _assert_every_certificate_loader_refuses(bad: bytes) -> None:
    """A malformed certificate is a typed error wherever certificates come from outside: trust lists, PEM, SM2."""
    from elicense.crypto.pki import load_pem_certificates
    from elicense.trust.lists import _cert

    with pytest.raises(TrustError):
        _cert(base64.b64encode(bad).decode())
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bad) + b"-----END CERTIFICATE-----\n"
    with pytest.raises(TrustError):
        load_pem_certificates(pem)
    sm2 = pytest.importorskip("elicense.crypto.sm2")
    from elicense.errors import CryptoError

    with pytest.raises(CryptoError):
        sm2.load_certificate(bad)


def test_attack_pdf_with_unknown_subfilter_prints_no_traceback(tmp_path: Any) -> None:
    """atheris pdf: pyHanko logs a refused signature with its traceback and sets up no logging handler,
    so ``elicense verify`` printed the traceback on stderr (logging's last resort). Now only the verdict."""
    import os
    import re
    import subprocess
    import sys

    from fuzz._corpus import NOW, pdf_seed

    pdf = pdf_seed()[0]
    found = re.search(rb"/SubFilter */[A-Za-z.]+", pdf)
    assert found is not None
    hostile = tmp_path / "subfilter.pdf"
    hostile.write_bytes(pdf.replace(found.group(0), found.group(0)[:-2] + b"Xd", 1))  # same length
    env = {k: v for k, v in os.environ.items() if k != "ELICENSE_TRUST"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "elicense.cli",
            "verify",
            str(hostile),
            "--trust",
            str(world().demo.trust_file),
            "--at",
            NOW.isoformat(),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "INVALID" in proc.stdout
    assert proc.stderr == ""
