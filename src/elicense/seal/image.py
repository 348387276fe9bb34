"""Render the picture of an official seal (公章 / 椭圆章) with Pillow.

The seal is drawn in white on a black greyscale mask at 2-4x supersampling, reduced
with LANCZOS, and then used as the alpha channel of one flat colour (``putalpha``):
the PNG holds a single colour plus alpha, so it stays small inside a PDF.

Geometry follows the usual layout of a 42 mm round official seal: a 1.2 mm ring, a
solid five-pointed star about 14 mm across in the centre, the authority name along the
upper arc in narrow (长宋-like) characters, upright and radial, reading left to right
clockwise over up to ~240° (a little more for names over 16 characters),
the seal name horizontally under the star and the 13-digit seal code in small digits
along the lower arc, upright (tops towards the centre). The oval seal (45 x 30 mm) has
the name along an elliptical arc of ~200°, the seal name in the middle (under the star
if one is asked for) and the code at the bottom. Every length scales with the seal's
size; characters are narrowed (never dropped) when a long name needs it.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from elicense.errors import LicenceDataError
from elicense.fonts import require_glyphs, resolve_font

__all__ = [
    "MAX_AUTHORITY_CHARS",
    "MAX_SEAL_CODE_DIGITS",
    "MAX_SEAL_NAME_CHARS",
    "SealSpec",
    "render_seal",
    "render_seal_png",
]

SealStyle = Literal["round", "oval"]

MAX_AUTHORITY_CHARS = 24
MAX_SEAL_NAME_CHARS = 12
MAX_SEAL_CODE_DIGITS = 16
DPI_RANGE = (72, 1200)
SIZE_RANGE_MM = (20.0, 80.0)
DEFAULT_ROUND_MM = 42.0
DEFAULT_OVAL_MM = (45.0, 30.0)

_SEAL_CODE_RE = re.compile(r"[0-9]+")
_IDEO_ASCENT = 0.88  # ideographic em box: 0.88 em above the baseline, 0.12 below
_SUPERSAMPLE = 4
_MAX_WORK_PX = 4800  # cap on the supersampled canvas side


def _invalid(message: str, message_zh: str, field_name: str, value: object) -> LicenceDataError:
    return LicenceDataError(message, message_zh=message_zh, details={"field": field_name, "value": value})


@dataclass(frozen=True)
class SealSpec:
    """What to draw.

    ``diameter_mm`` is the diameter of a round seal or the width (major axis) of an
    oval one; ``0`` means the usual size: 42 mm round, 45 mm oval. ``height_mm`` is
    the minor axis of an oval seal (``0``: two thirds of the width, so 45 x 30 mm);
    it must stay ``0`` for a round seal. ``star=None`` draws the star on round seals
    only. After construction both sizes hold the resolved values.
    """

    authority_name: str
    seal_name: str = ""
    seal_code: str = ""
    style: SealStyle = "round"
    diameter_mm: float = 0.0
    dpi: int = 300
    color: tuple[int, int, int] = (218, 37, 29)
    height_mm: float = 0.0
    star: bool | None = field(default=None)

    def __post_init__(self) -> None:
        if self.style not in ("round", "oval"):
            raise _invalid(
                f"seal style must be 'round' or 'oval', not {self.style!r}",
                f"印章样式必须为 round 或 oval：{self.style!r}",
                "style",
                self.style,
            )
        self._check_text()
        self._check_numbers()
        if self.style == "round":
            width = float(self.diameter_mm) or DEFAULT_ROUND_MM
            if self.height_mm not in (0, width):
                raise _invalid(
                    "height_mm applies to oval seals only",
                    "只有椭圆章可以指定高度",
                    "height_mm",
                    self.height_mm,
                )
            height = width
        else:
            width = float(self.diameter_mm) or DEFAULT_OVAL_MM[0]
            height = float(self.height_mm) or width * DEFAULT_OVAL_MM[1] / DEFAULT_OVAL_MM[0]
        lo, hi = SIZE_RANGE_MM
        for name, value in (("diameter_mm", width), ("height_mm", height)):
            if not lo <= value <= hi:
                raise _invalid(
                    f"seal {name} must be within {lo:g}-{hi:g} mm, not {value:g}",
                    f"印章尺寸须在 {lo:g}–{hi:g} 毫米之间：{value:g}",
                    name,
                    value,
                )
        if self.style == "oval" and not width * 0.5 <= height <= width * 0.9:
            raise _invalid(
                f"oval seal height must be 50-90% of its width ({width:g} mm), not {height:g}",
                f"椭圆章高度须为宽度的 50%–90%：{height:g}",
                "height_mm",
                height,
            )
        object.__setattr__(self, "diameter_mm", width)
        object.__setattr__(self, "height_mm", height)
        object.__setattr__(self, "star", self.style == "round" if self.star is None else self.star)

    def _check_text(self) -> None:
        name = self.authority_name
        if not isinstance(name, str) or not name.strip():
            raise _invalid("seal authority_name is empty", "印章单位名称为空", "authority_name", name)
        for field_name, value, limit in (
            ("authority_name", name, MAX_AUTHORITY_CHARS),
            ("seal_name", self.seal_name, MAX_SEAL_NAME_CHARS),
        ):
            if not isinstance(value, str):
                raise _invalid(
                    f"seal {field_name} must be a string",
                    f"{field_name} 必须为字符串",
                    field_name,
                    value,
                )
            if any(c.isspace() or not c.isprintable() for c in value):
                raise _invalid(
                    f"seal {field_name} contains whitespace or control characters",
                    f"印章文字含空白或控制字符：{value!r}",
                    field_name,
                    value,
                )
            if len(value) > limit:
                raise _invalid(
                    f"seal {field_name} has {len(value)} characters; at most {limit} fit",
                    f"印章文字过长（{len(value)} 字，最多 {limit} 字）",
                    field_name,
                    value,
                )
        code = self.seal_code
        if not isinstance(code, str) or (
            code and (not _SEAL_CODE_RE.fullmatch(code) or len(code) > MAX_SEAL_CODE_DIGITS)
        ):
            raise _invalid(
                f"seal_code must be up to {MAX_SEAL_CODE_DIGITS} ASCII digits, not {code!r}",
                f"印章编码只能由数字组成（最多 {MAX_SEAL_CODE_DIGITS} 位）：{code!r}",
                "seal_code",
                code,
            )

    def _check_numbers(self) -> None:
        lo, hi = DPI_RANGE
        if isinstance(self.dpi, bool) or not isinstance(self.dpi, int) or not lo <= self.dpi <= hi:
            raise _invalid(
                f"seal dpi must be an integer within {lo}-{hi}, not {self.dpi!r}",
                f"分辨率须为 {lo}–{hi} 之间的整数：{self.dpi!r}",
                "dpi",
                self.dpi,
            )
        for field_name, value in (("diameter_mm", self.diameter_mm), ("height_mm", self.height_mm)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise _invalid(
                    f"seal {field_name} must be a positive number of mm, not {value!r}",
                    f"印章尺寸无效：{value!r}",
                    field_name,
                    value,
                )
        color = self.color
        if not (
            isinstance(color, tuple)
            and len(color) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
        ):
            raise _invalid(
                f"seal color must be an (r, g, b) tuple of 0-255 integers, not {color!r}",
                f"印章颜色无效：{color!r}",
                "color",
                color,
            )

    @property
    def size_mm(self) -> tuple[float, float]:
        """(width, height) in millimetres."""
        return (self.diameter_mm, self.height_mm)

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the rendered image in pixels."""
        return (_mm_to_px(self.diameter_mm, self.dpi), _mm_to_px(self.height_mm, self.dpi))

    @property
    def text(self) -> str:
        """Every character drawn on the seal."""
        return self.authority_name + self.seal_name + self.seal_code


