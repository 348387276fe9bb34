"""Licences that look like licences (#20): each type's page follows its paper, checked on the rendered PDF
with PDFium's text boxes (an extractor elicense did not write)."""

from __future__ import annotations

from typing import Any

import pytest

from elicense.pdf.render import PT_PER_MM, render_licence

pdfium = pytest.importorskip("pypdfium2")

SAMPLES = ("business-licence-jinan", "food-business-licence-jinan", "construction-safety-licence-shandong",
           "driving-licence-nanjing", "resident-id-card-nanjing", "real-estate-title-nanjing")  # fmt: skip
Box = tuple[float, float, float, float]


def _page(pdf: bytes) -> tuple[Any, str, float, float]:
    doc = pdfium.PdfDocument(pdf)
    page = doc[0]
    w, h = page.get_size()
    textpage = page.get_textpage()
    return textpage, textpage.get_text_range(), float(w), float(h)


def _box(textpage: Any, text: str, *, last: bool = False) -> Box:
    """The union of the character boxes of the first (or last) occurrence of ``text`` (PDF points, origin bottom
    left)."""
    search = textpage.search(text)
    found = search.get_next()
    assert found is not None, text
    while last and (more := search.get_next()) is not None:
        found = more
    start, count = found
    boxes = [textpage.get_charbox(i) for i in range(start, start + count)]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("name", SAMPLES)
def test_seal_over_the_date_not_the_issuer_and_everything_inside_the_frame(world: Any, name: str) -> None:
    from elicense.display import cn_date
    from elicense.pdf.render import _design

    issued = world.issued[name]
    rendered = render_licence(issued)
    textpage, text, w, h = _page(rendered.pdf)
    from elicense.catalog import Catalog

    design = _design(Catalog.default().get(issued.licence.type_code))
    issuer = _box(textpage, f"{design.issuer_label}：{issued.licence.issuer.name}")
    date = _box(textpage, cn_date(issued.licence.issued_on), last=True)  # the date line, after the fields
    seal = rendered.seal_box
    centre = ((date[0] + date[2]) / 2, (date[1] + date[3]) / 2)
    assert seal[0] < centre[0] < seal[2] and seal[1] < centre[1] < seal[3], "the seal is stamped over the date"
    assert not _overlap(seal, issuer), "the seal must not cover the issuer's name"
    assert not _overlap(seal, rendered.qr_box)
    frame = 13 * PT_PER_MM  # inner red frame
    for i in range(textpage.count_chars()):
        x1, y1, x2, y2 = textpage.get_charbox(i)
        if x2 > x1:  # every glyph (long labels too) inside the frame
            assert frame <= x1 and x2 <= w - frame and frame <= y1 and y2 <= h - frame, (text[i], (x1, x2))
    assert "elicense" not in text.lower()  # no tool or command name on a licence


def test_business_licence_follows_the_paper(world: Any) -> None:
    """营业执照: landscape, QR top right, 统一社会信用代码 top left, two columns, 登记机关, 营业期限, 注册资本 on one line."""
    rendered = render_licence(world.issued["business-licence-jinan"])
    textpage, text, w, h = _page(rendered.pdf)
    assert w > h  # landscape A4
    qx1, _qy1, _qx2, qy2 = rendered.qr_box
    assert qx1 > w * 0.75 and qy2 > h * 0.85  # top right
    for needle in ("登记机关：", "营业期限：", "注册资本： 500.00万元", "统一社会信用代码：91370102MA3C8K2L65"):
        assert needle in text, needle
    assert "币种" not in text and "有效期限" not in text and "发证机关：" not in text
    code = _box(textpage, "统一社会信用代码")
    assert code[0] < w * 0.2 and code[3] > h * 0.8  # top left
    name, capital = _box(textpage, "名称："), _box(textpage, "注册资本：")
    assert capital[0] > w * 0.45 and name[0] < w * 0.3 and abs(name[1] - capital[1]) < 2  # two columns, same row


def test_other_types_keep_their_labels(world: Any) -> None:
    rendered = render_licence(world.issued["driving-licence-nanjing"])
    _, text, w, h = _page(rendered.pdf)
    assert h > w and "发证机关：" in text and "有效期限：" in text
