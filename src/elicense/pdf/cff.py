"""Fast CJK font embedding for fpdf2: the font is parsed once, each glyph is cut once.

fpdf2 subsets the font it is given with fontTools on every ``output()``; for a
CID-keyed CFF font (the packaged Noto Serif CJK) that means running every used
charstring through the CFF interpreter and recompiling the table, ~60 ms per
document, and cutting a per-document font first costs ~150 ms more for each new
set of characters (every new holder name). Instead:

* :func:`shared_font` parses the font file into an fpdf2 ``TTFFont`` **once per
  process**; :func:`attach` gives each document a light clone (its own subset
  map and descriptor, shared metrics and charstrings).
* :func:`glyph_program` draws each used glyph **once per process** into a flat
  Type 2 charstring (subroutines inlined, hints dropped: PDF viewers render CJK
  unhinted anyway) with its advance width.
* :func:`fast_output_class` (an fpdf2 ``OutputProducer``) embeds our font as a
  ``CIDFontType0C`` program written here (:func:`build_cid_cff`): CID = the code
  fpdf2 put in the content stream, so the encoding is ``Identity-H`` and the
  ``ToUnicode`` map keeps the text extractable. Other fonts go through fpdf2.

The CFF writer covers only what it writes (CFF 1.0, CID-keyed, one FD, no
subroutines); ``tests/fonts/test_fonts.py``/``test_pdf_roundtrip.py`` check the result
with fontTools, ``pdffonts``, ``pdftotext`` and a rendered QR/seal page.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fontTools.pens.t2CharStringPen import T2CharStringPen  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.fonts import Glyph, SubsetMap, TTFFont
from fpdf.output import (
    CIDSystemInfo,
    OutputProducer,
    PDFExtGState,
    PDFFont,
    PDFFontStream,
    PDFType3Font,
    PDFXObject,
    _build_cmap_blocks,
    _cid_font_widths,
)
from fpdf.pattern import Pattern
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFString

__all__ = ["attach", "build_cid_cff", "fast_output_class", "glyph_program", "shared_font", "supports"]

_LOCK = threading.Lock()
_FONTS: dict[tuple[str, int], TTFFont | None] = {}
_GLYPHS: dict[tuple[int, str], bytes] = {}


@atexit.register
def _close_fonts() -> None:
    """Close the cached fonts' files (fontTools reads them lazily): no ``ResourceWarning`` at exit."""
    with _LOCK:
        for font in _FONTS.values():
            if font is not None:
                font.ttfont.close()
        _FONTS.clear()


_MARK = "__elicense_fast_cff__"


def _key(path: Path) -> tuple[str, int]:
    return (str(path), path.stat().st_mtime_ns)


def shared_font(path: Path) -> TTFFont | None:
    """The fpdf2 ``TTFFont`` of ``path``, parsed once; ``None`` if the fast path does not apply."""
    key = _key(path)
    with _LOCK:
        if key in _FONTS:
            return _FONTS[key]
    pdf = FPDF()
    pdf.add_font("elicense-shared", fname=path)
    added = pdf.fonts["elicense-shared"]
    font = added if isinstance(added, TTFFont) and supports(added) else None
    if font is None and isinstance(added, TTFFont):
        added.ttfont.close()
    with _LOCK:
        if len(_FONTS) >= 4:
            _FONTS.clear()  # evicted fonts may still be in use by a render: the collector closes them
        _FONTS[key] = font
    return font


def supports(font: object) -> bool:
    """CID-keyed CFF with the default 1/1000 font matrix (other fonts: fpdf2's own subsetting)."""
    try:
        if not (isinstance(font, TTFFont) and font.is_cff and font.is_cid_keyed and "CFF " in font.ttfont):
            return False
        top = font.ttfont["CFF "].cff.topDictIndex[0]
        matrix = [float(v) for v in top.FontMatrix]
        fds_plain = all(getattr(fd, "FontMatrix", None) is None for fd in top.FDArray)
        return matrix == [0.001, 0.0, 0.0, 0.001, 0.0, 0.0] and fds_plain
    except Exception:
        return False


def attach(pdf: FPDF, family: str, shared: TTFFont) -> None:
    """Register a per-document clone of ``shared`` as ``family`` in the fpdf2 document ``pdf``."""
    font = TTFFont.__new__(TTFFont)
    for slot in TTFFont.__slots__:
        if hasattr(shared, slot):
            setattr(font, slot, getattr(shared, slot))
    font.i = len(pdf.fonts) + 1
    font.fontkey = family
    font.desc = copy.copy(shared.desc)  # output sets its name and object id
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[family] = font
    setattr(pdf, _MARK, {*getattr(pdf, _MARK, set()), family})
    pdf._set_min_pdf_version("1.6")


