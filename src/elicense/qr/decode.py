"""Find and read QR codes in images (zxing-cpp on Pillow images), including camera frames.

Images are hostile: the file size and pixel count are bounded before decoding
(Pillow's own bomb check raises too), and only the QR format is searched (8×
faster). Camera frames are imperfect (small, rotated, skewed, blurred, low
contrast, glare, JPEG, dark-mode inverted): one fast zxing pass reads most of
them; only when it finds nothing does a ladder of cheap Pillow pre-processing
steps run (other binarizer, contrast stretch, illumination flattening,
sharpening, upscaling), stopping at the first step that finds a code or when
the caller's time :func:`budget` is spent (live frames: the next frame comes soon).
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import zxingcpp
from PIL import Image, ImageChops, ImageFilter, ImageOps

from elicense.errors import InputError

MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_PIXELS = 40_000_000
WORK_PIXELS = 6_000_000
"""Frames larger than this are downscaled once before any decoding (a 24 MP photo gains nothing)."""
MAX_DECODED_BYTES = 64 * 1024 * 1024
"""Largest raster Pillow may allocate for one image (pixels × bytes per pixel in Pillow's own storage:
RGB and RGBA take 4). Checked from the header before decoding: a 165 KB PNG can declare 40 MP RGBA
(160 MB, ~650 MB with the conversions). JPEGs are decoded reduced (DCT scaling, greyscale) to fit;
other formats over the bound are refused. Keeps one kiosk decode under ~200 MB."""
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "La": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2}

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("elicense_qr_deadline", default=None)


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Within this block, the fallback ladder stops starting new steps after ``seconds``."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _open(data: bytes) -> Image.Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError("image file too large", message_zh="图像文件过大", details={"reason": "too_large"})
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InputError(
                    "image has too many pixels", message_zh="图像像素过多", details={"reason": "too_many_pixels"}
                )
            if image.width * image.height > WORK_PIXELS and image.format == "JPEG":
                # decode JPEG at reduced scale (DCT scaling, 1/2 to 1/8) and in grey: cheap, and bounded
                scale = 2
                while scale < 8 and (image.width // scale) * (image.height // scale) > WORK_PIXELS:
                    scale *= 2
                image.draft("L", (image.width // scale, image.height // scale))
            decoded = image.width * image.height * _BYTES_PER_PIXEL.get(image.mode, 4)
            if decoded > MAX_DECODED_BYTES:
                raise InputError(
                    f"image too large to decode: {image.width}×{image.height} {image.mode} "
                    f"({decoded >> 20} MiB > {MAX_DECODED_BYTES >> 20} MiB)",
                    message_zh="图像解码后过大",
                    details={"reason": "too_many_pixels"},
                )
            image.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            "image is a decompression bomb", message_zh="图像疑似解压炸弹", details={"reason": "bomb"}
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # UnidentifiedImageError is an OSError
        raise InputError(
            f"cannot read image: {exc}", message_zh="无法读取图像", details={"reason": "unreadable"}
        ) from exc
    return _grey(image)


def _grey(image: Image.Image) -> Image.Image:
    """Greyscale, transparency on white, at most :data:`WORK_PIXELS`."""

    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        # transparent → white, not black; composited in grey (one byte a pixel), not in RGBA copies
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        alpha = rgba.getchannel("A")
        grey = rgba.convert("L")
        del rgba
        image = Image.composite(grey, Image.new("L", grey.size, 255), alpha)
        del grey, alpha
    image = image.convert("L")
    pixels = image.width * image.height
    if pixels > WORK_PIXELS:
        factor = (WORK_PIXELS / pixels) ** 0.5
        image = image.resize(
            (max(1, int(image.width * factor)), max(1, int(image.height * factor))), Image.Resampling.BOX
        )
    return image


def _zxing(image: Image.Image, binarizer: str = "LocalAverage", *, invert: bool = True) -> list[str]:
    qr_only: Any = zxingcpp.BarcodeFormat.QRCode  # the stubs want the flag-set type
    results = zxingcpp.read_barcodes(
        image,
        formats=qr_only,
        try_rotate=True,
        try_downscale=True,
        try_invert=invert,
        binarizer=getattr(zxingcpp.Binarizer, binarizer),
    )
    return [r.text for r in results if r.valid and r.text]


def _autocontrast(image: Image.Image) -> Image.Image:
    return ImageOps.autocontrast(image, cutoff=1)


def _flatten(image: Image.Image) -> Image.Image:
    """Divide out slow illumination changes (glare, shadows): keep local contrast only."""

    radius = max(4, min(image.size) // 24)
    background = image.filter(ImageFilter.BoxBlur(radius))
    dark = ImageChops.subtract(background, image, scale=1.0, offset=0)  # dark modules → bright
    return ImageOps.autocontrast(ImageOps.invert(dark), cutoff=1)


def _sharpen(image: Image.Image, radius: int = 4, percent: int = 500) -> Image.Image:
    """Unsharp mask: restores module edges of defocused or motion-soft frames."""

    return image.filter(ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=0))


def _upscale(image: Image.Image, factor: float = 1.5) -> Image.Image | None:
    if image.width * image.height * factor * factor > WORK_PIXELS:
        return None
    return image.resize((int(image.width * factor), int(image.height * factor)), Image.Resampling.BICUBIC)


def _identity(image: Image.Image) -> Image.Image:
    return image


Step = tuple[str, str, Callable[[Image.Image], Image.Image | None], str]
LADDER: tuple[Step, ...] = (
    ("histogram", "", _identity, "GlobalHistogram"),
    ("autocontrast", "", _autocontrast, "LocalAverage"),
    ("sharpen", "", _sharpen, "LocalAverage"),
    ("upscale", "", _upscale, "LocalAverage"),
    ("upscale-sharpen", "upscale", lambda im: _sharpen(im, 5, 300), "LocalAverage"),
    ("flatten", "", _flatten, "LocalAverage"),
)
"""Fallback steps, cheap and most often useful first: (name, input step ``""`` = the frame, transform, binarizer).

