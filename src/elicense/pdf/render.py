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
import functools
import io
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import zxingcpp
from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import TextMode, WrapMode, XPos, YPos
from fpdf.fonts import TTFFont
from fpdf.image_datastructures import RasterImageInfo
from fpdf.image_parsing import SETTINGS
from fpdf.line_break import BREAKING_SPACE_SYMBOLS_STR
from PIL import Image, ImageOps

from elicense.catalog import Catalog
from elicense.display import HOLDER_LABELS, cn_date, page_text
from elicense.errors import LicenceDataError
from elicense.fonts import require_glyphs, resolve_font
from elicense.pdf import ATTACHMENT_MIME, ATTACHMENT_NAME, cff
from elicense.pdf.pdfa import prepare as _pdfa_prepare
from elicense.qr.render import qr_png

if TYPE_CHECKING:
    from elicense.catalog import LicenceType
    from elicense.issue import IssuedLicence
    from elicense.model import Licence

__all__ = [
    "ATTACHMENT_MIME",
    "ATTACHMENT_NAME",
    "PT_PER_MM",
    "RenderedLicence",
    "render_licence",
]

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


@dataclass(frozen=True)
class _Design:
    """How a licence type's paper looks: page orientation, its labels, where the QR sits, columns."""

    landscape: bool = False
    issuer_label: str = "发证机关"
    validity_label: str = "有效期限"
    qr_top_right: bool = False
    left: tuple[str, ...] = ()
    """Field keys of the left column (two-column papers); the others go right."""
    right: tuple[str, ...] = ()
    """Order of the right column's first rows (the rest follow in catalogue order)."""
    header_code: bool = False
    """The holder code on its own line under the title (营业执照: 统一社会信用代码 top left)."""


DESIGNS = {
    # 营业执照 (2019 style): landscape, QR top right, 统一社会信用代码 top left, two columns, 登记机关,
    # 营业期限, 注册资本 as one line; the seal over the date.
    "business-licence": _Design(
        landscape=True,
        issuer_label="登记机关",
        validity_label="营业期限",
        qr_top_right=True,
        left=("holder_name", "entity_type", "legal_representative", "business_scope"),
        right=("registered_capital", "establishment_date", "validity", "domicile"),
        header_code=True,
    ),
}
"""Types whose paper differs from the default portrait certificate (keyed by catalogue slug)."""


def _design(lt: LicenceType) -> _Design:
    return DESIGNS.get(lt.slug, _Design())


def _keyed_rows(licence: Licence, lt: LicenceType, design: _Design) -> list[tuple[str, str, str]]:
    """(key, label, value) in display order, as the type's paper labels them."""
    name_label, code_label = HOLDER_LABELS.get(licence.holder.code_type.value, ("名称", "代码"))
    rows = [("holder_name", name_label, licence.holder.name)]
    if not design.header_code:
        rows.append(("holder_code", code_label, licence.holder.code))
    fields = licence.fields
    for spec in lt.fields:
        if spec.key not in fields:
            continue
        if spec.key == "capital_currency" and "registered_capital" in fields:
            continue  # folded into 注册资本
        value = page_text(fields[spec.key])
        label = spec.name_zh
        if spec.key == "registered_capital":  # one line, as printed: 注册资本 500.00万元 / 100.00万美元
            currency = str(fields.get("capital_currency") or "人民币")
            unit = "万元" if currency == "人民币" else f"万{currency.removesuffix('元')}"
            label, value = "注册资本", f"{value}{unit}"
        rows.append((spec.key, label, value))
    until = "长期" if licence.validity.end is None else cn_date(licence.validity.end)
    rows.append(("validity", design.validity_label, f"{cn_date(licence.validity.start)} 至 {until}"))
    return rows


def _rows(licence: Licence, lt: LicenceType) -> list[tuple[str, str]]:
    """(label, value) pairs in display order."""
    return [(label, value) for _, label, value in _keyed_rows(licence, lt, _design(lt))]


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


QR_SCALE = 4
"""Image pixels per QR module in the PDF. Each module is a whole block of pixels, so the printed code is
exact at any scale (readers scale such an image up without smoothing at ≥ 4×); the verifier reads the
XObject at about 2 px per module. 8 px per module cost 4× the pixels to build and deflate for nothing."""
QR_BORDER = 2
"""Quiet zone, in modules, inside the QR image (the page margin adds more)."""


