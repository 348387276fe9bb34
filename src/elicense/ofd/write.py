"""An issued licence as an OFD document (GB/T 33190 package, laid out as GB/T 36905 licence files are).

The package, as real licence files and ofdrw lay it out::

    OFD.xml                         DocInfo (+ GB/T 36903 metadata as CustomData), DocRoot[, Signatures]
    Doc_0/Document.xml              PhysicalBox, Pages, PublicRes, DocumentRes, Attachments, CustomTags
    Doc_0/PublicRes.xml             the embedded font (Res/font_1.otf: a subset cut to this document)
    Doc_0/DocumentRes.xml           the QR image (Res/qr.png)
    Doc_0/Pages/Page_N/Content.xml  the certificate page(s)
    Doc_0/Attachs/Attachments.xml   the signed full record (Attachs/licence.cose, COSE_Sign1)
    Doc_0/Tags/CustomTags.xml       → Tags/Tag_Licence.xml: each field, its value and its page objects

The page follows the paper licence of its type: landscape certificates for 营业执照,
食品经营许可证 and 安全生产许可证, the register page of the 不动产权证书, card size for
机动车驾驶证 and 居民身份证 (two sides). Every character is checked against the font
first (:func:`~elicense.fonts.require_glyphs`: a missing glyph is an error, never a box)
and the font is subset per document with fontTools, so no font is assumed on the
reader's machine. :attr:`LicenceOfd.seal_box` is where the seal goes: over the date,
as on paper.

Nothing here signs: :mod:`elicense.ofd.seal` adds the electronic seal.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import io
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import zxingcpp
from fontTools import subset  # type: ignore[import-untyped]
from fontTools.fontBuilder import FontBuilder  # type: ignore[import-untyped]
from fontTools.misc.psCharStrings import T2CharString  # type: ignore[import-untyped]
from fontTools.pens.t2CharStringPen import T2CharStringPen  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from PIL import Image

from elicense import __version__
from elicense.catalog import Catalog
from elicense.display import HOLDER_LABELS, cn_date, page_text
from elicense.errors import LicenceDataError
from elicense.fonts import require_glyphs, resolve_font
from elicense.ofd.document import TAG_NAMESPACE, TaggedField, read_licence_tags
from elicense.ofd.layout import Canvas, FontMetrics, attr, font_metrics
from elicense.ofd.package import write_package
from elicense.qr.render import qr_png

if TYPE_CHECKING:
    from elicense.catalog import LicenceType
    from elicense.issue import IssuedLicence
    from elicense.model import Licence

__all__ = [
    "TAG_NAMESPACE",
    "LicenceOfd",
    "TaggedField",
    "build_licence_ofd",
    "read_licence_tags",
    "render_ofd",
]

TAG_TYPE_ID = "elicense-licence"
"""``CustomTag@TypeID`` of that map."""
ATTACHMENT_NAME = "licence.cose"
"""File name of the signed full record inside ``Doc_0/Attachs/``."""
FONT_NAME = "Noto Serif CJK SC"

RED = (176, 30, 36)
INK = (30, 30, 30)
GREY = (110, 110, 110)
_FONT_ID, _QR_ID, _FIRST_PAGE_ID = 1, 2, 3


@dataclass(frozen=True)
class LicenceOfd:
    """An unsigned licence OFD: its files, and where things are on the page."""

    files: tuple[tuple[str, bytes], ...] = field(repr=False)
    """Every package file except ``OFD.xml``, in package order."""
    doc_info: str = field(repr=False)
    """The ``DocInfo`` element of ``OFD.xml``."""
    signed_at: dt.datetime
    """The licence's signing time (the package's timestamps)."""
    page_ids: tuple[int, ...]
    """``Page@ID`` of each page."""
    seal_page: int
    """``Page@ID`` of the page the seal goes on."""
    seal_box: tuple[float, float, float, float]
    """Seal position ``(x, y, w, h)`` in mm, origin top left: over the date."""
    qr_box: tuple[float, float, float, float]
    """QR position ``(x, y, w, h)`` in mm on page ``qr_page``."""
    qr_page: int
    """``Page@ID`` of the page with the QR."""
    page_size: tuple[float, float]
    """Width and height in mm."""
    field_objects: Mapping[str, tuple[int, ...]]
    """Field key → IDs of the TextObjects that show its value."""
    max_id: int
    """Largest ID used (the next free one is ``max_id + 1``)."""

    def ofd_xml(self, signatures: str | None = None) -> bytes:
        """``OFD.xml``; ``signatures`` is the Signatures.xml location once the document is sealed."""
        sig = f"<ofd:Signatures>{escape(signatures)}</ofd:Signatures>" if signatures else ""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.1" DocType="OFD"><ofd:DocBody>'
            f"{self.doc_info}<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>{sig}</ofd:DocBody></ofd:OFD>"
        ).encode()

    def unsigned(self) -> bytes:
        """The unsigned package (deterministic bytes)."""
        return write_package([("OFD.xml", self.ofd_xml()), *self.files], when=self.signed_at)


# -- values ----------------------------------------------------------------------------------------


def _tag_value(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Row:
    """One labelled value on the page."""

    key: str
    label: str
    value: str


def _rows(licence: Licence, lt: LicenceType) -> dict[str, Row]:
    name_label, code_label = HOLDER_LABELS.get(licence.holder.code_type.value, ("名称", "代码"))
    until = "长期" if licence.validity.end is None else cn_date(licence.validity.end)
    rows = {
        "holder_name": Row("holder_name", name_label, licence.holder.name),
        "holder_code": Row("holder_code", code_label, licence.holder.code),
        "number": Row("number", "证照编号", licence.number),
        "validity": Row("validity", "有效期限", f"{cn_date(licence.validity.start)} 至 {until}"),
    }
    for spec in lt.fields:
        if spec.key in licence.fields:
            rows[spec.key] = Row(spec.key, spec.name_zh, page_text(licence.fields[spec.key]))
    return rows


# -- page styles -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How a licence type's paper document is laid out."""

    kind: str
    """``certificate`` (landscape), ``register`` (portrait table) or ``card``."""
    size: tuple[float, float]
    """Page width and height (mm)."""
    title: str | None = None
    """Printed title, when it differs from the catalogue name."""
    columns: tuple[tuple[str, ...], ...] = ()
    """Field keys per column, in paper order (keys absent from the licence are skipped; keys of the licence
    not listed go to the last column)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Paper labels that differ from the catalogue's."""
    top: tuple[str, ...] = ()
    """Keys printed in the header line (licence number, credit code)."""


