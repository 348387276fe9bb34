"""Render an issued licence as an A4 certificate PDF (fpdf2), ready to be sealed.

The page shows the title of the licence type, the licence number and identifier,
the holder, every catalogue field in catalogue order, validity, the issuing
authority and date, and the QR code of the ``EL2:`` payload. The lower right
corner is left free for the seal: :class:`RenderedLicence.seal_box` says where
the signing step places the visible signature (the seal image).

The signed full record (``IssuedLicence.full_payload``) is embedded as the
associated file ``licence.cose`` (``/AF`` of the catalogue, relationship
``Source``), so a digital PDF can be checked without decoding pixels.

Fonts: every character is checked against the font first (a missing glyph is a
:class:`~elicense.fonts.FontCoverageError`, never a silent drop or a box). The
packaged CJK font is large (8.5 MB, ~30,000 glyphs) and fpdf2 subsets the font it
is given on every output; so fpdf2 is handed a small, desubroutinised font cut to
this document's characters (:func:`_document_font`, cached by character set) and
told not to recompute glyph bounding boxes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elicense.errors import LicenceDataError
from elicense.fonts import require_glyphs, resolve_font
from elicense.pdf.pdfa import prepare as _pdfa_prepare

if TYPE_CHECKING:
    from elicense.catalog import FieldSpec, LicenceType
    from elicense.issue import IssuedLicence
    from elicense.model import FieldValue, Licence

__all__ = [
    "ATTACHMENT_MIME",
    "ATTACHMENT_NAME",
    "PT_PER_MM",
    "RenderedLicence",
    "render_licence",
]

ATTACHMENT_NAME = "licence.cose"
"""File name of the embedded signed full record."""
ATTACHMENT_MIME = "application/cose"
"""MIME type of the embedded record (RFC 9052 COSE)."""
PT_PER_MM = 72 / 25.4
"""PDF points per millimetre."""

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 22.0
SEAL_MM = 42.0
QR_MM = 42.0
RED = (176, 30, 36)
INK = (30, 30, 30)
GREY = (110, 110, 110)
FONT_FAMILY = "elicense-cjk"
MAX_PAGES = 4


@dataclass(frozen=True)
class RenderedLicence:
    """An unsigned licence PDF and where its seal goes."""

    pdf: bytes
    """The PDF bytes (one revision, not yet signed)."""
    page: int
    """0-based index of the page that carries the QR code and the seal."""
    seal_box: tuple[float, float, float, float]
    """Seal rectangle ``(x1, y1, x2, y2)`` in PDF points, origin bottom left."""
    qr_box: tuple[float, float, float, float]
    """QR code rectangle in PDF points, origin bottom left."""


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def _value_text(spec: FieldSpec, value: FieldValue) -> str:
    if isinstance(value, dt.date):
        return _cn_date(value)
    return str(value)


_HOLDER_LABELS = {
    "001": ("名称", "统一社会信用代码"),
    "111": ("姓名", "公民身份号码"),
    "099": ("名称", "证件号码"),
}


def _rows(licence: Licence, lt: LicenceType) -> list[tuple[str, str]]:
    """(label, value) pairs in display order."""
    name_label, code_label = _HOLDER_LABELS.get(licence.holder.code_type.value, ("名称", "代码"))
    rows = [(name_label, licence.holder.name), (code_label, licence.holder.code)]
    for spec in lt.fields:
        if spec.key in licence.fields:
            rows.append((spec.name_zh, _value_text(spec, licence.fields[spec.key])))
    until = "长期" if licence.validity.end is None else _cn_date(licence.validity.end)
    rows.append(("有效期限", f"{_cn_date(licence.validity.start)} 至 {until}"))
    return rows


# -- font ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _font_bytes(path: str, mtime_ns: int) -> bytes:
    """The font file, read once per process."""
    return Path(path).read_bytes()


_subset_cache: dict[tuple[str, int, frozenset[str]], bytes] = {}
_SUBSET_CACHE_MAX = 64


def _document_font(path: Path, chars: Iterable[str]) -> bytes:
    """A small OpenType font with just ``chars`` (plus .notdef), cached by character set.

    fpdf2 subsets whatever it is given on every output, and a CJK font of 30,000
    glyphs costs ~0.2 s to subset; handing it a font of ~100 glyphs makes its own
    subsetting nearly free. The cut-down font is cached by character set, so
    re-rendering a licence (or a batch of one type) pays once.
    """
    from fontTools import subset  # type: ignore[import-untyped]
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    st = path.stat()
    key = (str(path), st.st_mtime_ns, frozenset(chars))
    cached = _subset_cache.get(key)
    if cached is not None:
        return cached
    font = TTFont(io.BytesIO(_font_bytes(str(path), st.st_mtime_ns)), lazy=True, recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.desubroutinize = True  # fpdf2 re-subsets on output: flat charstrings are cheap to walk
    options.drop_tables += ["GSUB", "GPOS", "BASE", "VORG", "vhea", "vmtx"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(key[2])))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    data = out.getvalue()
    with _FONT_LOCK:
        if len(_subset_cache) >= _SUBSET_CACHE_MAX:
            _subset_cache.clear()
        _subset_cache[key] = data
    return data


_FONT_LOCK = threading.Lock()


QR_SCALE = 8
"""Image pixels per QR module in the PDF (42 mm for ~60 modules: ~450 dpi)."""
QR_BORDER = 2
"""Quiet zone, in modules, inside the QR image (the page margin adds more)."""


def qr_picture(payload: str) -> Any:
    """The QR of ``payload`` as an 8-bit grey Pillow image (ECC M), ``QR_SCALE`` px per module.

    zxing-cpp's encoder (~1 ms) instead of segno's (~13 ms with PNG output): same
    error correction, mode chosen for the content (alphanumeric for ``EL2:``
    payloads), and ``tests/test_pdf_perf_paths.py`` checks the version is segno's.
    """
    from PIL import Image, ImageOps

    modules: Image.Image
    try:
        import zxingcpp

        code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
        raw = memoryview(code.to_image(scale=1, add_quiet_zones=False))  # type: ignore[arg-type]
        height, width = raw.shape or (0, 0)
        modules = Image.frombytes("L", (width, height), raw.tobytes())
    except (ImportError, AttributeError, TypeError, ValueError, RuntimeError):  # older zxing-cpp: segno
        from elicense.qr.render import qr_png

        modules = Image.open(io.BytesIO(qr_png(payload, scale=1, border=0))).convert("L")
    big = modules.resize((modules.width * QR_SCALE, modules.height * QR_SCALE), Image.Resampling.NEAREST)
    return ImageOps.expand(big, QR_BORDER * QR_SCALE, fill=255)


_IMAGE_LEVEL_LOCK = threading.Lock()
QR_DEFLATE_LEVEL = 3
"""zlib level for the QR image: on a two-tone image level 3 is ~4x faster than the default (6) *and*
smaller (measured: 520x520 px, 2.9 ms → 0.8 ms, 9.8 KB → 7.9 KB); it is still plain FlateDecode."""


@contextlib.contextmanager
def _fast_image_deflate() -> Iterator[None]:
    """fpdf2 deflates images at its process-wide ``SETTINGS.compression_level``: lower it for one call."""
    from fpdf.image_parsing import SETTINGS

    with _IMAGE_LEVEL_LOCK:
        before = SETTINGS.compression_level
        SETTINGS.compression_level = QR_DEFLATE_LEVEL
        try:
            yield
        finally:
            SETTINGS.compression_level = before


# -- layout -------------------------------------------------------------------------------------


def render_licence(
    issued: IssuedLicence,
    *,
    licence_type: LicenceType | None = None,
    font_path: str | Path | None = None,
    seal_size_mm: float = SEAL_MM,
) -> RenderedLicence:
    """Lay out ``issued`` on A4 and embed its signed full record; returns unsigned PDF bytes."""
    from fpdf import FPDF  # lazy: heavy

    from elicense.catalog import Catalog

    licence = issued.licence
    lt = licence_type or Catalog.default().get(licence.type_code)
    if lt.code != licence.type_code:
        raise LicenceDataError("licence type does not match the licence", message_zh="证照类型与证照不一致")
    path = resolve_font(font_path)
    rows = _rows(licence, lt)
    issued_text = _cn_date(licence.issued_on)
    static = [lt.name_zh, "证照编号", "发证机关", "发证日期", "扫码核验", "电子证照", "（电子证照）",
              "本证照由发证机关加盖电子印章并以数字签名保护，可扫描二维码或使用 elicense verify 核验。",
              "电子证照标识", "：", "至", "长期", "年月日"]
    texts = [*static, licence.number, licence.issuer.name, issued_text, str(licence.id),
             lt.name_en, *(f"{a}{b}" for a, b in rows)]
    alltext = "".join(texts)
    require_glyphs(alltext, path)
    chars = {c for c in alltext if not c.isspace()} | set("0123456789-:. ")

    class _Certificate(FPDF):
        def header(self) -> None:
            """Every page gets the double red frame."""
            self.set_draw_color(*RED)
            self.set_line_width(1.2)
            self.rect(10, 10, PAGE_W - 20, PAGE_H - 20)
            self.set_line_width(0.3)
            self.rect(13, 13, PAGE_W - 26, PAGE_H - 26)
            self.set_y(MARGIN)

    pdf = _Certificate(orientation="P", unit="mm", format="A4")
    _pdfa_prepare(pdf)  # PDF/A-3b document level (elicense.pdf.pdfa)
    pdf.set_creation_date(issued.signed_at)
    pdf.set_title(f"{lt.name_zh} {licence.number}")
    pdf.set_subject(str(licence.id))
    pdf.set_author(licence.issuer.name)
    pdf.set_creator("elicense")
    pdf.set_lang("zh-CN")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN + 4)
    from elicense.pdf import cff

    shared = cff.shared_font(path)
    if shared is not None:  # CID-keyed CFF: parsed once per process, glyphs cut once (elicense.pdf.cff)
        cff.attach(pdf, FONT_FAMILY, shared)
        return _layout(pdf, issued, lt, rows, issued_text, seal_size_mm, producer=cff.fast_output_class())
    with tempfile.TemporaryDirectory(prefix="elicense-font-") as tmp:
        font_file = Path(tmp) / "document-font.otf"
        font_file.write_bytes(_document_font(path, chars))
        pdf.add_font(FONT_FAMILY, fname=font_file)
        for font in pdf.fonts.values():
            if not hasattr(font, "ttfont"):
                continue
            # Our font is already a small, consistent subset: recomputing every glyph's
            # bounding box on output (fontTools' default) is most of fpdf2's time.
            font.ttfont.recalcBBoxes = False
        return _layout(pdf, issued, lt, rows, issued_text, seal_size_mm)


def _layout(
    pdf: Any,
    issued: IssuedLicence,
    lt: LicenceType,
    rows: list[tuple[str, str]],
    issued_text: str,
    seal_size_mm: float,
    producer: type | None = None,
) -> RenderedLicence:
    from fpdf.enums import WrapMode, XPos, YPos

    licence = issued.licence

    pdf.add_page()
    # title
    pdf.set_text_color(*INK)
    pdf.set_font(FONT_FAMILY, size=30)
    title = lt.name_zh
    spacing = 6 if len(title) <= 6 else 1
    pdf.set_char_spacing(spacing)
    pdf.set_y(30)
    pdf.cell(0, 14, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_char_spacing(0)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.set_text_color(*GREY)
    pdf.cell(0, 5, f"{lt.name_en}（电子证照）", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    # number line
    pdf.set_font(FONT_FAMILY, size=10.5)
    pdf.set_text_color(*INK)
    pdf.cell(0, 6, f"证照编号：{licence.number}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.4)
    pdf.line(MARGIN, pdf.get_y() + 1, PAGE_W - MARGIN, pdf.get_y() + 1)
    pdf.ln(6)
    # fields
    label_w = 40.0
    value_w = PAGE_W - 2 * MARGIN - label_w
    for label, value in rows:
        size = 12.0 if len(value) < 400 else 10.0 if len(value) < 1200 else 8.0
        pdf.set_font(FONT_FAMILY, size=12)
        pdf.set_text_color(*GREY)
        if pdf.get_y() > PAGE_H - MARGIN - 20:
            pdf.add_page()
        y0 = pdf.get_y()
        pdf.set_x(MARGIN)
        pdf.cell(label_w, 7.5, f"{label}：", align="R")
        pdf.set_text_color(*INK)
        pdf.set_font(FONT_FAMILY, size=size)
        pdf.set_xy(MARGIN + label_w, y0)
        if "\n" not in value and pdf.get_string_width(value) <= value_w - 2 * pdf.c_margin:
            # fits on one line: a plain cell draws the same text without multi_cell's line breaker (~1/3 of
            # the layout time)
            pdf.cell(value_w, 7.5 * size / 12, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            pdf.multi_cell(value_w, 7.5 * size / 12, value, wrapmode=WrapMode.CHAR,
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.8)
    # QR + authority block needs ~70 mm at the bottom
    block_top = PAGE_H - MARGIN - 68
    if pdf.get_y() > block_top:
        pdf.add_page()
    pdf.set_auto_page_break(False)
    if pdf.page_no() > MAX_PAGES:
        raise LicenceDataError("licence text is too long for the PDF layout", message_zh="证照内容过长，无法排版")
    qr_x, qr_y = MARGIN + 2, block_top + 4
    # 8-bit grey, not 1-bit: fpdf2 would store 1-bit images as CCITT G4, which the
    # verifier's PDF reader cannot decode (it reads the QR from this image XObject).
    qr_image = qr_picture(issued.qr_payload)
    with _fast_image_deflate():
        pdf.image(qr_image, x=qr_x, y=qr_y, w=QR_MM, h=QR_MM)
    pdf.set_font(FONT_FAMILY, size=8)
    pdf.set_text_color(*GREY)
    pdf.set_xy(qr_x, qr_y + QR_MM + 0.5)
    pdf.cell(QR_MM, 4, "扫码核验", align="C")
    # authority and date, right-aligned; the seal is stamped over them
    right_w = 80.0
    right_x = PAGE_W - MARGIN - right_w
    text_y = block_top + 26
    pdf.set_text_color(*INK)
    pdf.set_font(FONT_FAMILY, size=12)
    pdf.set_xy(right_x, text_y)
    pdf.cell(right_w, 8, f"发证机关：{licence.issuer.name}", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.cell(right_w, 8, f"发证日期：{issued_text}", align="C")
    seal_cx, seal_cy = right_x + right_w / 2, text_y + 6
    # footer: the identifier and a note
    pdf.set_font(FONT_FAMILY, size=7.5)
    pdf.set_text_color(*GREY)
    pdf.set_xy(MARGIN, PAGE_H - MARGIN - 4)
    pdf.cell(0, 4, f"电子证照标识：{licence.id}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(MARGIN)
    pdf.cell(0, 4, "本证照由发证机关加盖电子印章并以数字签名保护，可扫描二维码或使用 elicense verify 核验。",
             align="L")
    pdf.embed_file(
        bytes=issued.full_payload,
        basename=ATTACHMENT_NAME,
        modification_date=issued.signed_at,
        mime_type=ATTACHMENT_MIME,
        associated_file_relationship="Source",
        desc=f"Signed licence record (COSE_Sign1) {licence.id}",
        creation_date=issued.signed_at,
        compress=False,
    )
    data = bytes(pdf.output(output_producer_class=producer) if producer is not None else pdf.output())
    page = pdf.page_no() - 1

    def box(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        return (x * PT_PER_MM, (PAGE_H - y - h) * PT_PER_MM, (x + w) * PT_PER_MM, (PAGE_H - y) * PT_PER_MM)

    half = seal_size_mm / 2
    return RenderedLicence(
        pdf=data,
        page=page,
        seal_box=box(seal_cx - half, seal_cy - half, seal_size_mm, seal_size_mm),
        qr_box=box(qr_x, qr_y, QR_MM, QR_MM),
    )
