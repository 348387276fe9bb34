"""A deterministic corpus of camera-like frames of real licence QR codes (Pillow only, no numpy).

Each degradation class imitates what a kiosk camera sees: a code that is small,
rotated, perspective-skewed, blurred, low-contrast, under glare, heavily JPEG
compressed, inverted (phone dark mode), several codes in one frame, and two
whole scenes: a photo of a phone screen and a photo of a printed page on a desk.

    frame = make_frame("perspective", [payload], seed=3)   # JPEG or PNG bytes
    frames = corpus(payloads, per_class=10)                # [(class, seed, bytes, payloads)]

Used by ``benchmarks/bench_camera.py`` and ``tests/qr/test_camera_decode.py``.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

Point = tuple[float, float]
FRAME = (1280, 720)


def qr_image(payload: str, scale: int = 8, border: int = 4) -> Image.Image:
    """The licence QR exactly as ``elicense`` renders it, as a greyscale image."""
    from elicense.qr.render import make_qr

    buf = io.BytesIO()
    make_qr(payload).save(buf, kind="png", scale=scale, border=border)
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8×8: no numpy needed)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def _perspective_coeffs(dst: Sequence[Point], src: Sequence[Point]) -> list[float]:
    """Pillow PERSPECTIVE coefficients mapping output points ``dst`` to input points ``src``."""
    a: list[list[float]] = []
    b: list[float] = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        b.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.append(v)
    return _solve(a, b)


def place(frame: Image.Image, obj: Image.Image, quad: Sequence[Point]) -> None:
    """Warp ``obj`` onto ``frame`` so that its corners (TL, TR, BR, BL) land on ``quad``."""
    w, h = obj.size
    coeffs = _perspective_coeffs(quad, [(0, 0), (w, 0), (w, h), (0, h)])
    warped = obj.convert(frame.mode).transform(
        frame.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC
    )
    mask = Image.new("L", obj.size, 255).transform(
        frame.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    frame.paste(warped, (0, 0), mask)


def quad_of(
    cx: float, cy: float, w: float, h: float, angle: float = 0.0, tilt: float = 0.0, yaw: float = 0.0
) -> list[Point]:
    """A rectangle centred at (cx, cy), rotated by ``angle`` degrees, with perspective ``tilt``/``yaw`` (0..0.5)."""
    hw, hh = w / 2, h / 2
    corners = [
        (-hw * (1 - tilt), -hh * (1 + yaw)),
        (hw * (1 - tilt), -hh * (1 - yaw)),
        (hw * (1 + tilt), hh * (1 - yaw)),
        (-hw * (1 + tilt), hh * (1 + yaw)),
    ]
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners]


def _gauss(size: tuple[int, int], rng: random.Random, sigma: float) -> Image.Image:
    """Seeded sensor noise around 128 (``Image.effect_noise`` is not seedable): sum of 3 uniforms ≈ Gaussian."""
    n = size[0] * size[1]
    planes = [Image.frombytes("L", size, rng.randbytes(n)) for _ in range(3)]
    mean = Image.blend(Image.blend(planes[0], planes[1], 0.5), planes[2], 1 / 3)  # σ ≈ 74 / 3 ≈ 42
    k = sigma / 42
    return mean.point(lambda v: max(0, min(255, round(128 + (v - 128) * k))))


def background(rng: random.Random, size: tuple[int, int] = FRAME) -> Image.Image:
    """A desk/wall: a brightness gradient with sensor noise."""
    base = rng.randint(70, 170)
    grad = Image.linear_gradient("L").resize(size).rotate(rng.uniform(0, 360), fillcolor=128)
    noise = _gauss(size, rng, rng.uniform(8, 20))
    img = Image.blend(grad, noise, 0.5).point(lambda v: max(0, min(255, base + (v - 128) // 3)))
    return Image.merge("RGB", [img.point(lambda v, k=k: min(255, int(v * k))) for k in (1.0, 0.95, 0.85)])


def _noise(frame: Image.Image, rng: random.Random, sigma: float = 6.0) -> Image.Image:
    noise = _gauss(frame.size, rng, sigma).convert(frame.mode)
    grey = Image.new(frame.mode, frame.size, (128,) * len(frame.getbands()))
    return Image.blend(frame, Image.blend(grey, noise, 1.0), 0.12)


def _jpeg(frame: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    frame.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _glare(frame: Image.Image, rng: random.Random, cx: float, cy: float, radius: float, strength: float) -> Image.Image:
    """A bright specular blob (a lamp reflected in a screen or glossy paper)."""
    blob = Image.radial_gradient("L").resize((int(radius * 2), int(radius * 2)))
    blob = ImageOps.invert(blob).point(lambda v: int(min(255, v * strength)))
    mask = Image.new("L", frame.size, 0)
    mask.paste(blob, (int(cx - radius), int(cy - radius)))
    white = Image.new(frame.mode, frame.size, (255,) * len(frame.getbands()))
    return Image.composite(white, frame, mask)


def phone(code: Image.Image, rng: random.Random, *, dark: bool = False) -> Image.Image:
    """A phone showing the code: dark bezel, screen, a header bar (dark mode inverts the screen)."""
    side = code.width
    w, h = int(side * 1.3), int(side * 2.3)
    body = Image.new("L", (w, h), 20)
    screen_bg = 30 if dark else 250
    screen = Image.new("L", (w - 24, h - 60), screen_bg)
    d = ImageDraw.Draw(screen)
    d.rectangle((0, 0, screen.width, 70), fill=60 if dark else 200)
    for i in range(4):
        d.rectangle(
            (30, side + 160 + i * 40, screen.width - 30 - rng.randint(0, 120), side + 180 + i * 40),
            fill=110 if dark else 140,
        )
    screen.paste(ImageOps.invert(code) if dark else code, ((screen.width - side) // 2, 110))
    body.paste(screen, (12, 30))
    return body


def page(code: Image.Image, rng: random.Random) -> Image.Image:
    """A printed A4 licence page: title, text lines, the code near the bottom right."""
    side = code.width
    w = side * 4
    h = int(w * 1.414)
    paper = Image.new("L", (w, h), rng.randint(225, 245))
    d = ImageDraw.Draw(paper)
    d.rectangle((20, 20, w - 20, h - 20), outline=120, width=6)
    d.rectangle((w // 3, 60, 2 * w // 3, 110), fill=60)
    for i in range(14):
        y = 180 + i * 55
        d.rectangle((80, y, w - 80 - rng.randint(0, w // 2), y + 18), fill=90)
    paper.paste(code, (w - side - 80, h - side - 80))
    d.ellipse((w - side - 420, h - side - 40, w - side - 120, h - 40), outline=170, width=10)  # the seal
    return paper


def _scene(obj: Image.Image, quad: Sequence[Point], rng: random.Random) -> Image.Image:
    frame = background(rng)
    place(frame, obj.convert("RGB"), quad)
    return frame


def _small(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    side = rng.uniform(1.5, 2.0) * (codes[0].width / 8)  # 1.5-2 px per module
    frame = _scene(codes[0], quad_of(rng.uniform(300, 980), rng.uniform(200, 520), side, side), rng)
    return _jpeg(_noise(frame, rng), 85)


def _rotated(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    frame = _scene(codes[0], quad_of(640, 360, 300, 300, angle=rng.uniform(15, 345)), rng)
    frame = frame.filter(ImageFilter.GaussianBlur(0.8))
    return _jpeg(_noise(frame, rng), 75)


def _perspective(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    quad = quad_of(
        640,
        360,
        440,
        440,
        angle=rng.uniform(-20, 20),
        tilt=rng.uniform(0.25, 0.35) * rng.choice((-1, 1)),
        yaw=rng.uniform(0.1, 0.2) * rng.choice((-1, 1)),
    )
    return _jpeg(_noise(_scene(codes[0], quad, rng), rng), 85)


def _blurred(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    side = 480
    frame = _scene(codes[0], quad_of(640, 360, side, side, angle=rng.uniform(-10, 10)), rng)
    module = side / (codes[0].width / 8)
    frame = frame.filter(ImageFilter.GaussianBlur(module * rng.uniform(0.55, 0.7)))
    return _jpeg(_noise(frame, rng), 90)


def _low_contrast(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    frame = _scene(codes[0], quad_of(640, 360, 460, 460, angle=rng.uniform(-10, 10)), rng)
    frame = ImageEnhance.Contrast(frame).enhance(rng.uniform(0.06, 0.09))
    frame = ImageEnhance.Brightness(frame).enhance(rng.uniform(0.7, 1.2))
    return _jpeg(_noise(frame, rng, 4), 90)


def _glared(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    frame = _scene(codes[0], quad_of(640, 360, 480, 480, angle=rng.uniform(-10, 10)), rng)
    frame = _glare(
        frame,
        rng,
        640 + rng.uniform(-120, 120),
        360 + rng.uniform(-120, 120),
        rng.uniform(150, 220),
        rng.uniform(1.1, 1.4),
    )
    return _jpeg(_noise(frame, rng), 85)


def _jpeg_crushed(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    frame = _scene(codes[0], quad_of(640, 360, 250, 250, angle=rng.uniform(-20, 20)), rng)
    return _jpeg(_noise(frame, rng), rng.randint(3, 6))


def _inverted(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    obj = phone(codes[0], rng, dark=True)
    scale = 620 / obj.height
    quad = quad_of(640, 360, obj.width * scale, obj.height * scale, angle=rng.uniform(-15, 15))
    return _jpeg(_noise(_scene(obj, quad, rng), rng), 85)


def _multiple(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    frame = background(rng)
    xs = [240, 640, 1040]
    for code, x in zip(codes, xs, strict=False):
        place(frame, code.convert("RGB"), quad_of(x, 360 + rng.uniform(-60, 60), 330, 330, angle=rng.uniform(-25, 25)))
    return _jpeg(_noise(frame, rng), 85)


def _phone_photo(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    obj = phone(codes[0], rng)
    scale = rng.uniform(560, 660) / obj.height
    quad = quad_of(
        640 + rng.uniform(-150, 150),
        360,
        obj.width * scale,
        obj.height * scale,
        angle=rng.uniform(-25, 25),
        tilt=rng.uniform(-0.15, 0.15),
        yaw=rng.uniform(-0.1, 0.1),
    )
    frame = _scene(obj, quad, rng)
    frame = _glare(frame, rng, quad[0][0] + 60, quad[0][1] + 160, 120, 0.9)
    frame = frame.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.1)))
    return _jpeg(_noise(frame, rng), rng.randint(55, 75))


def _page_photo(codes: Sequence[Image.Image], rng: random.Random) -> bytes:
    obj = page(codes[0], rng)
    scale = rng.uniform(1500, 1700) / obj.height  # the camera sees the lower part of the page, zoomed
    cx, cy = 640 - obj.width * scale * 0.22, 360 - obj.height * scale * 0.3
    quad = quad_of(
        cx,
        cy,
        obj.width * scale,
        obj.height * scale,
        angle=rng.uniform(-12, 12),
        tilt=rng.uniform(-0.12, 0.12),
        yaw=rng.uniform(-0.08, 0.08),
    )
    frame = _scene(obj, quad, rng)
    shade = Image.linear_gradient("L").resize(frame.size).rotate(rng.uniform(0, 360)).point(lambda v: 150 + v // 3)
    frame = Image.composite(frame, Image.new("RGB", frame.size, 0), shade)  # uneven lighting
    frame = frame.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.0)))
    return _jpeg(_noise(frame, rng), rng.randint(60, 80))


CLASSES: dict[str, Callable[[Sequence[Image.Image], random.Random], bytes]] = {
    "small": _small,
    "rotated": _rotated,
    "perspective": _perspective,
    "blurred": _blurred,
    "low_contrast": _low_contrast,
    "glare": _glared,
    "jpeg": _jpeg_crushed,
    "inverted": _inverted,
    "multiple": _multiple,
    "phone_screen": _phone_photo,
    "printed_page": _page_photo,
}
"""Degradation class → frame maker (codes, rng) → encoded frame."""


def make_frame(kind: str, payloads: Sequence[str], seed: int) -> bytes:
    """One encoded frame of class ``kind`` showing the QR of ``payloads[0]`` (``multiple``: up to 3)."""
    rng = random.Random(f"{kind}/{seed}")
    codes = [qr_image(p) for p in payloads[: 3 if kind == "multiple" else 1]]
    return CLASSES[kind](codes, rng)


def corpus(
    payloads: Sequence[str], per_class: int = 10, kinds: Sequence[str] | None = None
) -> list[tuple[str, int, bytes, tuple[str, ...]]]:
    """``per_class`` frames per class: (class, seed, frame bytes, payloads expected in it)."""
    out = []
    for kind in kinds or CLASSES:
        for seed in range(per_class):
            start = seed % len(payloads)
            chosen = tuple((list(payloads[start:]) + list(payloads[:start]))[: 3 if kind == "multiple" else 1])
            out.append((kind, seed, make_frame(kind, chosen, seed), chosen))
    return out


if __name__ == "__main__":  # write frame 0 of each class for eyeballing: camera_corpus.py OUTDIR X.qr.txt...
    import sys
    from pathlib import Path

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    texts = [Path(name).read_text("ascii").strip() for name in sys.argv[2:]]
    for kind in CLASSES:
        (out / f"{kind}.jpg").write_bytes(make_frame(kind, texts, 0))
    print(out)
