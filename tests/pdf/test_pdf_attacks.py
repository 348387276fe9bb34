"""The PDF attack corpus: every tampering is INVALID, validation-data updates stay VALID."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace

import pytest

from conftest import NOW
from elicense.verify.result import Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NAME = "business-licence-jinan"
OTHER = "food-business-licence-jinan"  # same authority, other licence


def _sign(world, issued):  # type: ignore[no-untyped-def]
    from elicense.pdf.sign import seal_and_sign

    entry = world.home.authority(issued.licence.issuer.code)
    return seal_and_sign(issued, world.home.signer(entry))


@pytest.fixture(scope="module")
def good(world) -> bytes:  # type: ignore[no-untyped-def]
    return _sign(world, world.issued[NAME])


def _status(verifier, data: bytes):  # type: ignore[no-untyped-def]
    result = verifier.verify_pdf(data, at=NOW)
    return result.status, {r.code for r in result.reasons}


def _incremental(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    edit(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_good_pdf_is_valid(good, verifier) -> None:  # type: ignore[no-untyped-def]
    assert _status(verifier, good) == (Status.VALID, set())


def test_byte_flip_in_signed_content(good, verifier) -> None:  # type: ignore[no-untyped-def]
    i = good.index(b"stream", 2000) + 40  # inside a signed stream
    flipped = good[:i] + bytes([good[i] ^ 0x01]) + good[i + 1 :]
    status, codes = _status(verifier, flipped)
    assert status is Status.INVALID
    assert codes & {"pdf_signature_invalid", "pdf_malformed"}


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_byte_flips_anywhere_never_valid(good, verifier, where: float) -> None:  # type: ignore[no-untyped-def]
    i = int(len(good) * where)
    flipped = good[:i] + bytes([good[i] ^ 0x20]) + good[i + 1 :]
    assert _status(verifier, flipped)[0] is not Status.VALID


@pytest.mark.parametrize("keep", [0.3, 0.99])
def test_truncation(good, verifier, keep: float) -> None:  # type: ignore[no-untyped-def]
    status, codes = _status(verifier, good[: int(len(good) * keep)])
    assert status is Status.INVALID and "pdf_malformed" in codes


def test_trailing_garbage(good, verifier) -> None:  # type: ignore[no-untyped-def]
    status, codes = _status(verifier, good + b"\n% appended\n1 0 obj\n<<>>\nendobj\n")
    assert status is Status.INVALID and "pdf_malformed" in codes


def test_unsigned_pdf(world, verifier) -> None:  # type: ignore[no-untyped-def]
    from elicense.pdf.render import render_licence

    status, codes = _status(verifier, render_licence(world.issued[NAME]).pdf)
    assert status is Status.INVALID and "pdf_unsigned" in codes


def test_incremental_update_adds_annotation(good, verifier) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    def edit(writer) -> None:  # type: ignore[no-untyped-def]
        page_ref = writer.root["/Pages"]["/Kids"][0]
        page = page_ref.get_object()
        annot = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
                generic.NameObject("/Rect"): generic.ArrayObject(map(generic.NumberObject, (100, 600, 400, 650))),
                generic.NameObject("/Contents"): generic.TextStringObject("已注销"),
            }
        )
        annots = page.get("/Annots", generic.ArrayObject())
        annots = generic.ArrayObject([*annots, writer.add_object(annot)])
        page[generic.NameObject("/Annots")] = annots
        writer.update_container(page)

    status, codes = _status(verifier, _incremental(good, edit))
    assert status is Status.INVALID and "pdf_modified" in codes


def test_incremental_update_replaces_content(good, verifier) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    def edit(writer) -> None:  # type: ignore[no-untyped-def]
        page = writer.root["/Pages"]["/Kids"][0].get_object()
        stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (FAKE) Tj ET")
        page[generic.NameObject("/Contents")] = writer.add_object(stream)
        writer.update_container(page)

    status, codes = _status(verifier, _incremental(good, edit))
    assert status is Status.INVALID and "pdf_modified" in codes


def test_incremental_update_swaps_attachment(good, world, verifier) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import embed

    def edit(writer) -> None:  # type: ignore[no-untyped-def]
        other = world.issued[OTHER].full_payload
        spec = embed.FileSpec(
            file_spec_string="licence.cose",
            embedded_data=embed.EmbeddedFileObject.from_file_data(writer, other, mime_type="application/cose"),
        )
        names = writer.root["/Names"]["/EmbeddedFiles"]
        from pyhanko.pdf_utils import generic

        names[generic.NameObject("/Names")] = generic.ArrayObject(
            [generic.TextStringObject("licence.cose"), writer.add_object(spec.as_pdf_object())]
        )
        writer.update_container(names)

    status, codes = _status(verifier, _incremental(good, edit))
    assert status is Status.INVALID and "pdf_modified" in codes


def test_second_signature_by_untrusted_key(good, verifier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.signers import pdf_signer
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "攻击者")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=9))
        .sign(key, hashes.SHA256())
    )
    asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    asn1_key = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    attacker = signers.SimpleSigner(asn1_cert, asn1_key, SimpleCertificateStore.from_certs([asn1_cert]))
    # an attacker's tool does not honour DocMDP
    monkeypatch.setattr(pdf_signer.PdfSigner, "_enforce_certification_constraints", lambda self, reader: None)
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(good)),
        signers.PdfSignatureMetadata(field_name="Attacker"),
        signer=attacker,
        output=out,
    )
    status, codes = _status(verifier, out.getvalue())
    assert status is Status.INVALID and "pdf_extra_signature" in codes


def test_qr_from_another_licence(world, verifier) -> None:  # type: ignore[no-untyped-def]
    issued = world.issued[NAME]
    swapped = replace(issued, qr_payload=world.issued[OTHER].qr_payload)
    status, codes = _status(verifier, _sign(world, swapped))
    assert status is Status.INVALID and "pdf_qr_mismatch" in codes


def test_attachment_from_another_licence(world, verifier) -> None:  # type: ignore[no-untyped-def]
    issued = world.issued[NAME]
    swapped = replace(issued, full_payload=world.issued[OTHER].full_payload)
    status, codes = _status(verifier, _sign(world, swapped))
    assert status is Status.INVALID and "pdf_qr_mismatch" in codes


def test_qr_and_record_signed_by_another_authority(world, verifier) -> None:  # type: ignore[no-untyped-def]
    from elicense.pdf.sign import seal_and_sign

    issued = world.issued[NAME]
    other_entry = next(a for a in world.home.authorities if a.code != issued.licence.issuer.code)
    data = seal_and_sign(issued, world.home.signer(other_entry))
    status, codes = _status(verifier, data)
    assert status is Status.INVALID and "pdf_signer_mismatch" in codes


def test_untrusted_roots_are_indeterminate(good, world) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import ec

    from elicense.crypto.pki import make_root
    from elicense.trust.store import TrustStore
    from elicense.verify.verifier import Verifier

    key = ec.generate_private_key(ec.SECP256R1())
    root = make_root(
        key, "另一个信任根", not_before=NOW - dt.timedelta(days=400), not_after=NOW + dt.timedelta(days=400)
    )
    store = TrustStore.build(roots=[root], authorities=[])
    result = Verifier(trust=store).verify_pdf(good, at=NOW)
    assert result.status is Status.INDETERMINATE and result.has_reason("pdf_signer_untrusted")


def test_dss_update_keeps_certification_valid(good, world, verifier) -> None:  # type: ignore[no-untyped-def]
    """PAdES: validation data added after a P=1 certification is not a change (B-LT upgrade)."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    entry = world.home.authority(world.issued[NAME].licence.issuer.code)
    certs = world.home.certificates(entry.cert)
    from pyhanko.pdf_utils.reader import PdfFileReader

    sig = PdfFileReader(io.BytesIO(good)).embedded_signatures[0]
    out = io.BytesIO(good)
    DocumentSecurityStore.add_dss(
        out,
        sig.pkcs7_content,
        certs=[asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs],
    )
    updated = out.getvalue()
    assert len(updated) > len(good)
    result = verifier.verify_pdf(updated, at=NOW)
    assert result.status is Status.VALID, result.reasons
    assert any(c.name == "pdf_modifications" and c.detail == "validation data only" for c in result.checks)


def test_oversized_input(verifier) -> None:  # type: ignore[no-untyped-def]
    from elicense.pdf.verify import MAX_PDF_BYTES

    status, codes = _status(verifier, b"%PDF-1.7\n" + b" " * MAX_PDF_BYTES)
    assert status is Status.INVALID and "pdf_too_large" in codes
