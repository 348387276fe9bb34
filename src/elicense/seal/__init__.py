"""Electronic seal pictures (电子印章图像).

:func:`render_seal` draws a round official seal (公章) or an oval seal (椭圆章) from a
:class:`SealSpec` with the packaged CJK font; the PDF layer uses it as the visible
signature appearance.
"""

from __future__ import annotations

from elicense.seal.image import (
    MAX_AUTHORITY_CHARS,
    MAX_SEAL_CODE_DIGITS,
    MAX_SEAL_NAME_CHARS,
    SealSpec,
    render_seal,
    render_seal_png,
)

__all__ = [
    "MAX_AUTHORITY_CHARS",
    "MAX_SEAL_CODE_DIGITS",
    "MAX_SEAL_NAME_CHARS",
    "SealSpec",
    "render_seal",
    "render_seal_png",
]
