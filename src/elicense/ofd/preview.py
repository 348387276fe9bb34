"""A small raster preview of an OFD page (Pillow), for the README and for looking at layouts.

Not a general OFD renderer: it draws what elicense writes — ``TextObject`` with an
embedded font, ``PathObject`` line paths (``M``/``L``/``C``), ``ImageObject`` PNGs —
and, for a sealed document, the seal picture of each ``StampAnnot`` on that page
(PNG pictures only). Objects of other kinds are skipped. Everything is read
through the bounded package reader.
"""

from __future__ import annotations

import io
import posixpath

from PIL import Image, ImageDraw, ImageFont

from elicense.ofd.document import document_pages
from elicense.ofd.package import Package, local, read_package, resolve
from elicense.ofd.verify import check_package

__all__ = ["render_page_png"]


def _floats(text: str | None, count: int) -> list[float] | None:
    try:
        values = [float(v) for v in (text or "").split()]
    except ValueError:
        return None
    return values if len(values) == count else None


def _color(element: object, name: str, default: tuple[int, int, int]) -> tuple[int, int, int]:
    for child in element:  # type: ignore[attr-defined]
        if local(child) == name:
            parts = (child.get("Value") or "").split()
            if len(parts) == 3 and all(p.isdigit() for p in parts):
                return (int(parts[0]), int(parts[1]), int(parts[2]))
    return default


def render_page(
    data: bytes, page: int = 0, dpi: int = 150, seal_pictures: dict[str, bytes] | None = None
) -> Image.Image:
    """Page ``page`` (0-based) of an elicense OFD as an RGB image."""
    package = read_package(data)
    pages, _ = document_pages(package)
    page_id, content_path = pages[page]
    doc = package.xml("Doc_0/Document.xml")
    box = [0.0, 0.0, 210.0, 297.0]
    for el in doc.iter():
        if local(el) == "PhysicalBox":
            box = _floats(el.text, 4) or box
            break
    scale = dpi / 25.4
    width, height = round(box[2] * scale), round(box[3] * scale)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    resources: dict[str, str] = {}
    for res_name in ("PublicRes", "DocumentRes"):
        for el in doc.iter():
            if local(el) == res_name and el.text:
                res_path = resolve("Doc_0", el.text)
                res = package.xml(res_path)
                base = resolve(posixpath.dirname(res_path), res.get("BaseLoc", "."))
                for item in res.iter():
                    if local(item) in ("FontFile", "MediaFile") and item.text:
                        parent = item.getparent()
                        if parent is not None:
                            resources[parent.get("ID", "")] = resolve(base, item.text)
    fonts: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}
    for el in package.xml(content_path).iter():
        kind = local(el)
        bound = _floats(el.get("Boundary"), 4)
        if bound is None:
            continue
        x, y = bound[0] * scale, bound[1] * scale
        if kind == "TextObject":
            size = float(el.get("Size", "3"))
            key = (el.get("Font", ""), max(1, round(size * scale)))
            if key not in fonts:
                fonts[key] = ImageFont.truetype(io.BytesIO(package.read(resources[key[0]])), key[1])
            color = _color(el, "FillColor", (0, 0, 0))
            for code in el:
                if local(code) != "TextCode" or not code.text:
                    continue
                cx = x + float(code.get("X", "0")) * scale
                baseline = y + float(code.get("Y", "0")) * scale
                deltas = [float(d) for d in (code.get("DeltaX") or "").split() if d != "g"]
                for i, ch in enumerate(code.text):
                    draw.text((cx, baseline), ch, font=fonts[key], fill=color, anchor="ls")
                    cx += (deltas[i] if i < len(deltas) else size) * scale
        elif kind == "PathObject":
            color = _color(el, "StrokeColor", (0, 0, 0))
            line = max(1, round(float(el.get("LineWidth", "0.353")) * scale))
            data_el = next((c for c in el if local(c) == "AbbreviatedData"), None)
            tokens = (data_el.text or "").split() if data_el is not None else []
            points: list[tuple[float, float]] = []
            start: tuple[float, float] | None = None
            i = 0
            while i < len(tokens):
                op = tokens[i]
                if op in ("M", "L") and i + 2 < len(tokens):
                    pt = (x + float(tokens[i + 1]) * scale, y + float(tokens[i + 2]) * scale)
                    if op == "M":
                        if len(points) > 1:
                            draw.line(points, fill=color, width=line)
                        points, start = [pt], pt
                    else:
                        points.append(pt)
                    i += 3
                elif op == "C":
                    if start is not None:
                        points.append(start)
                    i += 1
                else:
                    i += 1
            if len(points) > 1:
                draw.line(points, fill=color, width=line)
        elif kind == "ImageObject":
            path = resources.get(el.get("ResourceID", ""))
            if path:
                pic = Image.open(io.BytesIO(package.read(path))).convert("RGB")
                img.paste(
                    pic.resize(
                        (max(1, round(bound[2] * scale)), max(1, round(bound[3] * scale))), Image.Resampling.NEAREST
                    ),
                    (round(x), round(y)),
                )
    for annot_page, stamp_box, picture in _stamps(package, seal_pictures or {}):
        if annot_page != page_id:
            continue
        seal = Image.open(io.BytesIO(picture)).convert("RGBA")
        seal = seal.resize(
            (max(1, round(stamp_box[2] * scale)), max(1, round(stamp_box[3] * scale))), Image.Resampling.LANCZOS
        )
        img.paste(seal, (round(stamp_box[0] * scale), round(stamp_box[1] * scale)), seal)
    return img


def _stamps(package: Package, pictures: dict[str, bytes]) -> list[tuple[str, tuple[float, float, float, float], bytes]]:
    """(page ID, boundary, PNG) of each StampAnnot whose seal picture was given (keyed by signature path)."""
    report = check_package(package)
    out = []
    for sig in report.signatures:
        picture = pictures.get(sig.signature_path)
        if picture is None:
            continue
        for annot in sig.stamp_annots:
            if annot.boundary is not None:
                out.append((annot.page_ref, annot.boundary, picture))
    return out


def render_page_png(data: bytes, page: int = 0, dpi: int = 150, seal_pictures: dict[str, bytes] | None = None) -> bytes:
    """:func:`render_page` as PNG bytes."""
    out = io.BytesIO()
    render_page(data, page, dpi, seal_pictures).save(out, "PNG", optimize=True)
    return out.getvalue()
