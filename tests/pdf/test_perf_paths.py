"""The fast paths of PDF issuing produce the same, checkable output as the slow ones.

(No timing here: ``benchmarks/bench_pdf.py`` measures; these tests check what the
caches and the hand-written CFF emit.)
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import NOW
from elicense.verify.result import Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RARE = "龘靐齉爩"  # characters no demo licence uses: cut fresh from the font


def _rare_licence(world):  # type: ignore[no-untyped-def]
    from elicense.issue import sign_licence

    issued = world.issued["business-licence-jinan"]
    holder = dataclasses.replace(issued.licence.holder, name=f"济南{RARE}科技有限公司")
    licence = dataclasses.replace(issued.licence, holder=holder)
    signer = world.home.signer(world.home.authority(licence.issuer.code))
    return sign_licence(licence, signer, at=issued.signed_at), signer


def _font_program(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    fonts = page["/Resources"]["/Font"]
    [font] = [f.get_object() for f in fonts.values()]
    assert font["/Subtype"] == "/Type0" and font["/Encoding"] == "/Identity-H"
    cid_font = font["/DescendantFonts"][0].get_object()
    assert cid_font["/Subtype"] == "/CIDFontType0"
    stream = cid_font["/FontDescriptor"]["/FontFile3"].get_object()
    assert stream["/Subtype"] == "/CIDFontType0C"
    return bytes(stream.data)


def test_embedded_cff_is_a_valid_cid_font(world) -> None:  # type: ignore[no-untyped-def]
    from fontTools.cffLib import CFFFontSet

    from elicense.pdf.render import render_licence

    issued, _ = _rare_licence(world)
    program = _font_program(render_licence(issued).pdf)
    cff = CFFFontSet()
    cff.decompile(io.BytesIO(program), None)
    top = cff[cff.fontNames[0]]
    assert hasattr(top, "ROS") and tuple(top.ROS)[:2] == ("Adobe", "Identity")
    order = top.charset
    assert order[0] == ".notdef" and all(name.startswith("cid") for name in order[1:])
    for name in order:  # every charstring decodes and draws
        from fontTools.pens.boundsPen import BoundsPen

        pen = BoundsPen(None)
        top.CharStrings[name].draw(pen)
    assert 20 < len(order) < 400  # a subset, not the 30,000-glyph font


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_fresh_characters_render_and_extract(world, verifier, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from elicense.pdf.sign import seal_and_sign

    issued, signer = _rare_licence(world)
    pdf = seal_and_sign(issued, signer)
    path = tmp_path / "rare.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"济南{RARE}科技有限公司" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "CID Type 0C" in fonts and " yes yes yes " in fonts
    result = verifier.verify_pdf(pdf, at=NOW)
    assert result.status is Status.VALID, result.reasons


def test_same_glyphs_paint_the_same_pixels(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A glyph drawn from the per-process cache looks as the font draws it (rendered, not compared as bytes)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils not installed")
    from PIL import Image, ImageChops

    from elicense.pdf.render import render_licence

    issued = world.issued["business-licence-jinan"]
    first = render_licence(issued).pdf
    second = render_licence(issued).pdf  # every glyph now from the cache
    images = []
    for i, data in enumerate((first, second)):
        (tmp_path / f"{i}.pdf").write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-r", "50", "-png", "-singlefile", str(tmp_path / f"{i}.pdf"), str(tmp_path / f"{i}")],
            check=True,
        )
        images.append(Image.open(tmp_path / f"{i}.png").convert("L"))
    assert ImageChops.difference(*images).getbbox() is None
    ink = sum(1 for p in images[0].getdata() if p < 128)
    assert ink > 2000  # text and QR actually painted


def test_qr_version_matches_the_spec_encoder(world) -> None:  # type: ignore[no-untyped-def]
    """The PDF's QR (zxing-cpp encoder) has the version segno computes for the payload, and decodes."""
    from elicense.pdf.render import QR_BORDER, QR_SCALE, qr_picture
    from elicense.qr.decode import read_qr_texts
    from elicense.qr.render import qr_version

    for issued in world.issued.values():
        image = qr_picture(issued.qr_payload)
        modules = image.width // QR_SCALE - 2 * QR_BORDER
        assert modules == 17 + 4 * qr_version(issued.qr_payload)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        assert read_qr_texts(buf.getvalue()) == [issued.qr_payload]