STYLES: Mapping[str, Style] = MappingProxyType(
    {
        # 营业执照: landscape, code and number top left, QR top right, 名称…经营范围 left, 注册资本…住所 right
        "business-licence": Style(
            "certificate",
            (297.0, 210.0),
            columns=(
                ("holder_name", "entity_type", "legal_representative", "business_scope"),
                ("registered_capital", "capital_currency", "establishment_date", "validity", "domicile"),
            ),
            labels={"validity": "营业期限"},
            top=("holder_code", "number"),
        ),
        # 食品经营许可证: landscape, 经营者… left, 许可证编号… right
        "food-business-licence": Style(
            "certificate",
            (297.0, 210.0),
            columns=(
                (
                    "holder_name",
                    "holder_code",
                    "legal_representative",
                    "domicile",
                    "business_premises",
                    "main_business_format",
                    "business_items",
                ),
                ("number", "supervising_authority", "supervisors", "complaint_hotline", "validity", "signed_by"),
            ),
            labels={
                "holder_name": "经营者名称",
                "holder_code": "社会信用代码（身份证号码）",
                "number": "许可证编号",
                "validity": "有效期至",
            },
        ),
        # 安全生产许可证 (建筑施工企业): landscape, one column
        "construction-safety-licence": Style(
            "certificate",
            (297.0, 210.0),
            title="安全生产许可证",
            columns=(
                ("holder_name", "holder_code", "principal", "address", "economic_type", "licensed_scope", "validity"),
            ),
            labels={"holder_name": "单位名称", "validity": "有效期"},
            top=("number",),
        ),
        # 不动产权证书: the register page, a two-column table
        "real-estate-title": Style(
            "register",
            (210.0, 297.0),
            title="不动产权证书",
            columns=(
                (
                    "holder_name",
                    "holder_code",
                    "co_ownership",
                    "location",
                    "unit_number",
                    "right_type",
                    "right_nature",
                    "usage",
                    "area",
                    "term_of_use",
                    "other_rights_status",
                    "notes",
                ),
            ),
            labels={"holder_name": "权利人", "holder_code": "证件号码"},
            top=("number",),
        ),
        "driving-licence": Style(
            "card",
            (88.0, 60.0),
            columns=(
                (
                    "holder_name",
                    "sex",
                    "nationality",
                    "address",
                    "date_of_birth",
                    "first_issue_date",
                    "vehicle_classes",
                    "validity",
                    "file_number",
                ),
            ),
            labels={"holder_code": "证号"},
            top=("holder_code",),
        ),
        "resident-id-card": Style(
            "card",
            (85.6, 54.0),
            title="居民身份证",
            columns=(("holder_name", "sex", "ethnicity", "date_of_birth", "address"),),
            labels={"holder_code": "公民身份号码"},
        ),
    }
)
_DEFAULT_STYLE = Style("certificate", (297.0, 210.0))


