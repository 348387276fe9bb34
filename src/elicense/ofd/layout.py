"""Page geometry and drawing primitives for OFD licence pages (millimetres, origin top left, y down).

A :class:`Canvas` collects the page objects of one page as OFD XML (``TextObject``,
``ImageObject``, ``PathObject``) and remembers which object IDs hold which text, so
the writer can map catalogue fields to page objects (``CustomTags``). Glyph advances
come from the embedded font's own metrics, so what a viewer draws with the embedded
subset lines up with the ``DeltaX`` written here.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from elicense.fonts import open_by_glyph_index

__all__ = ["Canvas", "FontMetrics", "font_metrics", "wrap"]

ASCENT = 0.88
"""Baseline below the top of a text line, as a fraction of the font size (the CJK em box: 880/1000)."""
LINE = 1.2
"""Height of a text box, as a fraction of the font size."""
_NO_LINE_START = set("，。、；：？！）》」』】〕…％,.;:?!)%")
"""Characters that must not begin a line (Chinese line-breaking rule, 避头)."""


@dataclass(frozen=True)
class FontMetrics:
    """Advance widths (fraction of the em) of every mapped code point of a font."""

    advances: dict[int, float] = field(repr=False)
    """Code point → advance / unitsPerEm."""

    def width(self, text: str, size: float) -> float:
        """Advance of ``text`` at ``size`` mm."""
        get = self.advances.get
        return sum(get(ord(c), 1.0) for c in text) * size

    def deltas(self, text: str, size: float) -> list[float]:
        """Per-character advances (the OFD ``DeltaX`` between consecutive characters)."""
        get = self.advances.get
        return [get(ord(c), 1.0) * size for c in text[:-1]]


_METRICS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _metrics(path: str, mtime_ns: int) -> FontMetrics:
    with open_by_glyph_index(path) as font:  # code points → advances: no glyph names needed
        upem = float(font["head"].unitsPerEm)
        hmtx = font["hmtx"]
        advances = {cp: hmtx[name][0] / upem for cp, name in font.getBestCmap().items()}
    return FontMetrics(advances)


def font_metrics(path: Path) -> FontMetrics:
    """Metrics of the font at ``path`` (read once per process)."""
    with _METRICS_LOCK:
        return _metrics(str(path), path.stat().st_mtime_ns)


def wrap(text: str, width: float, size: float, metrics: FontMetrics) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (character breaks, no line starting with ``，。`` etc.)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if line and metrics.width(line + ch, size) > width:
                if ch in _NO_LINE_START and len(line) > 1:
                    lines.append(line[:-1])
                    line = line[-1]
                else:
                    lines.append(line)
                    line = ""
            line += ch
        lines.append(line)
    return lines


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class Canvas:
    """The objects of one page, and the text each object ID holds."""

    def __init__(self, width: float, height: float, font_id: int, metrics: FontMetrics, next_id: int) -> None:
        self.width = width
        self.height = height
        self.font_id = font_id
        self.metrics = metrics
        self.next_id = next_id
        self.objects: list[str] = []
        self.texts: dict[int, str] = {}
        """Object ID → the text it draws."""

    def _id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        color: tuple[int, int, int] = (30, 30, 30),
        *,
        align: str = "left",
        spacing: float = 0.0,
    ) -> int:
        """One line of text; ``y`` is the top of the line box, ``x`` its left/centre/right edge. Returns the ID."""
        oid = self._id()
        deltas = [d + spacing for d in self.metrics.deltas(text, size)]
        width = sum(deltas) + (self.metrics.width(text[-1:], size) if text else 0.0)
        left = x - width / 2 if align == "center" else x - width if align == "right" else x
        box = f"{_num(left)} {_num(y)} {_num(max(width, 0.1))} {_num(size * LINE)}"
        delta_attr = f' DeltaX="{" ".join(_num(d) for d in deltas)}"' if deltas else ""
        self.objects.append(
            f'<ofd:TextObject ID="{oid}" Boundary="{box}" Font="{self.font_id}" Size="{_num(size)}">'
            f'<ofd:FillColor Value="{color[0]} {color[1]} {color[2]}"/>'
            f'<ofd:TextCode X="0" Y="{_num(size * ASCENT)}"{delta_attr}>{escape(text)}</ofd:TextCode></ofd:TextObject>'
        )
        self.texts[oid] = text
        return oid

    def paragraph(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        width: float,
        color: tuple[int, int, int] = (30, 30, 30),
        leading: float = 1.45,
    ) -> tuple[list[int], float]:
        """Wrapped text from ``(x, y)``; returns the object IDs and the y below the last line."""
        ids = []
        for line in wrap(text, width, size, self.metrics):
            if line:
                ids.append(self.text(x, y, line, size, color))
            y += size * leading
        return ids, y

    def image(self, x: float, y: float, w: float, h: float, resource_id: int) -> int:
        """An image resource drawn into the box."""
        oid = self._id()
        self.objects.append(
            f'<ofd:ImageObject ID="{oid}" Boundary="{_num(x)} {_num(y)} {_num(w)} {_num(h)}" '
            f'CTM="{_num(w)} 0 0 {_num(h)} 0 0" ResourceID="{resource_id}"/>'
        )
        return oid

    def rect(self, x: float, y: float, w: float, h: float, color: tuple[int, int, int], line: float) -> int:
        """A stroked rectangle."""
        return self.path(x, y, w, h, f"M 0 0 L {_num(w)} 0 L {_num(w)} {_num(h)} L 0 {_num(h)} C", color, line)

    def line(self, x1: float, y1: float, x2: float, y2: float, color: tuple[int, int, int], line: float) -> int:
        """A stroked line segment."""
        x, y = min(x1, x2), min(y1, y2)
        w, h = abs(x2 - x1), abs(y2 - y1)
        return self.path(
            x,
            y,
            max(w, line),
            max(h, line),
            f"M {_num(x1 - x)} {_num(y1 - y)} L {_num(x2 - x)} {_num(y2 - y)}",
            color,
            line,
        )

    def path(self, x: float, y: float, w: float, h: float, data: str, color: tuple[int, int, int], line: float) -> int:
        """A stroked path (``AbbreviatedData`` relative to the box)."""
        oid = self._id()
        self.objects.append(
            f'<ofd:PathObject ID="{oid}" Boundary="{_num(x)} {_num(y)} {_num(w)} {_num(h)}" '
            f'LineWidth="{_num(line)}" Stroke="true" Fill="false">'
            f'<ofd:StrokeColor Value="{color[0]} {color[1]} {color[2]}"/>'
            f"<ofd:AbbreviatedData>{escape(data)}</ofd:AbbreviatedData></ofd:PathObject>"
        )
        return oid

    def content_xml(self, layer_id: int) -> bytes:
        """The page's ``Content.xml``."""
        body = "".join(self.objects)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Area><ofd:PhysicalBox>0 0 {_num(self.width)} '
            f"{_num(self.height)}</ofd:PhysicalBox></ofd:Area><ofd:Content>"
            f'<ofd:Layer ID="{layer_id}" Type="Body">{body}</ofd:Layer></ofd:Content></ofd:Page>'
        ).encode()


def attr(value: str) -> str:
    """An XML attribute value, quoted."""
    return quoteattr(value)
