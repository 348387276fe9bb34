"""Licence OFDs as elicense writes them: layout per type, embedded font, QR, CustomTags, read by ofdkit."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from elicense.ofd.package import read_package
from elicense.ofd.verify import check_ofd
from elicense.ofd.write import STYLES, build_licence_ofd, read_licence_tags

ofdkit = pytest.importorskip("ofdkit")


@pytest.fixture(scope="module")
def ofds(world: Any) -> dict[str, bytes]:
    """The unsigned OFD of every demo licence."""
    return {name: build_licence_ofd(issued).unsigned() for name, issued in world.issued.items()}


def test_package_layout(ofds: dict[str, bytes]) -> None:
    names = zipfile.ZipFile(io.BytesIO(ofds["business-licence-jinan"])).namelist()
    assert names[0] == "OFD.xml"
    assert {
        "Doc_0/Document.xml",
        "Doc_0/PublicRes.xml",
        "Doc_0/DocumentRes.xml",
        "Doc_0/Pages/Page_0/Content.xml",
        "Doc_0/Res/font_1.otf",
        "Doc_0/Res/qr.png",
        "Doc_0/Attachs/licence.cose",
        "Doc_0/Tags/CustomTags.xml",
        "Doc_0/Tags/Tag_Licence.xml",
    } <= set(names)


def test_unsigned_output_is_deterministic(world: Any) -> None:
    issued = world.issued["driving-licence-nanjing"]
    assert build_licence_ofd(issued).unsigned() == build_licence_ofd(issued).unsigned()


def test_unsigned_licence_is_reported_unsigned(ofds: dict[str, bytes]) -> None:
    report = check_ofd(ofds["business-licence-jinan"])
    assert [r.code for r in report.reasons] == ["ofd_unsigned"]


@pytest.mark.parametrize(
    ("slug", "size"),
    [
        ("business-licence", (297.0, 210.0)),
        ("driving-licence", (88.0, 60.0)),
        ("resident-id-card", (85.6, 54.0)),
        ("real-estate-title", (210.0, 297.0)),
    ],
)
def test_page_size_follows_the_paper_licence(world: Any, slug: str, size: tuple[float, float]) -> None:
    issued = next(i for n, i in world.issued.items() if n.startswith(slug))
    doc = build_licence_ofd(issued)
    assert doc.page_size == size == STYLES[slug].size
    with ofdkit.open(io.BytesIO(doc.unsigned())) as reader:
        assert (round(reader.pages[0].width, 1), round(reader.pages[0].height, 1)) == size


def test_ofdkit_reads_the_chinese_text_and_rare_name_characters(world: Any, ofds: dict[str, bytes]) -> None:
    """An independent OFD reader finds the holder (堃 喆 镕 …), the number, the issuer and every field value."""
    seen_rare = set()
    for name, data in ofds.items():
        licence = world.issued[name].licence
        tags = read_licence_tags(data)
        with ofdkit.open(io.BytesIO(data)) as reader:
            text = reader.text().replace("\n", "").replace(" ", "")
            objects = {
                (str(i), oid): page.object_text(oid)
                for i, page in enumerate(reader.pages)
                for tag in tags.values()
                for oid in tag.object_ids
            }
        for value in (licence.holder.name, licence.holder.code, licence.issuer.name, str(licence.id)):
            assert value.replace(" ", "") in text, (name, value)
        for key, value in licence.fields.items():
            if isinstance(value, str):  # wrapped values: the page objects the tags name, as ofdkit reads them
                shown = {"".join(objects.get((str(i), oid)) or "" for oid in tags[key].object_ids) for i in range(2)}
                assert value.replace("\n", "") in shown, (name, key, value)
        seen_rare |= set(licence.holder.name + "".join(str(v) for v in licence.fields.values())) & set("堃喆镕")
    assert seen_rare == set("堃喆镕")


def test_embedded_font_covers_every_drawn_character(ofds: dict[str, bytes]) -> None:
    from fontTools.ttLib import TTFont

    for data in ofds.values():
        package = read_package(data)
        cmap = TTFont(io.BytesIO(package.read("Doc_0/Res/font_1.otf"))).getBestCmap()
        with ofdkit.open(io.BytesIO(data)) as reader:
            drawn = {c for c in reader.text() if not c.isspace()}
        assert drawn and not {c for c in drawn if ord(c) not in cmap}
        assert len(package.read("Doc_0/Res/font_1.otf")) < 200_000  # a subset, not the 8.5 MB font


def test_custom_tags_map_every_field_to_its_page_objects(world: Any, ofds: dict[str, bytes]) -> None:
    """Each catalogue field and metadata element reads back from CustomTags, and its objects show its value."""
    for name, data in ofds.items():
        licence = world.issued[name].licence
        tags = read_licence_tags(data)
        assert tags["id"].value == str(licence.id)
        assert tags["holder_name"].value == tags["holder_name"].shown == licence.holder.name
        assert tags["holder_code"].value == licence.holder.code and licence.holder.code in tags["holder_code"].shown
        assert tags["issuer"].shown == licence.issuer.name
        assert tags["issued_on"].value == licence.issued_on.isoformat()
        for key, value in licence.fields.items():
            tag = tags[key]
            assert tag.value == (value.isoformat() if hasattr(value, "isoformat") else str(value))
            assert tag.object_ids, (name, key)
            shown = tag.shown.replace(" ", "")
            if hasattr(value, "isoformat"):
                assert shown == f"{value.year}年{value.month:02d}月{value.day:02d}日"
            else:
                assert shown == str(value).replace(" ", "").replace("\n", ""), (name, key)


def test_object_ids_resolve_in_ofdkit(ofds: dict[str, bytes]) -> None:
    data = ofds["food-business-licence-jinan"]
    tags = read_licence_tags(data)
    with ofdkit.open(io.BytesIO(data)) as reader:
        page = reader.pages[0]
        assert "".join(page.object_text(i) or "" for i in tags["holder_name"].object_ids) == tags["holder_name"].value


def test_qr_on_the_page_is_the_licence_qr(world: Any, ofds: dict[str, bytes]) -> None:
    import zxingcpp
    from PIL import Image

    from elicense.qr.payload import PREFIX

    issued = world.issued["business-licence-jinan"]
    png = read_package(ofds["business-licence-jinan"]).read("Doc_0/Res/qr.png")
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in found] == [issued.qr_payload] and issued.qr_payload.startswith(PREFIX)


def test_full_record_attachment(world: Any, ofds: dict[str, bytes]) -> None:
    issued = world.issued["real-estate-title-nanjing"]
    assert read_package(ofds["real-estate-title-nanjing"]).read("Doc_0/Attachs/licence.cose") == issued.full_payload


def test_seal_box_sits_over_the_date(world: Any) -> None:
    """As on paper: the seal is centred near the issue date, on the page carrying it."""
    for name, issued in world.issued.items():
        doc = build_licence_ofd(issued)
        page = doc.page_ids.index(doc.seal_page)
        content = read_package(doc.unsigned()).read(f"Doc_0/Pages/Page_{page}/Content.xml").decode()
        date_id = doc.field_objects["issued_on"][0]
        assert f'ID="{date_id}"' in content, name
        x, y, w, h = doc.seal_box
        assert x >= 0 and x + w <= doc.page_size[0] and y >= 0 and y + h <= doc.page_size[1], name
        if doc.page_size[0] < 150:  # the cards (驾驶证, 身份证) place their small seal as the card does
            continue
        # certificates (A4): the seal over the date, the issuer's name readable above it, as on paper
        boxes = _text_boundaries(content)
        dx, dy, dw, dh = boxes[date_id]
        assert x <= dx + dw / 2 <= x + w and y <= dy + dh / 2 <= y + h, (name, "the date is under the seal")
        for oid in doc.field_objects.get("issuer", ()):
            if oid in boxes:
                ix, iy, iw, ih = boxes[oid]
                assert ix + iw <= x or ix >= x + w or iy + ih <= y or iy >= y + h, (name, "seal over the issuer")


def _text_boundaries(content: str) -> dict[int, tuple[float, float, float, float]]:
    import re

    out = {}
    for m in re.finditer(r'<ofd:TextObject[^>]*\bID="(\d+)"[^>]*\bBoundary="([^"]+)"', content):
        x, y, w, h = (float(v) for v in m.group(2).split())
        out[int(m.group(1))] = (x, y, w, h)
    return out


def test_missing_glyph_is_an_error_not_a_box(world: Any) -> None:
    from dataclasses import replace

    from elicense.fonts import FontCoverageError
    from elicense.model import Holder

    issued = world.issued["business-licence-jinan"]
    odd = replace(issued, licence=replace(issued.licence, holder=Holder("𠀀测试公司", issued.licence.holder.code)))
    with pytest.raises(FontCoverageError):
        build_licence_ofd(odd)


def test_embedded_font_advances_are_the_layout_advances(ofds: dict[str, bytes]) -> None:
    """DeltaX comes from the packaged font's metrics: the embedded subset must have the same advances, and
    draw real outlines (not empty glyphs) for the rare name characters."""
    from fontTools.pens.boundsPen import BoundsPen
    from fontTools.ttLib import TTFont

    from elicense.fonts import default_font_path

    with TTFont(str(default_font_path()), lazy=True) as full:
        full_cmap, full_hmtx = full.getBestCmap(), full["hmtx"]
        sub = TTFont(io.BytesIO(read_package(ofds["resident-id-card-nanjing"]).read("Doc_0/Res/font_1.otf")))
        cmap, hmtx = sub.getBestCmap(), sub["hmtx"]
        for cp, name in cmap.items():
            assert hmtx[name][0] == full_hmtx[full_cmap[cp]][0], chr(cp)
        glyphs = sub.getGlyphSet()
        for ch in "王堃":
            pen = BoundsPen(glyphs)
            glyphs[cmap[ord(ch)]].draw(pen)
            assert pen.bounds is not None and pen.bounds[2] - pen.bounds[0] > 500, ch


def test_ofdkit_reads_the_metadata_and_sealed_packages(world: Any, ofds: dict[str, bytes]) -> None:
    """ofdkit reads the GB/T 36903 metadata (DocInfo CustomData) and the document info, with no warnings."""
    for name, data in ofds.items():
        licence = world.issued[name].licence
        with ofdkit.open(io.BytesIO(data)) as reader:
            info = reader.info
            assert not reader.warnings, reader.warnings
        assert info.custom_data["证照标识"] == str(licence.id) == info.subject
        assert info.custom_data["证照编号"] == licence.number
        assert info.custom_data["持证主体"] == licence.holder.name
        assert info.custom_data["发证机构代码"] == licence.issuer.code
        assert info.author == licence.issuer.name and info.creator == "elicense"


def test_preview_render_shows_the_page_and_its_qr(world: Any, ofds: dict[str, bytes]) -> None:
    """The README picture's renderer: page size at the dpi, ink where text is, and the QR decodes from pixels."""
    import zxingcpp
    from PIL import Image

    from elicense.ofd.preview import render_page_png

    issued = world.issued["business-licence-jinan"]
    image = Image.open(io.BytesIO(render_page_png(ofds["business-licence-jinan"], 0, dpi=150)))
    assert image.size == (round(297 * 150 / 25.4), round(210 * 150 / 25.4))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in found] == [issued.qr_payload]
    title = image.convert("L").crop((image.width // 3, 60, 2 * image.width // 3, 220))
    assert title.getextrema()[0] < 80  # the title is drawn