@dataclass
class _Pages:
    """Pages being laid out, and what the writer needs to know about them."""

    metrics: FontMetrics
    size: tuple[float, float]
    next_id: int = 10
    canvases: list[Canvas] = field(default_factory=list)
    fields: dict[str, list[int]] = field(default_factory=dict)
    seal: tuple[int, tuple[float, float, float, float]] | None = None
    qr: tuple[int, tuple[float, float, float, float]] | None = None

    def page(self) -> Canvas:
        if self.canvases:
            self.next_id = self.canvases[-1].next_id
        canvas = Canvas(self.size[0], self.size[1], _FONT_ID, self.metrics, self.next_id)
        self.canvases.append(canvas)
        return canvas

    def note(self, key: str, ids: list[int]) -> None:
        self.fields.setdefault(key, []).extend(ids)


def _ordered(style: Style, rows: Mapping[str, Row], used: set[str]) -> list[list[Row]]:
    columns = [[rows[k] for k in col if k in rows and k not in used] for col in style.columns] or [[]]
    placed = used | {r.key for col in columns for r in col}
    columns[-1].extend(r for k, r in rows.items() if k not in placed and k not in ("number",))
    return columns


NOTE = "本证照由发证机关加盖电子印章（GB/T 38540）保护，可扫描二维码或使用 elicense verify 核验。"


def _too_long() -> LicenceDataError:
    return LicenceDataError("licence text is too long for the OFD layout", message_zh="证照内容过长，无法排版")


def _label(style: Style, row: Row) -> str:
    return style.labels.get(row.key, row.label)


def _frame(c: Canvas, inset: float, double: bool = True) -> None:
    c.rect(inset, inset, c.width - 2 * inset, c.height - 2 * inset, RED, 1.0 if double else 0.5)
    if double:
        c.rect(inset + 3, inset + 3, c.width - 2 * inset - 6, c.height - 2 * inset - 6, RED, 0.3)


def _pair(c: Canvas, x: float, y: float, label: str, value: str, size: float, *, center: bool = False) -> int:
    """``label`` then ``value`` on one line (two objects: the value's ID is returned for the tags)."""
    width = c.metrics.width(label + value, size)
    left = x - width / 2 if center else x
    c.text(left, y, label, size, INK)
    return c.text(left + c.metrics.width(label, size), y, value, size, INK)


def _title(c: Canvas, text: str, y: float, size: float) -> None:
    spacing = size * 0.6 if len(text) <= 7 else size * 0.1
    c.text(c.width / 2, y, text, size, INK, align="center", spacing=spacing)


def _certificate(
    p: _Pages, style: Style, lt: LicenceType, lic: Licence, rows: Mapping[str, Row], qr_mm: float, seal_mm: float
) -> None:
    c = p.page()
    w, h = c.width, c.height
    _frame(c, 8.0)
    _title(c, style.title or lt.name_zh, 20.0, 13.0)
    c.text(w / 2, 37.0, f"{lt.name_en}（电子证照）", 3.2, GREY, align="center")
    y_top = 22.0
    for key in style.top:
        if key in rows:
            row = rows[key]
            c.text(20.0, y_top, _label(style, row), 3.6, GREY)
            p.note(key, [c.text(20.0, y_top + 5.0, row.value, 4.2, INK)])
            y_top += 11.0
    qr_x, qr_y = w - 20.0 - qr_mm, 18.0
    p.qr = (len(p.canvases) - 1, (qr_x, qr_y, qr_mm, qr_mm))
    c.text(qr_x + qr_mm / 2, qr_y + qr_mm + 0.5, "扫码核验", 2.8, GREY, align="center")
    columns = _ordered(style, rows, set(style.top))
    top = max(58.0, y_top + 4.0)
    gap = 10.0
    col_w = (w - 40.0 - gap * (len(columns) - 1)) / len(columns)
    label_w = 34.0 if len(columns) > 1 else 46.0
    bottom = h - 52.0
    for i, col in enumerate(columns):
        x = 20.0 + i * (col_w + gap)
        y = top
        for row in col:
            size = 4.2 if len(row.value) < 120 else 3.4 if len(row.value) < 400 else 2.6
            label = _label(style, row)
            lsize = (
                4.0
                if p.metrics.width(label, 4.0) <= label_w - 2
                else (label_w - 2) / max(p.metrics.width(label, 1.0), 0.1)
            )
            c.text(x + label_w - 2, y + 0.3, label, lsize, GREY, align="right")
            ids, y = c.paragraph(x + label_w + 2, y, row.value, size, col_w - label_w - 2)
            p.note(row.key, ids)
            y += 2.2
            if y > bottom + 30:
                raise _too_long()
    # issuer and date, bottom right: the seal goes over the date
    bx, by = w - 20.0 - 90.0, h - 50.0
    # the issuer's name above the seal (a 40 mm seal centred on the date would cover it otherwise)
    p.note("issuer", [_pair(c, bx + 45.0, by - 16.0, "发证机关：", lic.issuer.name, 4.4, center=True)])
    date_id = c.text(bx + 45.0, by + 8.0, cn_date(lic.issued_on), 4.4, INK, align="center")
    p.note("issued_on", [date_id])
    p.seal = (len(p.canvases) - 1, (bx + 45.0 - seal_mm / 2, by + 10.2 - seal_mm / 2, seal_mm, seal_mm))
    c.text(20.0, h - 17.5, f"电子证照标识：{lic.id}", 2.6, GREY)
    c.text(20.0, h - 14.0, NOTE, 2.6, GREY)


