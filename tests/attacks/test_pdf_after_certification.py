"""Changes after a DocMDP P=1 certification that are not validation data, and revision bombs.

PAdES exempts only validation data (DSS) and document timestamps from trusted TSAs; everything else
appended after the certification — however harmless it looks to a difference analysis — is INVALID.
Revision, xref-section and object counts are bounded *before* pyHanko's (quadratic) analysis runs.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest

from conftest import NOW
from elicense.verify import Status

from ._support import verify_cli
from .test_pdf_incremental import _n, _page, incremental

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _verdict(verifier, data: bytes) -> tuple[Status, set[str], str]:  # type: ignore[no-untyped-def]
    result = verifier.verify_pdf(data, at=NOW)
    details = " ".join(r.detail or "" for r in result.reasons)
    return result.status, {r.code for r in result.reasons}, details


def empty_revisions(data: bytes, count: int) -> bytes:
    """Append ``count`` incremental updates that change nothing (an empty xref section each)."""
    trailer = re.findall(rb"trailer\s*(<<.*?>>)\s*startxref", data, re.S)[-1]
    trailer = re.sub(rb"/Prev\s+\d+", b"", trailer)
    prev = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    out = bytearray(data)
    for _ in range(count):
        at = len(out)
        out += b"xref\n0 0\ntrailer\n" + trailer[:-2] + b"/Prev %d>>\nstartxref\n%d\n%%%%EOF\n" % (prev, at)
        prev = at
    return bytes(out)


def _count_analysis(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of pyHanko's signature validation (where its difference analysis runs)."""
    import pyhanko.sign.validation as validation

    calls = [0]
    real = validation.validate_pdf_signature

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(validation, "validate_pdf_signature", counting)
    return calls


# -- bounded work ---------------------------------------------------------------------------------


