"""Find and read QR codes in images (zxing-cpp on Pillow images).

Images are hostile: the pixel count is bounded before decoding (Pillow's own
bomb check raises too), and only the QR format is searched (8× faster).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from elicense.errors import InputError

MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_PIXELS = 40_000_000


def _open(data: bytes) -> Any:
    from PIL import Image

    if len(data) > MAX_IMAGE_BYTES:
        raise InputError("image file too large", message_zh="图像文件过大")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InputError("image has too many pixels", message_zh="图像像素过多")
            image.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError("image is a decompression bomb", message_zh="图像疑似解压炸弹") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        raise InputError(f"cannot read image: {exc}", message_zh="无法读取图像") from exc
    return image.convert("L") if image.mode not in ("L", "RGB") else image


def read_qr_texts(data: bytes) -> list[str]:
    """All QR code texts found in an image, in reading order; ``[]`` if none."""
    import zxingcpp

    image = _open(data)
    qr_only: Any = zxingcpp.BarcodeFormat.QRCode  # the stubs want the flag-set type
    results = zxingcpp.read_barcodes(image, formats=qr_only, try_rotate=True, try_downscale=True)
    return [r.text for r in results if r.valid and r.text]


def read_payloads(data: bytes, prefix: str = "EL1:") -> list[str]:
    """QR texts that look like elicense payloads; :class:`InputError` if there are none."""
    texts = read_qr_texts(data)
    found = [t for t in texts if t.startswith(prefix)]
    if not found:
        if texts:
            raise InputError(
                "the QR code in the image is not an elicense payload", message_zh="图像中的二维码不是电子证照"
            )
        raise InputError("no QR code found in the image", message_zh="图像中未找到二维码")
    return found