def _register(
    p: _Pages, style: Style, lt: LicenceType, lic: Licence, rows: Mapping[str, Row], qr_mm: float, seal_mm: float
) -> None:
    c = p.page()
    w, h = c.width, c.height
    _frame(c, 8.0)
    _title(c, style.title or lt.name_zh, 20.0, 10.0)
    c.text(w / 2, 33.0, f"{lt.name_en}（电子证照）", 3.0, GREY, align="center")
    number = rows.get("number")
    if number is not None:
        c.text(w - 20.0, 42.0, "证照编号：", 3.6, GREY, align="right", spacing=0)
        p.note("number", [c.text(w - 20.0, 47.0, number.value, 3.8, INK, align="right")])
    x0, x1, x2 = 20.0, 52.0, w - 20.0
    y = 55.0
    c.line(x0, y, x2, y, INK, 0.3)
    for row in _ordered(style, rows, {"number"})[0]:
        size = 3.8 if len(row.value) < 200 else 3.0 if len(row.value) < 600 else 2.4
        ids, y_end = c.paragraph(x1 + 3.0, y + 2.0, row.value, size, x2 - x1 - 6.0)
        y_end = max(y_end, y + 9.0) + 1.0
        c.text((x0 + x1) / 2, (y + y_end) / 2 - 2.2, _label(style, row), 3.6, INK, align="center")
        p.note(row.key, ids)
        c.line(x0, y_end, x2, y_end, INK, 0.3)
        c.line(x0, y, x0, y_end, INK, 0.3)
        c.line(x1, y, x1, y_end, INK, 0.3)
        c.line(x2, y, x2, y_end, INK, 0.3)
        y = y_end
        if y > h - 70:
            raise _too_long()
    qr_x, qr_y = 20.0, h - 30.0 - qr_mm
    p.qr = (0, (qr_x, qr_y, qr_mm, qr_mm))
    c.text(qr_x + qr_mm / 2, qr_y + qr_mm + 0.5, "扫码核验", 2.8, GREY, align="center")
    bx, by = w - 20.0 - 45.0, h - 48.0
    p.note("issuer", [_pair(c, bx, by - 16.0, "登记机构：", lic.issuer.name, 4.0, center=True)])
    p.note("issued_on", [c.text(bx, by + 8.0, cn_date(lic.issued_on), 4.0, INK, align="center")])
    p.seal = (0, (bx - seal_mm / 2, by + 10.0 - seal_mm / 2, seal_mm, seal_mm))
    c.text(20.0, h - 17.5, f"电子证照标识：{lic.id}", 2.4, GREY)


def _card(
    p: _Pages, style: Style, lt: LicenceType, lic: Licence, rows: Mapping[str, Row], qr_mm: float, seal_mm: float
) -> None:
    c = p.page()
    w, h = c.width, c.height
    _frame(c, 1.5, double=False)
    title = lt.name_zh if style.title is None or "id-card" not in lt.slug else "中华人民共和国居民身份证"
    c.text(w / 2, 3.0, title, 3.0 if len(title) < 12 else 2.9, INK, align="center")
    y = 8.0
    label_w = 15.0
    for key in style.top:
        if key in rows:
            c.text(4.0 + label_w - 1.0, y + 0.1, _label(style, rows[key]), 2.1, GREY, align="right")
            p.note(key, [c.text(4.0 + label_w + 1.0, y, rows[key].value, 2.4, INK)])
            y += 3.6
    qr = min(qr_mm, h - y - 10.0)
    qr_x, qr_y = w - 3.5 - qr, y + 0.5
    p.qr = (0, (qr_x, qr_y, qr, qr))
    value_w = qr_x - 4.0 - label_w - 2.0
    two_sided = "id-card" in lt.slug
    columns = _ordered(style, rows, set(style.top) | ({"holder_code", "validity"} if two_sided else set()))
    for row in columns[0]:
        size = 2.4 if len(row.value) < 60 else 1.9
        c.text(4.0 + label_w - 1.0, y + 0.1, _label(style, row), 2.1, GREY, align="right")
        ids, y = c.paragraph(
            4.0 + label_w + 1.0, y, row.value, size, value_w if y < qr_y + qr else w - 8.0 - label_w - 2.0, leading=1.3
        )
        p.note(row.key, ids)
        y += 0.6
    if two_sided:  # 居民身份证: the number under the portrait side, issuer and validity on the emblem side
        code = rows["holder_code"]
        c.text(4.0, h - 8.0, code.label, 2.2, GREY)
        p.note("holder_code", [c.text(4.0 + label_w + 1.0, h - 8.3, code.value, 2.8, INK, spacing=0.25)])
        c = p.page()
        _frame(c, 1.5, double=False)
        c.text(w / 2, 8.0, "中华人民共和国", 4.2, INK, align="center", spacing=1.0)
        c.text(w / 2, 15.0, "居民身份证", 5.6, INK, align="center", spacing=2.0)
        y = 31.0
        c.text(18.0, y, "签发机关", 2.2, GREY, align="right")
        p.note("issuer", [c.text(20.0, y, lic.issuer.name, 2.6, INK)])
        validity = rows["validity"]
        c.text(18.0, y + 6.0, "有效期限", 2.2, GREY, align="right")
        p.note(
            "validity",
            [
                c.text(
                    20.0,
                    y + 6.0,
                    validity.value.replace("年", ".").replace("月", ".").replace("日", "").replace(" 至 ", "-"),
                    2.6,
                    INK,
                )
            ],
        )
        c.text(18.0, y + 12.0, "签发日期", 2.2, GREY, align="right")
        p.note("issued_on", [c.text(20.0, y + 12.0, cn_date(lic.issued_on), 2.6, INK)])
        p.seal = (1, (w - 6.0 - seal_mm, y - 3.0, seal_mm, seal_mm))
        c.text(4.0, h - 5.0, f"电子证照标识：{lic.id}", 1.45, GREY)
        return
    by = h - 11.0
    p.note("issuer", [_pair(c, 4.0, by, "发证机关：", lic.issuer.name, 2.0)])
    p.note("issued_on", [_pair(c, 4.0, by + 3.0, "发证日期：", cn_date(lic.issued_on), 2.0)])
    p.seal = (0, (12.0, by + 2.5 - seal_mm / 2, seal_mm, seal_mm))
    c.text(4.0, h - 4.0, f"电子证照标识：{lic.id}", 1.45, GREY)