def test_seal_xobject_is_encoded_once_and_reused(world, verifier) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader

    from elicense.pdf import sign

    issued = world.issued["business-licence-jinan"]
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    a = sign.seal_and_sign(issued, signer)
    cached = dict(sign._encoded_seals)
    b = sign.seal_and_sign(issued, signer)
    assert cached and all(sign._encoded_seals[k] is v for k, v in cached.items())
    for data in (a, b):
        assert verifier.verify_pdf(data, at=NOW).status is Status.VALID
        field = PdfFileReader(io.BytesIO(data)).root["/AcroForm"]["/Fields"][0].get_object()
        xobjects = field["/AP"]["/N"]["/Resources"]["/XObject"]
        seal = next(v.get_object() for v in xobjects.values())
        while "/Resources" in seal and "/Subtype" in seal and seal["/Subtype"] == "/Form":
            seal = next(v.get_object() for v in seal["/Resources"]["/XObject"].values())
        assert seal["/Width"] == seal["/Height"] == 496 and "/SMask" in seal  # RGB + alpha, 42 mm at 300 dpi


def test_signed_attributes_are_the_ones_pyhanko_makes_for_pades(world, verifier) -> None:  # type: ignore[no-untyped-def]
    """elicense's pyHanko signer keeps its signing-certificate attribute parsed (asn1crypto re-serialises a
    constructed one on every dump): the signed attributes must still be byte for byte what pyHanko's own PAdES
    default builds for the same message digest, in every signature the cached value goes into."""
    import asyncio

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.signers.pdf_cms import (
        CAdESSignedAttributeProviderSpec,
        PdfCMSSignedAttributes,
        format_signed_attributes,
    )
    from pyhanko.sign.validation import validate_pdf_signature

    from elicense.pdf import sign

    issued = world.issued["business-licence-jinan"]
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    cert = sign._asn1_cert(signer.certificate)
    for _ in range(2):  # the second signature reuses the cached value
        data = sign.seal_and_sign(issued, signer)
        embedded = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
        status = validate_pdf_signature(embedded)
        assert status.intact and status.valid  # pyHanko's own check of the digest and the signature
        assert verifier.verify_pdf(data, at=NOW).status is Status.VALID
        ours = embedded.signer_info["signed_attrs"]
        digest = next(a["values"][0].native for a in ours if a["type"].native == "message_digest")
        spec = CAdESSignedAttributeProviderSpec(
            attr_settings=PdfCMSSignedAttributes(), signing_cert=cert, is_pades=True, timestamper=None
        )
        theirs = asyncio.run(format_signed_attributes(digest, list(spec.signed_attr_providers(digest, "sha256"))))
        assert ours.contents == theirs.contents  # (ours is tagged [0] inside SignerInfo: compare the content)
        assert [a["type"].native for a in ours] == ["content_type", "message_digest", "signing_certificate_v2"]


def _undated(pdf: bytes) -> bytes:
    """The PDF without its XMP modification times (fpdf2 writes the wall clock there, to the second) and the file
    identifier (a digest of the document, those times included)."""
    pdf = re.sub(rb'(xmp:ModifyDate|xmp:MetadataDate)="[^"]*"', rb'\1=""', pdf)
    return re.sub(rb"/ID \[<[0-9A-F]+><[0-9A-F]+>\]", b"/ID []", pdf)


