"""The 13-digit seal code is drawn along the lower arc, for the round and the oval (contract) style, and
nothing else of the seal moves for it."""

from __future__ import annotations

from PIL import Image

from elicense.seal import SealSpec, render_seal


def _ink(img: Image.Image, box: tuple[int, int, int, int]) -> int:
    return sum(1 for a in img.getchannel("A").crop(box).tobytes() if a > 128)


def test_round_seal_code_along_the_lower_arc() -> None:
    with_code = render_seal(SealSpec("济南市行政审批服务局", "行政审批专用章", "3701000012345"))
    without = render_seal(SealSpec("济南市行政审批服务局", "行政审批专用章"))
    w = with_code.width
    mm = w / 42.0
    # lower arc, inside the ring (1.2 mm), below the seal name: 34–39.5 mm from the top, middle third
    box = (int(w / 3), int(34 * mm), int(2 * w / 3), int(39.5 * mm))
    assert _ink(without, box) == 0
    assert _ink(with_code, box) > 200
    # the digits follow the arc: ink on both sides low down, symmetric about the vertical axis
    left = _ink(with_code, (int(8 * mm), int(30 * mm), int(16 * mm), int(37 * mm)))
    right = _ink(with_code, (int(26 * mm), int(30 * mm), int(34 * mm), int(37 * mm)))
    assert left > 50 and right > 50
    assert abs(left - right) < 0.5 * max(left, right)
    # the rest of the seal is unchanged by the code
    assert _ink(with_code, (0, 0, w, int(30 * mm))) == _ink(without, (0, 0, w, int(30 * mm)))


def test_oval_seal_code_along_the_lower_arc() -> None:
    spec = SealSpec("鲁信科技发展有限公司", "合同专用章", "3701020098765", style="oval", dpi=300)
    with_code = render_seal(spec)
    without = render_seal(SealSpec("鲁信科技发展有限公司", "合同专用章", style="oval", dpi=300))
    w, h = with_code.size
    bottom = (int(w * 0.32), int(h * 0.80), int(w * 0.68), int(h * 0.90))  # inside the ring
    assert _ink(without, bottom) == 0
    assert _ink(with_code, bottom) > 200