_LAYOUTS: Mapping[str, Callable[..., None]] = {"certificate": _certificate, "register": _register, "card": _card}


# -- font ------------------------------------------------------------------------------------------

_SUBSETS: dict[tuple[str, int, frozenset[str]], bytes] = {}
_SUBSET_LOCK = threading.Lock()
_SOURCES: dict[tuple[str, int], object] = {}
_PROGRAMS: dict[tuple[str, int, str], bytes] = {}


@atexit.register
def _close_sources() -> None:
    """Close the cached source fonts (fontTools reads them lazily): no ``ResourceWarning`` at exit."""
    with _SUBSET_LOCK:
        for font in _SOURCES.values():
            close = getattr(font, "close", None)
            if callable(close):
                close()
        _SOURCES.clear()


def _font_subset(path: Path, chars: set[str]) -> bytes:
    """The font cut to ``chars`` (an OpenType CFF font of those glyphs only), cached by character set.

    A CFF font (the packaged CID-keyed Noto Serif CJK) is cut by :func:`_cff_subset`: the source font is
    opened once per process, each glyph is drawn once into a flat Type 2 charstring, and each document's
    font is assembled from those (~5 ms instead of ~200 ms for fontTools' subsetter on a 30,000-glyph
    font). Other fonts (TrueType outlines via ``$ELICENSE_FONT``) go through fontTools' subsetter.
    """
    key = (str(path), path.stat().st_mtime_ns, frozenset(chars))
    with _SUBSET_LOCK:
        hit = _SUBSETS.get(key)
    if hit is not None:
        return hit
    data = _cff_subset(path, key[1], chars)
    if data is None:
        data = _subsetter(path, chars)
    with _SUBSET_LOCK:
        if len(_SUBSETS) >= 32:
            _SUBSETS.clear()
        _SUBSETS[key] = data
    return data


