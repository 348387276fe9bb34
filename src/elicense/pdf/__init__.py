"""Signed, QR-verifiable licence PDFs: render (fpdf2), seal and sign (pyHanko), verify.

Everything heavy (fpdf2, fontTools, pyHanko, pypdfium2) is imported inside the
functions of the submodules, never at import time of this package.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elicense.crypto.keys import Signer
    from elicense.issue import IssuedLicence
    from elicense.pdf.sign import PdfSigningOptions

__all__ = ["issue_pdf"]


def issue_pdf(
    issued: IssuedLicence,
    signer: Signer,
    *,
    at: dt.datetime | None = None,
    seal_name: str = "电子证照专用章",
    options: PdfSigningOptions | None = None,
) -> bytes:
    """Render, seal and sign the PDF of an issued licence (DocMDP P=1).

    PAdES B-B unless ``options`` (see :func:`elicense.pdf.tsa.options_for_home`) ask for B-T / B-LT.
    """
    from elicense.pdf.sign import PdfSigningOptions, seal_and_sign

    return seal_and_sign(issued, signer, at=at, options=options or PdfSigningOptions(seal_name=seal_name))