def qr_picture(payload: str) -> Image.Image:
    """The QR of ``payload`` as an 8-bit grey Pillow image (ECC M), ``QR_SCALE`` px per module.

    zxing-cpp's encoder (~1 ms) instead of segno's (~13 ms with PNG output): same
    error correction, mode chosen for the content (alphanumeric for ``EL2:``
    payloads), and ``tests/pdf/test_perf_paths.py`` checks the version is segno's.
    """
    try:
        code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
        raw = memoryview(code.to_image(scale=QR_SCALE, add_quiet_zones=False))  # type: ignore[arg-type]
        height, width = raw.shape or (0, 0)
        big = Image.frombytes("L", (width, height), raw.tobytes())
    except (ImportError, AttributeError, TypeError, ValueError, RuntimeError):  # older zxing-cpp: segno
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
    with _IMAGE_LEVEL_LOCK:
        before = SETTINGS.compression_level
        SETTINGS.compression_level = QR_DEFLATE_LEVEL
        try:
            yield
        finally:
            SETTINGS.compression_level = before


_FAST_QR = True
"""Place the QR with :func:`_place_qr` instead of handing fpdf2 a Pillow image (same bytes:
``tests/test_pdf_perf_paths.py`` renders both ways and compares)."""


def _place_qr(pdf: FPDF, payload: str, x: float, y: float, size: float) -> None:
    """Draw the QR of ``payload`` as an 8-bit grey Flate image XObject at ``(x, y)``, ``size`` mm square.

    fpdf2's ``image`` hashes the pixels, re-reads them, prefixes every row with a PNG filter byte
    in a Python loop and deflates (~0.5 ms). The same stream is one Pillow paste (a black first
    column is the rows' filter bytes, "None") and one ``zlib.compress``; fpdf2 then places it
    from its image cache as if it had made it. 8-bit grey, not 1-bit: fpdf2 stores 1-bit images as
    CCITT G4, which the verifier's PDF reader does not decode (it reads the QR from this XObject).
    """
    image = qr_picture(payload)
    if not _FAST_QR:
        with _fast_image_deflate():
            pdf.image(image, x=x, y=y, w=size, h=size)
        return
    rows = Image.new("L", (image.width + 1, image.height), 0)
    rows.paste(image, (1, 0))
    cache = pdf.image_cache.images
    key = f"data:elicense-qr-{len(cache) + 1}"  # a data: name: never looked up as a file or URL
    cache[key] = RasterImageInfo(
        data=zlib.compress(rows.tobytes(), QR_DEFLATE_LEVEL),
        w=image.width,
        h=image.height,
        cs="DeviceGray",
        iccp=None,
        bpc=8,
        dpn=1,
        f="FlateDecode",
        inverted=False,
        dp=f"/Predictor 15 /Colors 1 /Columns {image.width}",
        i=len(cache) + 1,
        usages=0,
        iccp_i=None,
    )
    pdf.image(key, x=x, y=y, w=size, h=size)


# -- layout -------------------------------------------------------------------------------------