def _cff_subset(path: Path, mtime_ns: int, chars: set[str]) -> bytes | None:
    """``chars`` of a CFF-outline font as a new, name-keyed OpenType CFF font; ``None`` for other fonts."""
    src_key = (str(path), mtime_ns)
    with _SUBSET_LOCK:
        source = _SOURCES.get(src_key)
        if source is None:
            source = TTFont(str(path), lazy=True)
            if "CFF " not in source:
                source.close()
                return None
            if len(_SOURCES) >= 2:
                for old in _SOURCES.values():
                    getattr(old, "close", lambda: None)()
                _SOURCES.clear()
            _SOURCES[src_key] = source
        font: Any = source
        cmap = font.getBestCmap()
        hmtx = font["hmtx"]
        top = font["CFF "].cff.topDictIndex[0]
        head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
        notdef = font.getGlyphOrder()[0]
        names = [notdef, *sorted({cmap[ord(c)] for c in chars if ord(c) in cmap})]
        programs = {}
        for name in names:  # fontTools charstrings decompile lazily: under the lock
            program = _PROGRAMS.get((str(path), mtime_ns, name))
            if program is None:
                pen = T2CharStringPen(hmtx[name][0], None)
                top.CharStrings[name].draw(pen)
                charstring = pen.getCharString()
                charstring.compile()
                program = _PROGRAMS[(str(path), mtime_ns, name)] = bytes(charstring.bytecode)
            programs[name] = program
        if len(_PROGRAMS) > 60_000:
            _PROGRAMS.clear()
        metrics = {name: tuple(hmtx[name]) for name in names}
        family = font["name"].getDebugName(1) or FONT_NAME
        ps_name = (font["name"].getDebugName(6) or "font").replace(" ", "")
    order = [".notdef", *names[1:]]
    builder = FontBuilder(int(head.unitsPerEm), isTTF=False)
    builder.font.recalcBBoxes = False  # bounds of the source font (an upper bound), not recomputed per glyph
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap({ord(c): cmap[ord(c)] for c in chars if ord(c) in cmap})
    builder.setupCFF(
        ps_name,
        {"FullName": family, "FontBBox": list(top.FontBBox)},
        {(".notdef" if n == notdef else n): T2CharString(bytecode=programs[n]) for n in names},
        {},
    )
    builder.setupHorizontalMetrics({(".notdef" if n == notdef else n): metrics[n] for n in names})
    builder.setupHorizontalHeader(
        ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap, advanceWidthMax=hhea.advanceWidthMax,
        minLeftSideBearing=hhea.minLeftSideBearing, minRightSideBearing=hhea.minRightSideBearing,
        xMaxExtent=hhea.xMaxExtent,
    )  # fmt: skip
    builder.setupHead(
        unitsPerEm=head.unitsPerEm,
        xMin=head.xMin,
        yMin=head.yMin,
        xMax=head.xMax,
        yMax=head.yMax,
        created=head.created,
        modified=head.created,
        fontRevision=head.fontRevision,
    )
    builder.setupNameTable(
        {
            "familyName": family,
            "styleName": "Regular",
            "psName": ps_name,
            "copyright": font["name"].getDebugName(0) or "",
            "licenseDescription": font["name"].getDebugName(13) or "",
            "licenseInfoURL": font["name"].getDebugName(14) or "",
        }
    )
    builder.setupOS2(
        sTypoAscender=os2.sTypoAscender,
        sTypoDescender=os2.sTypoDescender,
        sTypoLineGap=os2.sTypoLineGap,
        usWinAscent=os2.usWinAscent,
        usWinDescent=os2.usWinDescent,
    )
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def _subsetter(path: Path, chars: set[str]) -> bytes:
    """fontTools' subsetter (fonts with TrueType outlines)."""
    font = TTFont(str(path), lazy=True, recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["GSUB", "GPOS", "BASE", "VORG", "vhea", "vmtx"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(chars)))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    font.close()
    return out.getvalue()


# -- the package -----------------------------------------------------------------------------------