def test_direct_text_and_qr_write_what_fpdf2_writes(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The direct text path (``render._cell``/``_width``) and QR image path (``render._place_qr``) give
    byte-identical PDFs to fpdf2's ``cell``, ``get_string_width`` and ``image``, for every demo licence (each
    type's layout, wrapped values) and one with fresh characters."""
    from elicense.pdf import render

    calls: list[str] = []
    fpdf_cell = render.FPDF.cell

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[2] if len(args) > 2 else kwargs.get("text", ""))
        return fpdf_cell(self, *args, **kwargs)

    monkeypatch.setattr(render.FPDF, "cell", counted)
    licences = [*world.issued.values(), _rare_licence(world)[0]]
    for issued in licences:
        monkeypatch.setattr(render, "_FAST_TEXT", True)
        monkeypatch.setattr(render, "_FAST_QR", True)
        calls.clear()
        fast = render.render_licence(issued)
        via_fpdf2 = len(calls)
        monkeypatch.setattr(render, "_FAST_TEXT", False)
        monkeypatch.setattr(render, "_FAST_QR", False)
        calls.clear()
        slow = render.render_licence(issued)
        assert dataclasses.replace(fast, pdf=_undated(fast.pdf)) == dataclasses.replace(slow, pdf=_undated(slow.pdf))
        assert via_fpdf2 <= 1 < len(calls)  # only the letter-spaced title goes through fpdf2's cell


def test_qr_image_is_whole_pixel_blocks_per_module(world) -> None:  # type: ignore[no-untyped-def]
    """Every QR module is a QR_SCALE × QR_SCALE block of one colour (no smoothing, exact when printed)."""
    from elicense.pdf.render import QR_SCALE, qr_picture

    image = qr_picture(world.issued["business-licence-jinan"].qr_payload)
    assert image.mode == "L" and image.width % QR_SCALE == 0
    px = image.load()
    assert px is not None
    for by in range(0, image.height, QR_SCALE):
        for bx in range(0, image.width, QR_SCALE):
            first = px[bx, by]
            assert first in (0, 255)
            assert all(px[bx + i, by + j] == first for i in range(QR_SCALE) for j in range(QR_SCALE))


WRAPPED = (
    "软件开发；信息技术咨询服务；" * 6,
    "Software development and IT consulting services, with spaces at many places " * 3,
    "一般项目：技术服务、技术开发、技术咨询 技术交流、技术转让、技术推广；  计算机系统服务 " * 4,
    "数据处理和存储支持服务" + " " * 40 + "人工智能应用软件开发" * 5,
    "长" * 400,
    "经营范围：" + "（依法须经批准的项目，经相关部门批准后方可开展经营活动）" * 30,
)
"""Values that wrap in a column: CJK, ASCII words, runs of spaces at and around line ends, a smaller size."""


def test_direct_wrapping_writes_what_fpdf2_multi_cell_writes(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``render._wrapped`` breaks lines exactly where fpdf2's ``multi_cell(wrapmode=CHAR)`` does: byte-identical
    PDFs for long values (and ``multi_cell`` is really not called on the fast path, except for values with spaces,
    whose lines fpdf2 justifies)."""
    from elicense.issue import sign_licence
    from elicense.pdf import render

    multi: list[str] = []
    fpdf_multi_cell = render.FPDF.multi_cell

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        multi.append(str(args[2] if len(args) > 2 else kwargs.get("text", "")))
        return fpdf_multi_cell(self, *args, **kwargs)

    monkeypatch.setattr(render.FPDF, "multi_cell", counted)
    issued = world.issued["business-licence-jinan"]
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    for value in WRAPPED:
        fields = {**issued.licence.fields, "business_scope": value, "domicile": value[:90]}
        licence = dataclasses.replace(issued.licence, fields=fields)
        variant = sign_licence(licence, signer, at=issued.signed_at)
        monkeypatch.setattr(render, "_FAST_TEXT", True)
        multi.clear()
        fast = render.render_licence(variant)
        assert (multi == []) is (" " not in value)  # lines with spaces are justified: fpdf2 draws those
        monkeypatch.setattr(render, "_FAST_TEXT", False)
        slow = render.render_licence(variant)
        assert multi  # the reference path did wrap
        assert dataclasses.replace(fast, pdf=_undated(fast.pdf)) == dataclasses.replace(slow, pdf=_undated(slow.pdf))
