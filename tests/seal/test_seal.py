"""Seal pictures: geometry, colour, determinism and input validation."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image

from elicense.errors import LicenceDataError
from elicense.fonts import FontCoverageError, default_font_path
from elicense.seal import SealSpec, render_seal, render_seal_png

SPEC = SealSpec("济南市行政审批服务局", "行政审批专用章", "3701000012345")
RED = (218, 37, 29)


def _alpha(img: Image.Image, xy: tuple[int, int]) -> int:
    px = img.getpixel(xy)
    assert isinstance(px, tuple)
    return int(px[3])


def _colours(img: Image.Image) -> list[tuple[int, tuple[int, int, int, int]]]:
    colours = img.getcolors(1 << 20)
    assert colours is not None
    return [(n, px) for n, px in colours if isinstance(px, tuple) and len(px) == 4]


@pytest.fixture(scope="module")
def seal() -> Image.Image:
    return render_seal(SPEC)


@pytest.fixture(scope="module")
def seal_png() -> bytes:
    return render_seal_png(SPEC)


def test_spec_defaults() -> None:
    assert SPEC.style == "round"
    assert SPEC.size_mm == (42.0, 42.0)
    assert SPEC.size_px == (496, 496)
    assert SPEC.star is True
    oval = SealSpec("某某有限公司", style="oval")
    assert oval.size_mm == (45.0, 30.0)
    assert oval.size_px == (531, 354)
    assert oval.star is False
    assert SealSpec("某某有限公司", style="oval", diameter_mm=40, height_mm=30).size_mm == (40, 30)


def test_size_mode_and_transparent_corners(seal: Image.Image) -> None:
    assert seal.mode == "RGBA"
    assert seal.size == (496, 496)
    w, h = seal.size
    for xy in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (20, 20), (w - 21, h - 21)]:
        assert _alpha(seal, xy) == 0


def test_ring_is_solid_red_all_round(seal: Image.Image) -> None:
    w, h = seal.size
    px_per_mm = w / 42.0
    r = (21.0 - 0.1 - 0.6) * px_per_mm  # middle of the 1.2 mm ring
    for deg in range(0, 360, 15):
        x = w / 2 + r * math.sin(math.radians(deg))
        y = h / 2 - r * math.cos(math.radians(deg))
        assert seal.getpixel((int(x), int(y))) == (*RED, 255), deg
    # inside the ring between the end of the name and the seal code there is nothing
    for deg, r_mm in [(140, 15.0), (180, 15.0), (220, 15.0), (130, 17.5), (230, 17.5)]:
        x = w / 2 + r_mm * px_per_mm * math.sin(math.radians(deg))
        y = h / 2 - r_mm * px_per_mm * math.cos(math.radians(deg))
        assert _alpha(seal, (int(x), int(y))) == 0, (deg, r_mm)


def test_star_in_centre_and_text_present(seal: Image.Image) -> None:
    w, h = seal.size
    assert _alpha(seal, (w // 2, h // 2)) == 255  # the star
    alpha = seal.getchannel("A")
    px_per_mm = w / 42.0
    # authority name along the top arc: ink between the ring and the star
    top = alpha.crop((w // 2 - 40, int(2 * px_per_mm), w // 2 + 40, int(9 * px_per_mm)))
    assert top.getbbox() is not None
    # seal name under the star
    band = alpha.crop((int(12 * px_per_mm), int(29 * px_per_mm), int(30 * px_per_mm), h // 2 + 130))
    assert band.getbbox() is not None


def test_one_flat_colour(seal: Image.Image) -> None:
    colours = {px[:3] for _, px in _colours(seal) if px[3] > 0}
    assert colours == {RED}
    alphas = set(seal.getchannel("A").tobytes())
    assert {0, 255} <= alphas
    assert len(alphas) > 10  # anti-aliased


def test_png_is_deterministic_and_records_dpi(seal_png: bytes) -> None:
    assert seal_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert render_seal_png(SPEC) == seal_png
    assert render_seal_png(SPEC, font_path=default_font_path()) == seal_png
    img = Image.open(io.BytesIO(seal_png))
    assert img.mode == "RGBA"
    assert img.size == (496, 496)
    assert round(img.info["dpi"][0]) == 300
    assert len(seal_png) < 150_000


def test_custom_colour_and_low_dpi() -> None:
    img = render_seal(SealSpec("公安局", dpi=150, color=(200, 0, 0)))
    assert img.size == (248, 248)
    assert {px[:3] for _, px in _colours(img) if px[3]} == {(200, 0, 0)}


def test_oval_seal() -> None:
    spec = SealSpec("鲁信科技发展有限公司", "合同专用章", "3701020098765", style="oval", dpi=150)
    img = render_seal(spec)
    assert img.size == spec.size_px == (266, 177)
    w, h = img.size
    assert _alpha(img, (w // 2, 1)) > 128  # ring at the top
    assert _alpha(img, (1, h // 2)) > 128  # ring at the left
    assert _alpha(img, (0, 0)) == 0
    assert _alpha(img, (20, 15)) == 0  # outside the ellipse


def test_long_name_still_renders() -> None:
    render_seal(SealSpec("中" * 24, "合同专用章", "1" * 13, dpi=100))


def test_missing_glyph_is_an_error_not_a_box() -> None:
    with pytest.raises(FontCoverageError) as info:
        render_seal(SealSpec("某某😀公司"))
    assert info.value.missing == frozenset({"😀"})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"authority_name": ""}, "authority_name"),
        ({"authority_name": "   "}, "authority_name"),
        ({"authority_name": "济南市 行政审批服务局"}, "authority_name"),
        ({"authority_name": "中" * 25}, "authority_name"),
        ({"seal_name": "专" * 13}, "seal_name"),
        ({"seal_name": "专用\n章"}, "seal_name"),
        ({"seal_code": "37010A0012345"}, "seal_code"),
        ({"seal_code": "３７０１"}, "seal_code"),
        ({"seal_code": "1" * 17}, "seal_code"),
        ({"dpi": 10}, "dpi"),
        ({"dpi": 5000}, "dpi"),
        ({"dpi": True}, "dpi"),
        ({"dpi": 300.0}, "dpi"),
        ({"diameter_mm": 5.0}, "diameter_mm"),
        ({"diameter_mm": 200.0}, "diameter_mm"),
        ({"diameter_mm": float("nan")}, "diameter_mm"),
        ({"diameter_mm": -42.0}, "diameter_mm"),
        ({"height_mm": 30.0}, "height_mm"),
        ({"style": "oval", "height_mm": 44.0}, "height_mm"),
        ({"style": "square"}, "style"),
        ({"color": (256, 0, 0)}, "color"),
        ({"color": "red"}, "color"),
    ],
)
def test_validation(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"authority_name": "济南市行政审批服务局", **kwargs}
    with pytest.raises(LicenceDataError) as info:
        SealSpec(**args)  # type: ignore[arg-type]
    assert info.value.details["field"] == field
    assert info.value.message_zh


def _ink(alpha: Image.Image, box: tuple[float, float, float, float]) -> float:
    from PIL import ImageStat

    crop = alpha.crop(box)
    return float(ImageStat.Stat(crop).sum[0])


def test_text_is_upright_and_not_mirrored() -> None:
    # 厂: the stroke on the left, the bar on top. The middle character of the name
    # stands upright at 12 o'clock; the seal name is horizontal under the star.
    img = render_seal(SealSpec("厂厂厂", "厂", dpi=200))
    alpha = img.getchannel("A")
    ppm = img.width / 42.0
    cx = img.width / 2
    top_cy = (21.0 - 15.6) * ppm  # centre of the top character
    half = 2.5 * ppm
    left = _ink(alpha, (cx - half, top_cy - half, cx, top_cy + half))
    right = _ink(alpha, (cx, top_cy - half, cx + half, top_cy + half))
    upper = _ink(alpha, (cx - half, top_cy - half, cx + half, top_cy))
    lower = _ink(alpha, (cx - half, top_cy, cx + half, top_cy + half))
    assert left > 1.3 * right
    assert upper > 1.1 * lower
    name_cy = img.height / 2 + 10.2 * ppm
    half = 2.0 * ppm
    left = _ink(alpha, (cx - half, name_cy - half, cx, name_cy + half))
    right = _ink(alpha, (cx, name_cy - half, cx + half, name_cy + half))
    assert left > 1.3 * right