On the benchmark corpus every rescue came from autocontrast, sharpen, upscale or
upscale-sharpen; a median-filter step rescued nothing and cost a quarter of the ladder.
"""


def read_qr_image(image: Image.Image, *, ladder: bool = True) -> tuple[list[str], str]:
    """QR texts in a greyscale Pillow image and the step that found them (``"fast"`` or a ladder step)."""
    texts = _zxing(image)
    if texts or not ladder:
        return texts, "fast"
    deadline = _deadline.get()
    derived: dict[str, Image.Image | None] = {
        "": image
    }  # a step may start from another step's output (upscale → sharpen)
    for name, source, transform, binarizer in LADDER:
        if deadline is not None and time.monotonic() > deadline:
            break
        base = derived.get(source)
        prepared = transform(base) if base is not None else None
        derived[name] = prepared
        if prepared is None:
            continue
        texts = _zxing(prepared, binarizer)
        if texts:
            return texts, name
    return [], "none"


def read_qr_texts(data: bytes) -> list[str]:
    """All QR code texts found in an image, in reading order; ``[]`` if none."""
    texts, _ = read_qr_image(_open(data))
    return list(dict.fromkeys(texts))  # one code seen twice (e.g. by two passes) counts once


def read_payloads(data: bytes, prefix: str | tuple[str, ...] = "EL2:") -> list[str]:
    """QR texts that look like elicense payloads; :class:`InputError` if there are none.

    The error's ``details["reason"]`` is ``no_qr`` or ``not_elicense`` (a kiosk keeps
    scanning quietly on those).
    """
    texts = read_qr_texts(data)
    found = [t for t in texts if t.startswith(prefix)]
    if not found:
        if texts:
            raise InputError(
                "the QR code in the image is not an elicense payload",
                message_zh="图像中的二维码不是电子证照",
                details={"reason": "not_elicense"},
            )
        raise InputError("no QR code found in the image", message_zh="图像中未找到二维码", details={"reason": "no_qr"})
    return found