def _mm_to_px(mm: float, dpi: int) -> int:
    return max(1, round(mm / 25.4 * dpi))


@dataclass(frozen=True)
class _Layout:
    """Lengths in mm for one seal; ``k`` is the scale relative to a 42 mm round seal."""

    ring: float
    text_em: float
    text_width: float  # glyph width / em: seal lettering is narrow (长宋)
    text_gap: float
    text_span_deg: float
    star_radius: float
    star_dy: float
    name_em: float
    name_dy: float
    name_half_width: float
    code_em: float
    code_gap: float


def _layout(spec: SealSpec) -> _Layout:
    if spec.style == "round":
        k = spec.diameter_mm / DEFAULT_ROUND_MM
        return _Layout(
            ring=1.2 * k,
            text_em=6.6 * k,
            text_width=0.8,
            text_gap=0.8 * k,
            text_span_deg=236.0,
            star_radius=6.8 * k,
            star_dy=0.0,
            name_em=4.3 * k,
            name_dy=10.2 * k,
            name_half_width=9.8 * k,
            code_em=2.4 * k,
            code_gap=0.7 * k,
        )
    k = spec.height_mm / DEFAULT_OVAL_MM[1]
    star = bool(spec.star)
    return _Layout(
        ring=1.0 * k,
        text_em=4.6 * k,
        text_width=0.8,
        text_gap=0.7 * k,
        text_span_deg=200.0,
        star_radius=3.4 * k,
        star_dy=-2.6 * k if spec.seal_name else 0.0,
        name_em=4.0 * k,
        name_dy=(3.4 if star else 0.9) * k,
        name_half_width=0.6 * (spec.diameter_mm / 2),
        code_em=2.2 * k,
        code_gap=0.6 * k,
    )