def glyph_program(font: TTFFont, glyph_name: str, width: int) -> bytes:
    """The flat Type 2 charstring of one glyph (width first, no hints, no subroutines), cached."""
    key = (id(font.ttfont), glyph_name)
    cached = _GLYPHS.get(key)
    if cached is not None:
        return cached
    charstrings = font.ttfont["CFF "].cff.topDictIndex[0].CharStrings
    pen = T2CharStringPen(width, None)
    with _LOCK:  # fontTools charstring objects decompile lazily: not thread-safe
        charstrings[glyph_name].draw(pen)
    charstring = pen.getCharString()
    charstring.compile()
    data = bytes(charstring.bytecode)
    with _LOCK:
        if len(_GLYPHS) > 50_000:
            _GLYPHS.clear()
        _GLYPHS[key] = data
    return data


def _notdef_name(font: TTFFont) -> str:
    """Name of glyph 0 (``.notdef`` in name-keyed fonts, ``cid00000`` in CID-keyed ones)."""
    return str(font.ttfont.getGlyphOrder()[0])


# -- CFF writer ----------------------------------------------------------------------------------


def _int(v: int) -> bytes:
    if -107 <= v <= 107:
        return bytes([v + 139])
    if 108 <= v <= 1131:
        v -= 108
        return bytes([(v >> 8) + 247, v & 0xFF])
    if -1131 <= v <= -108:
        v = -v - 108
        return bytes([(v >> 8) + 251, v & 0xFF])
    return b"\x1d" + struct.pack(">i", v)


def _fixed(v: int) -> bytes:
    """An offset: always the 5-byte form, so the DICT length does not depend on it."""
    return b"\x1d" + struct.pack(">i", v)


def _index(items: Sequence[bytes]) -> bytes:
    if not items:
        return b"\x00\x00"
    offsets = [1]
    for item in items:
        offsets.append(offsets[-1] + len(item))
    size = 1 if offsets[-1] < 0x100 else 2 if offsets[-1] < 0x10000 else 3 if offsets[-1] < 0x1000000 else 4
    packed = b"".join(o.to_bytes(size, "big") for o in offsets)
    return struct.pack(">HB", len(items), size) + packed + b"".join(items)


def build_cid_cff(font_name: str, glyphs: Sequence[tuple[int, bytes]], notdef: bytes) -> bytes:
    """A CID-keyed CFF (ROS Adobe-Identity-0) holding ``(cid, charstring)`` pairs after .notdef."""
    glyphs = sorted(glyphs)
    cids = [cid for cid, _ in glyphs]
    if len(set(cids)) != len(cids) or any(not 0 < c <= 0xFFFF for c in cids):
        raise ValueError("CIDs must be unique and in 1..65535")
    strings = [b"Adobe", b"Identity", font_name.encode("ascii")]
    n = len(glyphs) + 1
    charset = b"\x00" + b"".join(struct.pack(">H", c) for c in cids)
    fdselect = b"\x00" + b"\x00" * n
    charstrings = _index([notdef, *(cs for _, cs in glyphs)])
    private = _int(0) + bytes([20]) + _int(0) + bytes([21])  # defaultWidthX 0, nominalWidthX 0

    def top(charset_off: int, cs_off: int, fdarray_off: int, fdselect_off: int) -> bytes:
        return (
            _int(391)
            + _int(392)
            + _int(0)
            + b"\x0c\x1e"  # ROS
            + _int(max([0, *cids]) + 1)
            + b"\x0c\x22"  # CIDCount
            + _fixed(charset_off)
            + b"\x0f"
            + _fixed(cs_off)
            + b"\x11"
            + _fixed(fdarray_off)
            + b"\x0c\x24"
            + _fixed(fdselect_off)
            + b"\x0c\x25"
        )

    def fd(private_off: int) -> bytes:
        return _int(393) + b"\x0c\x26" + _fixed(len(private)) + _fixed(private_off) + b"\x12"  # FontName, Private

    header = bytes([1, 0, 4, 4])
    name_index = _index([font_name.encode("ascii")])
    string_index = _index(strings)
    gsubrs = _index([])
    top_len = len(_index([top(0, 0, 0, 0)]))
    fd_len = len(_index([fd(0)]))
    charset_off = len(header) + len(name_index) + top_len + len(string_index) + len(gsubrs)
    fdselect_off = charset_off + len(charset)
    cs_off = fdselect_off + len(fdselect)
    fdarray_off = cs_off + len(charstrings)
    private_off = fdarray_off + fd_len
    return b"".join(
        [
            header,
            name_index,
            _index([top(charset_off, cs_off, fdarray_off, fdselect_off)]),
            string_index,
            gsubrs,
            charset,
            fdselect,
            charstrings,
            _index([fd(private_off)]),
            private,
        ]
    )