def build_licence_ofd(
    issued: IssuedLicence,
    *,
    licence_type: LicenceType | None = None,
    font_path: str | Path | None = None,
    seal_size_mm: float | None = None,
) -> LicenceOfd:
    """Lay out ``issued`` as an OFD document (unsigned)."""
    licence = issued.licence
    lt = licence_type or Catalog.default().get(licence.type_code)
    if lt.code != licence.type_code:
        raise LicenceDataError("licence type does not match the licence", message_zh="证照类型与证照不一致")
    path = resolve_font(font_path)
    style = STYLES.get(lt.slug, _DEFAULT_STYLE)
    rows = _rows(licence, lt)
    card = style.kind == "card"
    seal_mm = seal_size_mm or (17.0 if card else 40.0)
    qr_mm = 21.0 if card else 36.0
    pages = _Pages(font_metrics(path), style.size)
    # every character the layout may draw must be in the font (checked before anything is drawn)
    drawn = "".join(
        [
            lt.name_zh,
            lt.name_en,
            style.title or "",
            *style.labels.values(),
            licence.issuer.name,
            str(licence.id),
            *(f"{r.label}{r.value}" for r in rows.values()),
        ]
    )
    require_glyphs(drawn, path)
    _LAYOUTS[style.kind](pages, style, lt, licence, rows, qr_mm, seal_mm)
    assert pages.seal is not None
    assert pages.qr is not None
    qr_page, qr_box = pages.qr
    pages.canvases[qr_page].image(*qr_box, resource_id=_QR_ID)
    chars = {ch for canvas in pages.canvases for text in canvas.texts.values() for ch in text}
    require_glyphs("".join(chars), path)
    page_ids = tuple(_FIRST_PAGE_ID + i for i in range(len(pages.canvases)))
    next_id = pages.canvases[-1].next_id
    layer_ids = tuple(next_id + i for i in range(len(pages.canvases)))
    attach_id = next_id + len(pages.canvases)
    max_id = attach_id
    files: list[tuple[str, bytes]] = []
    files.append(("Doc_0/Document.xml", _document_xml(style.size, page_ids, max_id)))
    files.append(
        (
            "Doc_0/PublicRes.xml",
            _xml(
                f'<ofd:Res xmlns:ofd="http://www.ofdspec.org/2016" BaseLoc="Res"><ofd:Fonts>'
                f'<ofd:Font ID="{_FONT_ID}" FontName={attr(FONT_NAME)} FamilyName={attr(FONT_NAME)}>'
                f"<ofd:FontFile>font_{_FONT_ID}.otf</ofd:FontFile></ofd:Font></ofd:Fonts></ofd:Res>"
            ),
        )
    )
    files.append(
        (
            "Doc_0/DocumentRes.xml",
            _xml(
                f'<ofd:Res xmlns:ofd="http://www.ofdspec.org/2016" BaseLoc="Res"><ofd:MultiMedias>'
                f'<ofd:MultiMedia ID="{_QR_ID}" Type="Image" Format="PNG"><ofd:MediaFile>qr.png</ofd:MediaFile>'
                f"</ofd:MultiMedia></ofd:MultiMedias></ofd:Res>"
            ),
        )
    )
    for i, canvas in enumerate(pages.canvases):
        files.append((f"Doc_0/Pages/Page_{i}/Content.xml", canvas.content_xml(layer_ids[i])))
    files.append(("Doc_0/Res/font_1.otf", _font_subset(path, chars | set("0123456789"))))
    files.append(("Doc_0/Res/qr.png", _qr_image(issued.qr_payload)))
    when = issued.signed_at.strftime("%Y-%m-%dT%H:%M:%S")
    files.append(
        (
            "Doc_0/Attachs/Attachments.xml",
            _xml(
                f'<ofd:Attachments xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Attachment ID="{attach_id}" '
                f'Name="{ATTACHMENT_NAME}" Format="cose" CreationDate="{when}" '
                f'Size="{len(issued.full_payload) / 1024:.3f}" '
                f'Visible="false" Usage="elicense-full-record"><ofd:FileLoc>{ATTACHMENT_NAME}</ofd:FileLoc>'
                f"</ofd:Attachment></ofd:Attachments>"
            ),
        )
    )
    files.append((f"Doc_0/Attachs/{ATTACHMENT_NAME}", issued.full_payload))
    field_objects = {k: tuple(v) for k, v in pages.fields.items()}
    files.append(
        (
            "Doc_0/Tags/CustomTags.xml",
            _xml(
                f'<ofd:CustomTags xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CustomTag TypeID="{TAG_TYPE_ID}" '
                f'NameSpace="{TAG_NAMESPACE}"><ofd:FileLoc>Tag_Licence.xml</ofd:FileLoc></ofd:CustomTag></ofd:CustomTags>'
            ),
        )
    )
    files.append(("Doc_0/Tags/Tag_Licence.xml", _tag_xml(licence, lt, rows, field_objects, page_ids, pages)))
    seal_page, seal_box = pages.seal
    return LicenceOfd(
        files=tuple(files),
        doc_info=_doc_info(issued, lt),
        signed_at=issued.signed_at,
        page_ids=page_ids,
        seal_page=page_ids[seal_page],
        seal_box=seal_box,
        qr_box=qr_box,
        qr_page=page_ids[qr_page],
        page_size=style.size,
        field_objects=MappingProxyType(field_objects),
        max_id=max_id,
    )


QR_SCALE, QR_BORDER = 8, 2
"""Pixels per module and quiet-zone modules of the QR image."""


def _qr_image(payload: str) -> bytes:
    """The QR of ``payload`` as a 1-bit PNG (ECC M). zxing-cpp's encoder (~1 ms) rather than segno's (~40 ms
    with PNG output); segno when zxing-cpp cannot encode. ``tests/ofd/test_write.py`` decodes it back."""
    try:
        code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
        raw = memoryview(code.to_image(scale=1, add_quiet_zones=False))  # type: ignore[arg-type]
        height, width = raw.shape or (0, 0)
        modules = Image.frombytes("L", (width, height), raw.tobytes())
    except (AttributeError, TypeError, ValueError, RuntimeError):
        return qr_png(payload, scale=QR_SCALE, border=QR_BORDER)
    side = (width + 2 * QR_BORDER) * QR_SCALE
    canvas = Image.new("1", (side, side), 1)
    big = modules.resize((width * QR_SCALE, height * QR_SCALE), Image.Resampling.NEAREST).convert("1")
    canvas.paste(big, (QR_BORDER * QR_SCALE, QR_BORDER * QR_SCALE))
    out = io.BytesIO()
    canvas.save(out, "PNG", compress_level=6)
    return out.getvalue()


def render_ofd(issued: IssuedLicence, **kwargs: object) -> bytes:
    """The unsigned licence OFD's bytes (see :func:`build_licence_ofd`)."""
    return build_licence_ofd(issued, **kwargs).unsigned()  # type: ignore[arg-type]


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()