def render_licence(
    issued: IssuedLicence,
    *,
    licence_type: LicenceType | None = None,
    font_path: str | Path | None = None,
    seal_size_mm: float = SEAL_MM,
) -> RenderedLicence:
    """Lay out ``issued`` on A4 and embed its signed full record; returns unsigned PDF bytes."""
    licence = issued.licence
    lt = licence_type or Catalog.default().get(licence.type_code)
    if lt.code != licence.type_code:
        raise LicenceDataError("licence type does not match the licence", message_zh="证照类型与证照不一致")
    path = resolve_font(font_path)
    design = _design(lt)
    keyed = _keyed_rows(licence, lt, design)
    rows = [(label, value) for _, label, value in keyed]
    issued_text = cn_date(licence.issued_on)
    static = [
        lt.name_zh,
        "证照编号",
        design.issuer_label,
        "发证日期",
        "扫码核验",
        "电子证照",
        "（电子证照）",
        FOOTER_NOTE,
        "电子证照标识",
        "统一社会信用代码",
        "：",
        "至",
        "长期",
        "年月日",
    ]
    texts = [
        *static,
        licence.number,
        licence.issuer.name,
        issued_text,
        str(licence.id),
        licence.holder.code,
        lt.name_en,
        *(f"{a}{b}" for a, b in rows),
    ]
    alltext = "".join(texts)
    require_glyphs(alltext, path)
    chars = {c for c in alltext if not c.isspace()} | set("0123456789-:. ")

    class _Certificate(FPDF):
        def header(self) -> None:
            """Every page gets the double red frame."""
            self.set_draw_color(*RED)
            self.set_line_width(1.2)
            self.rect(10, 10, self.w - 20, self.h - 20)
            self.set_line_width(0.3)
            self.rect(13, 13, self.w - 26, self.h - 26)
            self.set_y(MARGIN)

    pdf = _Certificate(orientation="L" if design.landscape else "P", unit="mm", format="A4")
    _pdfa_prepare(pdf)  # PDF/A-3b document level (elicense.pdf.pdfa)
    pdf.set_creation_date(issued.signed_at)
    pdf.set_title(f"{lt.name_zh} {licence.number}")
    pdf.set_subject(str(licence.id))
    pdf.set_author(licence.issuer.name)
    pdf.set_creator("elicense")
    pdf.set_lang("zh-CN")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN + 4)
    shared = cff.shared_font(path)
    if shared is not None:  # CID-keyed CFF: parsed once per process, glyphs cut once (elicense.pdf.cff)
        cff.attach(pdf, FONT_FAMILY, shared)
        return _layout(pdf, issued, lt, keyed, issued_text, seal_size_mm, producer=cff.fast_output_class())
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
        return _layout(pdf, issued, lt, keyed, issued_text, seal_size_mm)


# -- text ---------------------------------------------------------------------------------------

_FAST_TEXT = True
"""Draw plain one-line cells with :func:`_cell` instead of fpdf2's ``cell`` (same content-stream bytes:
``tests/test_pdf_perf_paths.py`` renders every demo licence both ways and compares)."""


def _plain(pdf: FPDF) -> TTFFont | None:
    """The current font when the text state is plain (no spacing, stretching, shaping, decoration)."""
    font = pdf.current_font
    if (
        not isinstance(font, TTFFont)
        or font.color_font
        or pdf.char_spacing != 0
        or pdf.font_stretching != 100
        or pdf.text_mode != TextMode.FILL
        or pdf.underline
        or pdf.strikethrough
        or pdf.text_shaping
        or pdf._record_text_quad_points
    ):
        return None
    return font


def _width(pdf: FPDF, text: str) -> float:
    """``pdf.get_string_width(text)`` without fpdf2's fragment machinery (plain text state)."""
    font = _plain(pdf) if _FAST_TEXT else None
    if font is None:
        return float(pdf.get_string_width(text))
    return float(font.get_text_width(text, pdf.font_size_pt, None)[1]) / float(pdf.k)


class _Codes(dict[str, str]):
    """Character → its escaped two-byte code in one document's font subset (fpdf2's ``pick`` + ``escape_text``,
    once per character and document: the subset map gives a character the same code every time)."""

    def __init__(self, font: TTFFont) -> None:
        super().__init__()
        self.font = font

    def __missing__(self, char: str) -> str:
        code = self.font.subset.pick(ord(char))
        piece = "" if not code else _ESCAPED.get(code) or _ESCAPED.setdefault(code, self.font.escape_text(chr(code)))
        self[char] = piece
        return piece


_ESCAPED: dict[int, str] = {}
"""Code → its escaped two bytes in a PDF string (``TTFFont.escape_text`` of a non-colour font: UTF-16BE)."""


def _codes(pdf: FPDF, font: TTFFont) -> Callable[[str], str]:
    """The code lookup of ``font`` in ``pdf`` (kept on the document: a new document starts a new subset)."""
    tables: dict[str, _Codes] = pdf.__dict__.setdefault("_elicense_codes", {})
    table = tables.get(font.fontkey)
    if table is None or table.font is not font:
        table = tables[font.fontkey] = _Codes(font)
    return table.__getitem__


_NOT_PLAIN_WRAP = frozenset(BREAKING_SPACE_SYMBOLS_STR + "\n\r\f\u00a0\u00ad")
"""Characters fpdf2's line breaker treats specially (spaces: it justifies lines that have them)."""