def test_attack_pdf_with_thousands_of_empty_revisions_is_bounded(verifier, signed_pdf, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = _count_analysis(monkeypatch)
    status, codes, _ = _verdict(verifier, empty_revisions(signed_pdf, 3000))
    assert status is Status.INVALID and codes == {"pdf_too_complex"}
    assert calls[0] == 0  # refused before pyHanko's difference analysis


def test_attack_pdf_revisions_hidden_from_a_byte_scan_are_still_counted(verifier, signed_pdf, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Revisions as xref streams whose ``/Type /XRef`` is spelt with a name escape: the parsed count
    is checked too, still before the analysis."""
    from elicense.pdf.verify import MAX_REVISIONS

    trailer = re.findall(rb"trailer\s*(<<.*?>>)\s*startxref", signed_pdf, re.S)[-1]
    root = re.search(rb"/Root\s+\d+\s+\d+\s+R", trailer)
    size = int(re.search(rb"/Size\s+(\d+)", trailer).group(1))  # type: ignore[union-attr]
    assert root is not None
    prev = int(re.findall(rb"startxref\s+(\d+)", signed_pdf)[-1])
    out = bytearray(signed_pdf)
    for i in range(MAX_REVISIONS + 2):
        at = len(out)
        num = size + i
        out += (
            b"%d 0 obj\n<</Type/X#52ef/Size %d/W[1 4 2]/Index[%d 1]" % (num, num + 1, num)
            + root.group()
            + b"/Prev %d/Length 7>>\nstream\n" % prev
            + b"\x01"
            + at.to_bytes(4, "big")
            + b"\x00\x00"
            + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at
        )
        prev = at
    calls = _count_analysis(monkeypatch)
    status, codes, _ = _verdict(verifier, bytes(out))
    assert status is Status.INVALID and codes & {"pdf_too_complex", "pdf_malformed"}
    assert calls[0] == 0


def test_parsed_structure_is_checked_even_if_the_byte_scan_misses(verifier, signed_pdf, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Defence in depth: with the raw byte scan disabled, the count of what pyHanko parsed still refuses
    a revision bomb before the analysis."""
    import elicense.pdf.verify as pdf_verify

    monkeypatch.setattr(pdf_verify, "_scan_structure", lambda data: None)
    calls = _count_analysis(monkeypatch)
    status, codes, _ = _verdict(verifier, empty_revisions(signed_pdf, 40))
    assert status is Status.INVALID and codes == {"pdf_too_complex"}
    assert calls[0] == 0


def test_attack_pdf_with_too_many_objects_is_bounded(verifier, signed_pdf, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    from elicense.pdf.verify import MAX_OBJECTS

    def edit(writer: Any) -> None:
        items = [writer.add_object(generic.NumberObject(i)) for i in range(MAX_OBJECTS + 10)]
        page = _page(writer)
        page[_n("/X")] = generic.ArrayObject(items)
        writer.update_container(page)

    calls = _count_analysis(monkeypatch)
    status, codes, _ = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes == {"pdf_too_complex"}
    assert calls[0] == 0


# -- changes after certification ------------------------------------------------------------------


def test_attack_empty_revision_after_certification_is_invalid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    status, codes, detail = _verdict(verifier, empty_revisions(signed_pdf, 1))
    assert status is Status.INVALID and codes == {"pdf_modified"}
    assert "empty revision" in detail


def _info(writer: Any) -> Any:
    """The document information dictionary, made if the PDF has none (PDF/A-3b keeps metadata in XMP)."""
    from pyhanko.pdf_utils import generic

    try:
        return writer.trailer["/Info"]
    except KeyError:
        ref = writer.add_object(generic.DictionaryObject())
        writer.trailer[_n("/Info")] = ref
        return ref.get_object()


def test_attack_info_edit_after_certification_is_invalid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        info = _info(writer)
        info[_n("/Title")] = generic.TextStringObject("作废 — 本证照已吊销")
        writer.update_container(info)

    status, codes, detail = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes == {"pdf_modified"}
    assert "/Info" in detail


def test_writer_restamping_the_modification_date_is_not_an_edit(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """What a PDF writer (an LTV tool adding validation data) restamps on save — /ModDate, /Producer —
    is not an edit of the document information; everything else in /Info is (test above)."""
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        info = _info(writer)
        info[_n("/ModDate")] = generic.TextStringObject("D:20260601080000Z")
        info[_n("/Producer")] = generic.TextStringObject("an LTV tool")
        writer.update_container(info)

    result = verifier.verify_pdf(incremental(signed_pdf, edit), at=NOW)
    assert result.status is Status.VALID, result.reasons


def test_attack_new_info_dictionary_after_certification_is_invalid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        info = writer.add_object(generic.DictionaryObject({_n("/Title"): generic.TextStringObject("forged")}))
        writer.trailer[_n("/Info")] = info

    status, codes, _ = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes == {"pdf_modified"}


def test_attack_xmp_edit_after_certification_is_invalid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    xmp = (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>REVOKED</dc:title></rdf:Description>'
        b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )

    def edit(writer: Any) -> None:
        stream = generic.StreamObject({_n("/Type"): _n("/Metadata"), _n("/Subtype"): _n("/XML")}, stream_data=xmp)
        writer.root[_n("/Metadata")] = writer.add_object(stream)
        writer.update_root()

    status, codes, _ = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes == {"pdf_modified"}


def test_attack_xmp_rewritten_in_place_after_certification_is_invalid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """The certification's own XMP object, rewritten with a new title (only writer stamps may differ)."""
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        ref = writer.root.raw_get("/Metadata")
        old = ref.get_object().data
        new = old.replace(
            b'rdf:about=""', b'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:title="REVOKED"'
        )
        assert new != old
        writer.mark_update(ref)
        writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(
            {_n("/Type"): _n("/Metadata"), _n("/Subtype"): _n("/XML")}, stream_data=new
        )

    status, codes, _ = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes == {"pdf_modified"}


def test_attack_need_appearances_after_certification_is_invalid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        form = writer.root["/AcroForm"]
        form[_n("/NeedAppearances")] = generic.BooleanObject(True)
        if isinstance(writer.root.raw_get("/AcroForm"), generic.IndirectObject):
            writer.update_container(form)
        else:
            writer.update_root()

    status, codes, detail = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes == {"pdf_modified"}
    assert "NeedAppearances" in detail


def test_attack_orphan_objects_after_certification_are_invalid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """Objects nobody references (a hidden payload, or a page waiting for a later /Prev trick)."""
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        writer.add_object(generic.StreamObject(stream_data=b"BT /F1 30 Tf 100 700 Td (FORGED) Tj ET"))

    status, codes, detail = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes == {"pdf_modified"}
    assert "unreferenced" in detail


def _tsa(issuer_cert, issuer_key):  # type: ignore[no-untyped-def]
    from elicense.pdf.tsa import LocalTSA

    return LocalTSA.create(
        issuer_cert,
        issuer_key,
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW + dt.timedelta(days=400),
        clock=lambda: NOW,
    )


def _doc_timestamp(data: bytes, tsa) -> bytes:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers import PdfTimeStamper

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    out = io.BytesIO()
    PdfTimeStamper(tsa.timestamper()).timestamp_pdf(writer, "sha256", output=out)
    return out.getvalue()


def test_trusted_document_timestamp_keeps_certification_valid(world, verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    from elicense.documents import root_material

    stamped = _doc_timestamp(signed_pdf, _tsa(*root_material(world.home)))
    result = verifier.verify_pdf(stamped, at=NOW)
    assert result.status is Status.VALID, result.reasons


def test_attack_document_timestamp_from_untrusted_tsa_is_invalid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import ec

    from elicense.crypto.pki import make_root

    key = ec.generate_private_key(ec.SECP256R1())
    root = make_root(
        key, "自称的时间戳根", not_before=NOW - dt.timedelta(days=400), not_after=NOW + dt.timedelta(days=400)
    )
    stamped = _doc_timestamp(signed_pdf, _tsa(root, key))
    status, codes, detail = _verdict(verifier, stamped)
    assert status is Status.INVALID and codes == {"pdf_modified"}
    assert "untrusted" in detail


def test_dss_then_trusted_timestamp_stays_valid(world, verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """The legitimate LTV path (validation data, then an archive timestamp) keeps working."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    from elicense.documents import root_material

    entry = world.home.authority(world.issued["business-licence-jinan"].licence.issuer.code)
    certs = world.home.certificates(entry.cert)
    sig = PdfFileReader(io.BytesIO(signed_pdf)).embedded_signatures[0]
    out = io.BytesIO(signed_pdf)
    DocumentSecurityStore.add_dss(
        out,
        sig.pkcs7_content,
        certs=[asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs],
    )
    stamped = _doc_timestamp(out.getvalue(), _tsa(*root_material(world.home)))
    result = verifier.verify_pdf(stamped, at=NOW)
    assert result.status is Status.VALID, result.reasons


@pytest.mark.parametrize("attack", ["info", "empty"])
def test_attack_post_certification_change_through_cli_and_kiosk(world, signed_pdf, tmp_path, attack: str) -> None:  # type: ignore[no-untyped-def]
    """End to end: the CLI exits non-zero and the kiosk answers INVALID for the same file."""
    import json

    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        info = _info(writer)
        info[_n("/Title")] = generic.TextStringObject("forged")
        writer.update_container(info)

    forged = incremental(signed_pdf, edit) if attack == "info" else empty_revisions(signed_pdf, 1)
    path = tmp_path / "forged.pdf"
    path.write_bytes(forged)
    run = verify_cli(str(path), "--json", trust=world.trust_file, at=NOW)
    assert run.returncode != 0, run.stdout
    assert json.loads(run.stdout)["status"] == "INVALID"
    assert "pdf_modified" in run.stdout
    _kiosk_verdict(world, forged, "pdf_modified")


def _kiosk_verdict(world, data: bytes, code: str) -> None:  # type: ignore[no-untyped-def]
    from elicense.kiosk.server import make_app
    from elicense.verify import Verifier

    app = make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW))
    doc = app.handle("POST", "/api/verify", data).json()
    assert doc["status"] == "INVALID" and code in {x["code"] for x in doc["reasons"]}
