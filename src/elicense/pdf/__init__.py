"""Signed, QR-verifiable licence PDFs: render (fpdf2), seal and sign (pyHanko), verify.

Everything heavy (fpdf2, fontTools, pyHanko, pypdfium2) is imported inside the
functions of the submodules, never at import time of this package.
"""

from __future__ import annotations
