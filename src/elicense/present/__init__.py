"""Presentation QR (亮证): short-lived, device-signed, selectively disclosed (``specs/presentation.md``).

Issuer: :func:`issue_holder_credential` signs an MSO (salted digests of each element +
the holder's device public key). Holder: :func:`make_presentation` discloses chosen
elements and signs with the device key → ``EP1:`` text. Verifier:
:meth:`elicense.verify.Verifier.verify_presentation` (``verify`` dispatches on the prefix).
"""

from elicense.present.presentation import (
    CLOCK_SKEW,
    DEFAULT_TTL,
    MAX_TTL,
    PREFIX,
    DeviceSigner,
    Presentation,
    SoftwareDeviceKey,
    make_presentation,
)
from elicense.qr.mso import Element, HolderCredential, issue_holder_credential

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_TTL",
    "MAX_TTL",
    "PREFIX",
    "DeviceSigner",
    "Element",
    "HolderCredential",
    "Presentation",
    "SoftwareDeviceKey",
    "issue_holder_credential",
    "make_presentation",
]
