"""PDF attacks not already in tests/pdf/test_pdf_attacks.py: shadow hide/replace, form fields, swapped
images, catalogue wrapping, signature-dictionary and ByteRange tricks. None may verify as VALID."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest

from conftest import NOW
from elicense.verify import Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def incremental(data: bytes, edit: Callable[[Any], None]) -> bytes:
    """Append one incremental update made by ``edit(writer)`` (what an attacker's PDF editor does)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    edit(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _verdict(verifier, data: bytes) -> tuple[Status, set[str]]:  # type: ignore[no-untyped-def]
    result = verifier.verify_pdf(data, at=NOW)
    return result.status, {r.code for r in result.reasons}


def _n(name: str) -> Any:
    from pyhanko.pdf_utils import generic

    return generic.NameObject(name)


def _page(writer: Any) -> Any:
    return writer.root["/Pages"]["/Kids"][0].get_object()


def test_signed_pdf_is_valid(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    assert _verdict(verifier, signed_pdf) == (Status.VALID, set())


def test_attack_pdf_shadow_hide_overlay(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """Shadow *hide*: a later revision paints a white box over the status line / QR."""
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        page = _page(writer)
        cover = writer.add_object(generic.StreamObject(stream_data=b"q 1 g 0 0 600 900 re f Q"))
        contents = page["/Contents"]
        old = list(contents) if isinstance(contents, generic.ArrayObject) else [page.raw_get("/Contents")]
        page[_n("/Contents")] = generic.ArrayObject([*old, cover])
        writer.update_container(page)

    status, codes = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and "pdf_modified" in codes


def test_attack_pdf_shadow_replace_object(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """Shadow *replace*: the same object number gets new content in a later revision."""
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        page = _page(writer)
        ref = page.raw_get("/Contents")
        ref = ref[0] if isinstance(ref, generic.ArrayObject) else ref
        stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (REPLACED) Tj ET")
        writer.mark_update(ref)
        writer.objects[(ref.generation, ref.idnum)] = stream

    status, codes = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes & {"pdf_modified", "pdf_malformed"}


def test_attack_pdf_added_form_field(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        page = _page(writer)
        field = writer.add_object(
            generic.DictionaryObject(
                {
                    _n("/FT"): _n("/Tx"),
                    _n("/T"): generic.TextStringObject("status"),
                    _n("/V"): generic.TextStringObject("有效"),
                    _n("/Type"): _n("/Annot"),
                    _n("/Subtype"): _n("/Widget"),
                    _n("/Rect"): generic.ArrayObject(map(generic.NumberObject, (50, 50, 300, 80))),
                    _n("/P"): writer.root["/Pages"]["/Kids"].raw_get(0),
                }
            )
        )
        form = writer.root.get("/AcroForm")
        form = form.get_object() if form is not None else generic.DictionaryObject()
        form[_n("/Fields")] = generic.ArrayObject([*form.get("/Fields", []), field])
        if "/AcroForm" in writer.root:
            writer.update_container(form)
        else:
            writer.root[_n("/AcroForm")] = writer.add_object(form)
            writer.update_root()
        page[_n("/Annots")] = generic.ArrayObject([*page.get("/Annots", []), field])
        writer.update_container(page)

    status, codes = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes & {"pdf_modified", "pdf_malformed"}


def test_attack_pdf_swapped_qr_image(world, verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """The QR image XObject is replaced (same name) by another licence's QR in a later revision."""
    from pyhanko.pdf_utils import generic

    from elicense.pdf.sign import seal_and_sign

    other_issued = world.issued["food-business-licence-jinan"]
    other_pdf = seal_and_sign(other_issued, world.home.signer(world.home.authority(other_issued.licence.issuer.code)))
    from pyhanko.pdf_utils.reader import PdfFileReader

    other_page = PdfFileReader(io.BytesIO(other_pdf)).root["/Pages"]["/Kids"][0].get_object()
    other_images = {
        k: v.get_object()
        for k, v in other_page["/Resources"]["/XObject"].items()
        if v.get_object().get("/Subtype") == "/Image"
    }

    def edit(writer: Any) -> None:
        page = _page(writer)
        xobjects = page["/Resources"]["/XObject"]
        for name, obj in other_images.items():
            clone = generic.StreamObject(
                {k: v for k, v in obj.items() if k not in ("/Length", "/SMask")}, encoded_data=obj.encoded_data
            )
            xobjects[_n(name)] = writer.add_object(clone)
        writer.update_container(page)
        writer.update_container(page["/Resources"])
        writer.update_container(xobjects)

    status, codes = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes & {"pdf_modified", "pdf_malformed"}


def test_attack_pdf_catalogue_wrapping(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """Incremental saving attack: a new revision points /Root at a fresh catalogue and page tree."""
    from pyhanko.pdf_utils import generic

    def edit(writer: Any) -> None:
        content = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 30 Tf 100 700 Td (FORGED) Tj ET"))
        page = generic.DictionaryObject(
            {
                _n("/Type"): _n("/Page"),
                _n("/Contents"): content,
                _n("/MediaBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 595, 842))),
            }
        )
        page_ref = writer.add_object(page)
        pages = writer.add_object(
            generic.DictionaryObject(
                {
                    _n("/Type"): _n("/Pages"),
                    _n("/Kids"): generic.ArrayObject([page_ref]),
                    _n("/Count"): generic.NumberObject(1),
                }
            )
        )
        page[_n("/Parent")] = pages
        writer.root[_n("/Pages")] = pages
        writer.update_root()

    status, codes = _verdict(verifier, incremental(signed_pdf, edit))
    assert status is Status.INVALID and codes & {"pdf_modified", "pdf_malformed"}


def _byte_range(data: bytes) -> tuple[int, int, list[int]]:
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    assert m is not None
    return m.start(), m.end(), [int(x) for x in m.groups()]


def _set_byte_range(data: bytes, values: list[int]) -> bytes:
    start, end, _ = _byte_range(data)
    text = b"/ByteRange [" + b" ".join(b"%d" % v for v in values) + b"]"
    assert len(text) <= end - start
    return data[:start] + text.ljust(end - start) + data[end:]


@pytest.mark.parametrize("trick", ["short-tail", "shifted-gap", "overlap", "gap-includes-data", "zero-ranges"])
def test_attack_pdf_byte_range_tricks(verifier, signed_pdf, trick: str) -> None:  # type: ignore[no-untyped-def]
    _, _, (a, b, c, d) = _byte_range(signed_pdf)
    values = {
        "short-tail": [a, b, c, d - 100],  # the last 100 bytes are no longer signed
        "shifted-gap": [a, b - 50, c - 50, d + 50],
        "overlap": [a, c + 10, c, d],
        "gap-includes-data": [a, b - 2000, c, d],  # 2000 signed bytes moved into the unsigned gap
        "zero-ranges": [0, 0, 0, 0],
    }[trick]
    status, _codes = _verdict(verifier, _set_byte_range(signed_pdf, values))
    assert status is Status.INVALID


def test_attack_pdf_signature_contents_zeroed(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """Universal signature forgery: the /Contents blob is blanked (or replaced by garbage)."""
    m = re.search(rb"/Contents\s*<([0-9A-Fa-f]+)>", signed_pdf)
    assert m is not None
    for filler in (b"0", b"F"):
        forged = signed_pdf[: m.start(1)] + filler * (m.end(1) - m.start(1)) + signed_pdf[m.end(1) :]
        assert _verdict(verifier, forged)[0] is Status.INVALID


def test_attack_pdf_signature_wrapping_appended_revision(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    """Signature wrapping: the signed revision is kept byte for byte, and a whole forged document
    (its own xref and trailer) follows it; readers that take the last trailer show the forgery."""
    forged_body = (
        b"\n1000 0 obj\n<</Type/Catalog/Pages 1001 0 R>>\nendobj\n1001 0 obj\n<</Type/Pages/Kids[]/Count 0>>\nendobj\n"
    )
    xref_at = len(signed_pdf) + len(forged_body)
    forged = (
        signed_pdf
        + forged_body
        + (b"xref\n0 1\n0000000000 65535 f \ntrailer\n<</Size 1002/Root 1000 0 R>>\nstartxref\n%d\n%%%%EOF\n" % xref_at)
    )
    assert _verdict(verifier, forged)[0] is Status.INVALID
