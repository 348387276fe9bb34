"""Signed, QR-verifiable licence PDFs: render (fpdf2), seal and sign (pyHanko), verify.

Everything heavy (fpdf2, fontTools, pyHanko, pypdfium2) is imported inside the
functions of the submodules, never at import time of this package.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from typing import TYPE_CHECKING

from cryptography.utils import CryptographyDeprecationWarning

if TYPE_CHECKING:
    from elicense.crypto.keys import Signer
    from elicense.issue import IssuedLicence
    from elicense.pdf.sign import PdfSigningOptions

__all__ = ["ATTACHMENT_MIME", "ATTACHMENT_NAME", "PADES_LEVELS", "issue_pdf"]

ATTACHMENT_NAME = "licence.cose"
"""File name of the embedded signed full record (here, not in ``render``: the verifier needs it without fpdf2)."""
ATTACHMENT_MIME = "application/cose"
"""MIME type of the embedded record (RFC 9052 COSE)."""
PADES_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
"""The PAdES baseline levels elicense signs (ETSI EN 319 142-1), weakest first."""

# cryptography 51 deprecates DSA and warns on every access to its DSA names; pyHanko imports
# ``DSAPrivateKey`` at module load and pyhanko-certvalidator touches ``dsa.DSAPublicKey`` when a
# (hostile) PDF names DSA. Both warnings are attributed to pyHanko's modules (stacklevel 2), so
# this filter silences exactly those and nothing an application itself triggers. Every pyHanko
# import in elicense lives in a submodule of this package, so the filter is in place first.
# ``tests/test_warnings_clean.py`` runs every PDF path with ``-W error`` on the newest releases.
warnings.filterwarnings(
    "ignore",
    message=r"DSA is deprecated",
    category=CryptographyDeprecationWarning,
    module=r"pyhanko(_certvalidator)?(\.|$)",
)

# pyHanko logs what it refuses in a hostile PDF (with tracebacks), and notes such as "fetching is
# not allowed" while signing B-LT, and configures no handler: an application without logging set up
# got them on stderr through logging's last-resort handler (the CLI printed tracebacks). The verdict
# and its reasons are the result; an application that configures logging still receives these
# records (they propagate to its handlers). Found by the `pdf` fuzz target.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


def issue_pdf(
    issued: IssuedLicence,
    signer: Signer,
    *,
    at: dt.datetime | None = None,
    seal_name: str = "电子证照专用章",
    options: PdfSigningOptions | None = None,
) -> bytes:
    """Render, seal and sign the PDF of an issued licence (DocMDP P=1).

    PAdES B-B unless ``options`` (see :func:`elicense.documents.options_for_home`) ask for B-T / B-LT.
    """
    from elicense.pdf.sign import PdfSigningOptions, seal_and_sign

    return seal_and_sign(issued, signer, at=at, options=options or PdfSigningOptions(seal_name=seal_name))
