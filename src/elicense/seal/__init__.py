"""Electronic seals: pictures (电子印章图像) here; seal structures in the submodules.

:func:`render_seal` draws a round official seal (公章) or an oval seal (椭圆章) from a
:class:`SealSpec` with the packaged CJK font; the PDF layer uses it as the visible
signature appearance. Seals and seal signatures (GB/T 38540, GM/T 0031, GB/T 35275) are in
:mod:`elicense.seal.api` (the carrier-facing API), :mod:`elicense.seal.ses`,
:mod:`elicense.seal.signeddata`, :mod:`elicense.seal.inspect` — imported on use only, so
rendering a picture loads no ASN.1 or SM2 code.
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

SEALS_SECTION = "sm2_seals"
"""The key of an SM2 home's seals (``Home.extra``): makers, and each authority's ``SES_Seal`` file."""

__all__ = [
    "MAX_AUTHORITY_CHARS",
    "MAX_SEAL_CODE_DIGITS",
    "MAX_SEAL_NAME_CHARS",
    "SEALS_SECTION",
    "SealSpec",
    "render_seal",
    "render_seal_png",
]