def _document_xml(size: tuple[float, float], page_ids: tuple[int, ...], max_id: int) -> bytes:
    pages = "".join(f'<ofd:Page ID="{pid}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i, pid in enumerate(page_ids))
    box = f"0 0 {size[0]:g} {size[1]:g}"
    return _xml(
        '<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CommonData>'
        f"<ofd:MaxUnitID>{max_id}</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>{box}</ofd:PhysicalBox>"
        f"<ofd:ApplicationBox>{box}</ofd:ApplicationBox></ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes>"
        f"<ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes></ofd:CommonData><ofd:Pages>{pages}</ofd:Pages>"
        "<ofd:CustomTags>Tags/CustomTags.xml</ofd:CustomTags><ofd:Attachments>Attachs/Attachments.xml</ofd:Attachments>"
        "</ofd:Document>"
    )


def _metadata(licence: Licence, lt: LicenceType) -> list[tuple[str, str, str]]:
    """GB/T 36903 metadata: (key, Chinese element name, value)."""
    v = licence.validity
    return [
        ("id", "证照标识", str(licence.id)),
        ("name", "证照名称", lt.name_zh),
        ("number", "证照编号", licence.number),
        ("type_code", "证照类型代码", licence.type_code),
        ("holder_name", "持证主体", licence.holder.name),
        ("holder_code", "持证主体代码", licence.holder.code),
        ("holder_type", "持证主体代码类型", licence.holder.code_type.value),
        ("issuer", "发证机构", licence.issuer.name),
        ("issuer_code", "发证机构代码", licence.issuer.code),
        ("issued_on", "发证日期", licence.issued_on.isoformat()),
        ("area_code", "行政区划代码", licence.issuer.area_code),
        ("valid_from", "有效期起始", v.start.isoformat()),
        ("valid_until", "有效期截止", v.end.isoformat() if v.end else "长期"),
    ]


def _doc_info(issued: IssuedLicence, lt: LicenceType) -> str:
    lic = issued.licence
    doc_id = hashlib.sha256(f"{lic.id}|{issued.signed_at.isoformat()}".encode()).hexdigest()[:32]
    custom = "".join(
        f"<ofd:CustomData Name={attr(name)}>{escape(value)}</ofd:CustomData>" for _, name, value in _metadata(lic, lt)
    )
    return (
        f"<ofd:DocInfo><ofd:DocID>{doc_id}</ofd:DocID><ofd:Title>{escape(lt.name_zh)} {escape(lic.number)}</ofd:Title>"
        f"<ofd:Author>{escape(lic.issuer.name)}</ofd:Author><ofd:Subject>{escape(str(lic.id))}</ofd:Subject>"
        f"<ofd:CreationDate>{issued.signed_at.date().isoformat()}</ofd:CreationDate><ofd:Creator>elicense</ofd:Creator>"
        f"<ofd:CreatorVersion>{_version()}</ofd:CreatorVersion><ofd:CustomDatas>{custom}</ofd:CustomDatas>"
        "</ofd:DocInfo>"
    )


def _version() -> str:
    return str(__version__)


def _tag_xml(
    licence: Licence,
    lt: LicenceType,
    rows: Mapping[str, Row],
    objects: Mapping[str, tuple[int, ...]],
    page_ids: tuple[int, ...],
    pages: _Pages,
) -> bytes:
    """``Tag_Licence.xml``: every metadata element and catalogue field, its value, and the objects showing it."""
    owner = {oid: page_ids[i] for i, canvas in enumerate(pages.canvases) for oid in canvas.texts}

    def refs(key: str) -> str:
        return "".join(f'<ofd:ObjectRef PageRef="{owner[oid]}">{oid}</ofd:ObjectRef>' for oid in objects.get(key, ()))

    items = []
    meta_objects = {
        "holder_name": "holder_name",
        "holder_code": "holder_code",
        "number": "number",
        "issuer": "issuer",
        "issued_on": "issued_on",
        "valid_from": "validity",
        "valid_until": "validity",
    }
    for key, name, value in _metadata(licence, lt):
        items.append(
            f'<lic:Meta Key="{key}" Name={attr(name)} Value={attr(value)}>{refs(meta_objects.get(key, ""))}</lic:Meta>'
        )
    for spec in lt.fields:
        if spec.key in licence.fields:
            items.append(
                f'<lic:Field Key="{spec.key}" Name={attr(spec.name_zh)} '
                f"Value={attr(_tag_value(licence.fields[spec.key]))}>{refs(spec.key)}</lic:Field>"
            )
    return _xml(
        f'<lic:Licence xmlns:lic="{TAG_NAMESPACE}" xmlns:ofd="http://www.ofdspec.org/2016" '
        f'TypeCode="{licence.type_code}" Id={attr(str(licence.id))}>{"".join(items)}</lic:Licence>'
    )