def _char_lines(font: TTFFont, text: str, size_pt: float, k: float, max_width: float) -> list[str] | None:
    """``text`` broken into lines as fpdf2's ``multi_cell(wrapmode=CHAR)`` breaks it, or ``None`` when the text
    needs more than this covers (spaces, newlines, soft hyphens, a character wider than a line).

    The same rule with the same arithmetic: a line takes characters while its width (the sum of the
    advances, times the size) stays within ``max_width`` (1e-9 tolerance); the next character starts
    the next line. Lines without spaces are drawn like one-line cells (no justification to apply).
    """
    if not text or not _NOT_PLAIN_WRAP.isdisjoint(text):
        return None
    cw = font.cw
    lines: list[str] = []
    start, units = 0, 0
    for i, c in enumerate(text):
        adv = int(cw[ord(c)])
        if (units * size_pt * 0.001 / k + adv * size_pt * 0.001 / k) - max_width > 1e-9:
            if i == start:
                return None  # wider than a line: fpdf2 has its own error for that
            lines.append(text[start:i])
            start, units = i, 0
        units += adv
    lines.append(text[start:])
    return lines


def _wrapped(pdf: FPDF, w: float, h: float, text: str) -> None:
    """``pdf.multi_cell(w, h, text, wrapmode=CHAR, new_x=LMARGIN, new_y=NEXT)`` for plain text, line by line with
    :func:`_cell` (fpdf2 re-measures the whole line for every character it adds: ~0.7 ms a page)."""
    font = _plain(pdf) if _FAST_TEXT else None
    lines = None
    if font is not None:
        margin = float(pdf.c_margin)
        lines = _char_lines(font, text, float(pdf.font_size_pt), float(pdf.k), w - margin - margin)
    if lines is None:
        pdf.multi_cell(w, h, text, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    for line in lines[:-1]:
        pdf._perform_page_break_if_need_be(h)
        _cell(pdf, w, h, line, keep_x=True)
    pdf._perform_page_break_if_need_be(h)
    _cell(pdf, w, h, lines[-1], next_line=True)


def _cell(
    pdf: FPDF, w: float, h: float, text: str, align: str = "L", *, next_line: bool = False, keep_x: bool = False
) -> None:
    """One line of text in a cell of width ``w`` (0: to the right margin), as ``pdf.cell`` draws it.

    fpdf2's ``cell`` builds styled fragments, copies the graphics state and re-measures the
    text several times (~0.1 ms a cell, a third of a page's layout); for plain text in our font
    the content it writes is a font selection (once) and ``BT x y Td [colour] (codes) Tj ET``,
    written here directly with fpdf2's own subset map, metrics and escaping.
    """
    font = _plain(pdf) if _FAST_TEXT else None
    if font is None or not text:
        if keep_x:
            pdf.cell(w, h, text, align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)
        elif next_line:
            pdf.cell(w, h, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            pdf.cell(w, h, text, align=align)
        return
    pdf._perform_page_break_if_need_be(h)
    k, size_pt = float(pdf.k), float(pdf.font_size_pt)
    if w == 0:
        w = float(pdf.w - pdf.r_margin - pdf.x)
    width = float(font.get_text_width(text, size_pt, None)[1]) / k
    margin = float(pdf.c_margin)
    dx = w - margin - width if align == "R" else (w - width) / 2 if align == "C" else margin
    x, y = float(pdf.x), float(pdf.y)
    parts = [f"BT {(x + dx) * k:.2f} {(float(pdf.h) - y - 0.5 * h - 0.3 * (size_pt / k)) * k:.2f} Td"]
    colour = pdf.text_color
    recoloured = colour is not None and colour != pdf.fill_color
    if recoloured and colour is not None:
        parts.append(colour.serialize().lower())
    if not pdf.current_font_is_set_on_page:
        pdf._out(pdf._set_font_for_page(font, size_pt))
    parts.append(f"({''.join(map(_codes(pdf, font), text))}) Tj")
    parts.append("ET")
    line = " ".join(parts)
    pdf._out(f"q {line} Q" if recoloured else line)
    pdf._lasth = h
    if keep_x:
        pdf.y = y + h
    elif next_line:
        pdf.x = pdf.l_margin
        pdf.y = y + h
    else:
        pdf.x = x + w


FOOTER_NOTE = "本证照由发证机关加盖电子印章并以数字签名保护，可扫描二维码核验真伪。"
"""The footer's note: what the seal and the QR are for (no tool or command names on a licence)."""
ROW_SIZE = 12.0
LABEL_MAX_MM = 46.0


def _label_width(pdf: FPDF, labels: Iterable[str]) -> float:
    """Width of a label column: the longest label at the row size (with its colon), at most LABEL_MAX_MM."""
    pdf.set_font(FONT_FAMILY, size=ROW_SIZE)
    widest = max((_width(pdf, f"{label}：") for label in labels), default=20.0)
    return min(float(widest) + 2 * float(pdf.c_margin) + 0.5, LABEL_MAX_MM)


def _field_rows(pdf: FPDF, rows: list[tuple[str, str, str]], x: float, width: float, bottom: float) -> float:
    """Draw label/value rows in a column from the current y; returns the y below them.

    A label wider than the label column is set smaller until it fits (long labels stay in the frame);
    a value that does not fit the column wraps, at a smaller size when it is long.
    """
    label_w = _label_width(pdf, (label for _, label, _ in rows))
    value_w = width - label_w
    for _, label, value in rows:
        size = ROW_SIZE if len(value) < 400 else 10.0 if len(value) < 1200 else 8.0
        if pdf.get_y() > bottom - 8:
            pdf.add_page()
        y0 = pdf.get_y()
        label_size = ROW_SIZE
        pdf.set_font(FONT_FAMILY, size=label_size)
        while _width(pdf, f"{label}：") > label_w - 2 * pdf.c_margin and label_size > 6:
            label_size -= 0.5
            pdf.set_font(FONT_FAMILY, size=label_size)
        pdf.set_text_color(*GREY)
        pdf.set_xy(x, y0)
        _cell(pdf, label_w, 7.5, f"{label}：", "R")
        pdf.set_text_color(*INK)
        pdf.set_font(FONT_FAMILY, size=size)
        pdf.set_xy(x + label_w, y0)
        if "\n" not in value and _width(pdf, value) <= value_w - 2 * pdf.c_margin:
            # fits on one line: a plain cell draws the same text without multi_cell's line breaker (~1/3 of
            # the layout time)
            _cell(pdf, value_w, 7.5 * size / 12, value, next_line=True)
        else:
            _wrapped(pdf, value_w, 7.5 * size / 12, value)
        pdf.ln(1.8)
    return float(pdf.get_y())


def _authority(pdf: FPDF, label: str, name: str, date_text: str, x: float, w: float, y: float) -> tuple[float, float]:
    """The issuing authority, then the date far enough below it that the seal covers the date, not the name.

    Returns the seal centre (x, y) in mm: on the date line.
    """
    pdf.set_text_color(*INK)
    pdf.set_font(FONT_FAMILY, size=12)
    pdf.set_xy(x, y)
    _cell(pdf, w, 8, f"{label}：{name}", "C")
    date_y = y + 8 + SEAL_MM / 2 + 1  # the seal (centred on the date) stays clear of the name line
    pdf.set_xy(x, date_y)
    _cell(pdf, w, 8, date_text, "C")
    return x + w / 2, date_y + 4


def _layout(
    pdf: FPDF,
    issued: IssuedLicence,
    lt: LicenceType,
    keyed: list[tuple[str, str, str]],
    issued_text: str,
    seal_size_mm: float,
    producer: type | None = None,
) -> RenderedLicence:
    licence = issued.licence
    design = _design(lt)
    pdf.add_page()
    page_w, page_h = float(pdf.w), float(pdf.h)
    inner = page_w - 2 * MARGIN
    if design.qr_top_right:
        qr_size = 36.0
        qr_x, qr_y = page_w - MARGIN - qr_size, MARGIN - 2
    else:
        qr_size = QR_MM
        qr_x, qr_y = MARGIN + 2, page_h - MARGIN - 68 + 4
    # title
    pdf.set_text_color(*INK)
    pdf.set_font(FONT_FAMILY, size=30)
    title = lt.name_zh
    spacing = 6 if len(title) <= 6 else 1
    pdf.set_char_spacing(spacing)
    pdf.set_y(26 if design.landscape else 30)
    _cell(pdf, 0, 14, title, "C", next_line=True)
    pdf.set_char_spacing(0)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.set_text_color(*GREY)
    _cell(pdf, 0, 5, f"{lt.name_en}（电子证照）", "C", next_line=True)
    if design.header_code:  # 统一社会信用代码 and the number top left, as printed
        pdf.set_font(FONT_FAMILY, size=10.5)
        pdf.set_text_color(*INK)
        pdf.set_xy(MARGIN, MARGIN)
        _cell(pdf, 90, 6, f"统一社会信用代码：{licence.holder.code}", next_line=True)
        pdf.set_x(MARGIN)
        _cell(pdf, 90, 6, f"证照编号：{licence.number}")
        pdf.set_y(MARGIN + 38)
    else:
        pdf.ln(6)
        pdf.set_font(FONT_FAMILY, size=10.5)
        pdf.set_text_color(*INK)
        _cell(pdf, 0, 6, f"证照编号：{licence.number}", "R", next_line=True)
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.4)
    rule_right = qr_x - 4 if design.qr_top_right else page_w - MARGIN
    pdf.line(MARGIN, pdf.get_y() + 1, rule_right, pdf.get_y() + 1)
    pdf.ln(6)
    authority_w = 90.0 if design.landscape else 80.0
    authority_x = page_w - MARGIN - authority_w
    if design.left:  # two columns; the right one stops above the authority block
        top = pdf.get_y()
        gap = 8.0
        col_w = (inner - gap) / 2
        left = [r for r in keyed if r[0] in design.left]
        order = {key: i for i, key in enumerate(design.right)}
        right = sorted((r for r in keyed if r[0] not in design.left), key=lambda r: order.get(r[0], len(order)))
        left_end = _field_rows(pdf, left, MARGIN, col_w, page_h - MARGIN - 12)
        pdf.set_y(top)
        right_end = _field_rows(pdf, right, MARGIN + col_w + gap, col_w, page_h - MARGIN - 12)
        block_top = max(right_end + 2, page_h - MARGIN - 66)
        del left_end
    else:
        _field_rows(pdf, keyed, MARGIN, inner, page_h - MARGIN - 20)
        block_top = page_h - MARGIN - 68  # QR + authority block need ~70 mm at the bottom
        if pdf.get_y() > block_top:
            pdf.add_page()
    pdf.set_auto_page_break(False)
    if pdf.page_no() > MAX_PAGES:
        raise LicenceDataError("licence text is too long for the PDF layout", message_zh="证照内容过长，无法排版")
    if pdf.page_no() > 1 and design.qr_top_right:
        qr_x, qr_y, qr_size = MARGIN + 2, page_h - MARGIN - 68 + 4, QR_MM
    _place_qr(pdf, issued.qr_payload, qr_x, qr_y, qr_size)
    pdf.set_font(FONT_FAMILY, size=8)
    pdf.set_text_color(*GREY)
    pdf.set_xy(qr_x, qr_y + qr_size + 0.5)
    _cell(pdf, qr_size, 4, "扫码核验", "C")
    # authority, then the date with the seal stamped over it (not over the name)
    seal_cx, seal_cy = _authority(pdf, design.issuer_label, licence.issuer.name, issued_text,
                                  authority_x, authority_w, block_top + 4)  # fmt: skip
    # footer: the identifier and a note
    pdf.set_font(FONT_FAMILY, size=7.5)
    pdf.set_text_color(*GREY)
    pdf.set_xy(MARGIN, page_h - MARGIN - 4)
    _cell(pdf, 0, 4, f"电子证照标识：{licence.id}", next_line=True)
    pdf.set_x(MARGIN)
    _cell(pdf, 0, 4, FOOTER_NOTE)
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
        return (x * PT_PER_MM, (page_h - y - h) * PT_PER_MM, (x + w) * PT_PER_MM, (page_h - y) * PT_PER_MM)

    half = seal_size_mm / 2
    return RenderedLicence(
        pdf=data,
        page=page,
        seal_box=box(seal_cx - half, seal_cy - half, seal_size_mm, seal_size_mm),
        qr_box=box(qr_x, qr_y, qr_size, qr_size),
    )
