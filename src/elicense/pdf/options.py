"""How a licence PDF is signed beyond PAdES B-B: the options, without loading pyHanko.

:class:`PdfSigningOptions` lives here, not in :mod:`elicense.pdf.sign`, so that the layer
that builds them from an issuer home (:mod:`elicense.documents`, loaded by every ``issue``
command) does not import pyHanko and fpdf2 for a QR-only job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko_certvalidator import ValidationContext

    from elicense.pdf.tsa import LocalTSA

__all__ = ["PdfSigningOptions"]


@dataclass(frozen=True)
class PdfSigningOptions:
    """How to sign beyond PAdES B-B (everything optional)."""

    timestamper: TimeStamper | LocalTSA | None = None
    """A pyHanko ``TimeStamper`` (RFC 3161 client, e.g. ``HTTPTimeStamper(url)``) or an
    in-process :class:`~elicense.pdf.tsa.LocalTSA`: adds a signature timestamp (B-T)."""
    level: str | None = None
    """``B-B``, ``B-T``, ``B-LT`` or ``B-LTA`` (B-LT + a document timestamp over the DSS): checked
    against what is given; ``None``: implied by it."""
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    """CRLs covering the signer's chain: with ``trust_roots``, makes the signature B-LT."""
    trust_roots: tuple[x509.Certificate, ...] = ()
    """Trust anchors used to validate the signer at signing time (needed for B-LT)."""
    validation_time: dt.datetime | None = None
    """When the B-LT validation data is gathered and checked (the CRLs' time); ``None``: the signing time."""
    seal_png: bytes | None = None
    """Seal image (PNG with alpha) for the visible signature; ``None``: render one."""
    seal_name: str = "电子证照专用章"
    """Text of the seal when it is rendered here."""
    reason: str = "电子证照签发"
    """Signature reason (shown by PDF readers)."""
    location: str | None = None
    """Signature location (defaults to the authority's area code)."""
    validation_context: ValidationContext | None = None
    """B-LT/B-LTA: a pyHanko ``ValidationContext`` built once from ``trust_roots``/``crls`` (see
    :func:`prepare_options`) and reused for every PDF of a job; ``None``: built per signature."""