class _Canvas:
    """The supersampled greyscale mask and its mm -> px mapping."""

    def __init__(self, spec: SealSpec, font_path: Path) -> None:
        self.spec = spec
        self.out_w, self.out_h = spec.size_px
        self.ss = max(2, min(_SUPERSAMPLE, _MAX_WORK_PX // max(self.out_w, self.out_h)))
        self.w, self.h = self.out_w * self.ss, self.out_h * self.ss
        self.scale = self.w / spec.diameter_mm  # px per mm (both axes)
        self.cx, self.cy = self.w / 2.0, self.h / 2.0
        self.mask = Image.new("L", (self.w, self.h), 0)
        self.draw = ImageDraw.Draw(self.mask)
        self.font_path = font_path
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}

    def px(self, mm: float) -> float:
        return mm * self.scale

    def font(self, em_px: float) -> ImageFont.FreeTypeFont:
        size = max(1, round(em_px))
        if size not in self._fonts:
            self._fonts[size] = ImageFont.truetype(str(self.font_path), size)
        return self._fonts[size]

    def glyph(self, ch: str, em_px: float, width_px: float | None = None) -> Image.Image:
        """One character on a tile whose centre is the centre of its em box."""
        font = self.font(em_px)
        em = round(font.size)
        advance = font.getlength(ch)
        pad = math.ceil(em * 0.2)
        tile_w = math.ceil(advance) + 2 * pad
        tile_h = em + 2 * pad
        tile = Image.new("L", (tile_w, tile_h), 0)
        stroke = max(0, round(em * 0.02))
        ImageDraw.Draw(tile).text(
            (tile_w / 2.0, pad + _IDEO_ASCENT * em),
            ch,
            font=font,
            fill=255,
            anchor="ms",
            stroke_width=stroke,
            stroke_fill=255,
        )
        if width_px is not None and width_px < advance - 0.5:
            new_w = max(1, round(tile_w * width_px / advance))
            tile = tile.resize((new_w, tile_h), Image.Resampling.LANCZOS)
        return tile

    def stamp(self, tile: Image.Image, x: float, y: float, angle_deg: float) -> None:
        """Paste ``tile`` centred on (x, y), turned ``angle_deg`` counter-clockwise."""
        if abs(angle_deg) > 1e-6:
            tile = tile.rotate(angle_deg, resample=Image.Resampling.BICUBIC, expand=True)
        left = round(x - tile.width / 2.0)
        top = round(y - tile.height / 2.0)
        self.mask.paste(255, (left, top, left + tile.width, top + tile.height), tile)

    def finish(self) -> Image.Image:
        alpha = self.mask.resize((self.out_w, self.out_h), Image.Resampling.LANCZOS)
        image = Image.new("RGBA", (self.out_w, self.out_h), (*self.spec.color, 0))
        image.putalpha(alpha)
        return image


def _ellipse_arc(
    a: float, b: float, t0: float, t1: float, n: int, samples: int = 2048
) -> list[tuple[float, float, float]]:
    """``n`` points evenly spaced by arc length on (a·sin t, −b·cos t), t0 ≤ t ≤ t1.

    Returns (x, y, normal angle in degrees clockwise from "up") relative to the centre;
    t is measured clockwise from the top. For a circle (a == b) this is even angles.
    """
    ts = [t0 + (t1 - t0) * i / samples for i in range(samples + 1)]
    pts = [(a * math.sin(t), -b * math.cos(t)) for t in ts]
    cum = [0.0]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        cum.append(cum[-1] + math.hypot(x1 - x0, y1 - y0))
    total = cum[-1]
    out: list[tuple[float, float, float]] = []
    j = 0
    for i in range(n):
        target = total * (i / (n - 1) if n > 1 else 0.5)
        while j < samples - 1 and cum[j + 1] < target:
            j += 1
        seg = cum[j + 1] - cum[j]
        frac = (target - cum[j]) / seg if seg else 0.0
        t = ts[j] + (ts[j + 1] - ts[j]) * frac
        x, y = a * math.sin(t), -b * math.cos(t)
        # outward normal of the ellipse: (sin t / a, −cos t / b)
        normal = math.degrees(math.atan2(math.sin(t) / a, math.cos(t) / b))
        out.append((x, y, normal))
    return out


def _arc_length(a: float, b: float, t0: float, t1: float, samples: int = 512) -> float:
    total = 0.0
    prev = (a * math.sin(t0), -b * math.cos(t0))
    for i in range(1, samples + 1):
        t = t0 + (t1 - t0) * i / samples
        cur = (a * math.sin(t), -b * math.cos(t))
        total += math.hypot(cur[0] - prev[0], cur[1] - prev[1])
        prev = cur
    return total


def _draw_ring(c: _Canvas, lay: _Layout) -> tuple[float, float]:
    """Draw the border; return the inner semi-axes (mm)."""
    spec = c.spec
    margin = 0.1  # mm: keeps the anti-aliased edge inside the image
    a = spec.diameter_mm / 2 - margin
    b = spec.height_mm / 2 - margin
    box = (c.cx - c.px(a), c.cy - c.px(b), c.cx + c.px(a), c.cy + c.px(b))
    c.draw.ellipse(box, outline=255, width=max(1, round(c.px(lay.ring))))
    return a - lay.ring, b - lay.ring


def _draw_star(c: _Canvas, lay: _Layout) -> None:
    r_out = c.px(lay.star_radius)
    r_in = r_out * math.sin(math.radians(18)) / math.sin(math.radians(126))
    cy = c.cy + c.px(lay.star_dy)
    points = []
    for i in range(10):
        r = r_out if i % 2 == 0 else r_in
        ang = math.radians(-90 + 36 * i)
        points.append((c.cx + r * math.cos(ang), cy + r * math.sin(ang)))
    c.draw.polygon(points, fill=255)


def _draw_authority(c: _Canvas, lay: _Layout, inner: tuple[float, float]) -> float:
    """Draw the name along the upper arc; return how far (mm) it leaves free in the middle."""
    text = c.spec.authority_name
    n = len(text)
    em = lay.text_em
    span_max = lay.text_span_deg
    if n > 16:  # long names run a little further round, then get narrower
        span_max += (n - 16) * 1.5
    for _ in range(4):
        ra = inner[0] - lay.text_gap - em / 2
        rb = inner[1] - lay.text_gap - em / 2
        span = min(span_max, (n - 1) * 30.0) if n > 1 else 0.0
        half = math.radians(span / 2)
        pitch = _arc_length(ra, rb, -half, half) / (n - 1) if n > 1 else em
        width = min(em * lay.text_width, 0.9 * pitch)
        if width >= 0.45 * em:
            break
        em = width / 0.45
    points = _ellipse_arc(ra, rb, -half, half, n)
    for ch, (x, y, normal) in zip(text, points, strict=True):
        tile = c.glyph(ch, c.px(em), c.px(width))
        c.stamp(tile, c.cx + c.px(x), c.cy + c.px(y), -normal)
    # the end glyphs reach about half a diagonal of their box towards the centre
    end_x, end_y, _ = points[-1]
    reach = math.hypot(em, width) / 2
    if end_y + reach < lay.name_dy - lay.name_em / 2:
        return math.inf  # the arc ends above the seal name: nothing to avoid
    return end_x - reach - lay.text_gap


def _draw_seal_name(c: _Canvas, lay: _Layout, free_half_width: float) -> None:
    text = c.spec.seal_name
    if not text:
        return
    em = lay.name_em
    n = len(text)
    half_width = min(lay.name_half_width, max(free_half_width, em))
    pitch = min(em * 0.85, 2 * half_width / n)
    width = min(em * 0.78, pitch * 0.92)
    y = c.cy + c.px(lay.name_dy)
    x0 = c.cx - c.px(pitch) * n / 2
    for i, ch in enumerate(text):
        tile = c.glyph(ch, c.px(em), c.px(width))
        c.stamp(tile, x0 + c.px(pitch) * (i + 0.5), y, 0.0)


def _draw_code(c: _Canvas, lay: _Layout, inner: tuple[float, float]) -> None:
    code = c.spec.seal_code
    if not code:
        return
    em = lay.code_em
    ra = inner[0] - lay.code_gap - em / 2
    rb = inner[1] - lay.code_gap - em / 2
    font = c.font(c.px(em))
    pitch = font.getlength("0") / c.scale * 1.25  # mm per digit
    n = len(code)
    # arc parameter half-span for the wanted length, found by bisection
    want = pitch * (n - 1)
    lo, hi = 0.0, math.radians(80)
    for _ in range(40):
        mid = (lo + hi) / 2
        if _arc_length(ra, rb, -mid, mid, 128) < want:
            lo = mid
        else:
            hi = mid
    half = lo
    # points on the top arc turned through 180°: mirror to the bottom and read left→right
    for ch, (x, y, normal) in zip(code, _ellipse_arc(ra, rb, half, -half, n), strict=True):
        tile = c.glyph(ch, c.px(em))
        c.stamp(tile, c.cx - c.px(x), c.cy - c.px(y), -normal)


def render_seal(spec: SealSpec, *, font_path: Path | None = None) -> Image.Image:
    """The seal as an RGBA image (transparent background, one flat colour).

    ``font_path`` overrides the font (default: ``$ELICENSE_FONT`` or the packaged
    Noto Serif CJK SC subset). Raises :class:`~elicense.fonts.FontCoverageError` if the
    font lacks a character, before anything is drawn.
    """
    if not isinstance(spec, SealSpec):
        raise TypeError(f"expected SealSpec, got {type(spec).__name__}")
    path = resolve_font(font_path)
    require_glyphs(spec.text, path)
    lay = _layout(spec)
    canvas = _Canvas(spec, path)
    inner = _draw_ring(canvas, lay)
    if spec.star:
        _draw_star(canvas, lay)
    free = _draw_authority(canvas, lay, inner)
    _draw_seal_name(canvas, lay, free if spec.style == "round" else lay.name_half_width)
    _draw_code(canvas, lay, inner)
    return canvas.finish()


def render_seal_png(spec: SealSpec, *, font_path: Path | None = None) -> bytes:
    """:func:`render_seal` encoded as PNG (with the dpi recorded in ``pHYs``)."""
    image = render_seal(spec, font_path=font_path)
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=6, dpi=(spec.dpi, spec.dpi))
    return buf.getvalue()