# -- fpdf2 output ---------------------------------------------------------------------------------


class _FontStream(PDFFontStream):
    """The CFF program, stored without Flate: charstrings barely deflate (measured 28.7 KB → 24.1 KB at level
    1), and deflating them cost ~0.4 ms a page (~6 % of its render)."""

    def __init__(self, contents: bytes) -> None:
        PDFContentStream.__init__(self, contents=contents, compress=False)
        self.length1 = len(contents)


@dataclass(frozen=True)
class _Glyph:
    """What the embedded font needs of one glyph, made once per process: its flat charstring and the
    UTF-16BE hex of its characters for ``ToUnicode`` (``""``: none)."""

    program: bytes
    unicode_hex: str


_ENTRIES: dict[tuple[int, str, object, int], _Glyph] = {}


def _entry(font: TTFFont, glyph: Glyph) -> _Glyph:
    key = (id(font.ttfont), glyph.glyph_name, glyph.unicode, int(glyph.glyph_width))
    entry = _ENTRIES.get(key)
    if entry is None:
        chars = glyph.unicode if isinstance(glyph.unicode, tuple) else ()
        entry = _Glyph(
            glyph_program(font, glyph.glyph_name, int(glyph.glyph_width)),
            "".join(chr(cp).encode("utf-16-be").hex().upper() for cp in chars),
        )
        with _LOCK:
            if len(_ENTRIES) > 50_000:
                _ENTRIES.clear()
            _ENTRIES[key] = entry
    return entry


class _Producer(OutputProducer):
    """fpdf2's output with our fonts embedded by :meth:`_add_fast_font` (others by fpdf2)."""

    def _add_fonts(
        self,
        image_objects_per_index: dict[int, PDFXObject],
        gfxstate_objs_per_name: dict[str, PDFExtGState],
        pattern_objs_per_name: dict[str, Pattern],
    ) -> dict[int, PDFFont | PDFType3Font]:
        args = (image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name)
        ours: set[str] = getattr(self.fpdf, _MARK, set())
        if not ours:
            return super()._add_fonts(*args)
        registry = self.fpdf.fonts  # a dict behind a read-only property: edit it in place
        mine = {k: registry.pop(k) for k in list(registry) if k in ours}
        try:
            objs = super()._add_fonts(*args)
        finally:
            registry.update(mine)
        for font in mine.values():
            assert isinstance(font, TTFFont)
            objs[font.i] = self._add_fast_font(font)
        return objs

    def _add_fast_font(self, font: TTFFont) -> PDFFont:
        used = [(g, code) for g, code in font.subset.items() if g is not None and code != 0]
        entries = [(code, _entry(font, g)) for g, code in used]
        default_width = int(font.desc.missing_width or 0)
        notdef = glyph_program(font, _notdef_name(font), default_width)
        names = ",".join(f"{c}:{g.glyph_name}" for g, c in sorted(used, key=lambda gc: gc[1]))
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(names.encode()).digest()[:6])
        fontname = f"{tag}+{font.name}"
        cff = build_cid_cff(fontname, [(code, e.program) for code, e in entries], notdef)

        composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        # /W lists only the glyphs whose advance is not /DW (the CJK ideographs all are 1000 units)
        widths = {code: int(g.glyph_width) for g, code in used if int(g.glyph_width) != default_width}
        cid_font = PDFFont(
            subtype="CIDFontType0",
            base_font=fontname,
            d_w=font.desc.missing_width,
            w=_cid_font_widths(widths) if widths else None,
        )
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])

        bf = [f"<{code:04X}> <{e.unicode_hex}>\n" for code, e in entries if e.unicode_hex]
        to_unicode = PDFContentStream(
            (
                "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
                "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                f"{_build_cmap_blocks(bf, 'bfchar')}"
                "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
            ).encode("latin-1")
        )
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode

        info = CIDSystemInfo()
        info.registry = PDFString("Adobe", encrypt=True)
        info.ordering = PDFString("Identity", encrypt=True)
        info.supplement = 0
        self._add_pdf_obj(info, "fonts")
        cid_font.c_i_d_system_info = info

        desc = copy.copy(font.desc)
        desc.font_name = Name(fontname)
        self._add_pdf_obj(desc, "fonts")
        cid_font.font_descriptor = desc
        stream = _FontStream(contents=cff)
        stream.subtype = Name("CIDFontType0C")  # type: ignore[attr-defined]
        self._add_pdf_obj(stream, "fonts")
        desc.font_file3 = stream  # type: ignore[attr-defined]
        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        return composite


def fast_output_class() -> type[OutputProducer]:
    """The fpdf2 ``OutputProducer`` subclass that embeds our fonts."""
    return _Producer
