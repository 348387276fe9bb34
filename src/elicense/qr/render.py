"""QR image rendering (segno: pure Python, writes PNG without Pillow).

Alphanumeric mode, error correction M, as ``specs/qr-payload.md`` requires.
"""

from __future__ import annotations

import io

import segno

from elicense.errors import PayloadError

ERROR_CORRECTION = "M"


def make_qr(text: str):  # type: ignore[no-untyped-def]
    """A segno QR code for an ``EL2:`` payload (alphanumeric mode, ECC M, no boost)."""

    try:
        return segno.make_qr(text, error=ERROR_CORRECTION, mode="alphanumeric", boost_error=False)
    except (segno.DataOverflowError, ValueError) as exc:
        raise PayloadError(f"payload does not fit a QR code: {exc}") from exc


def qr_version(text: str) -> int:
    """QR version (1–40) the payload needs at error correction M."""
    return int(make_qr(text).version)


def qr_png(text: str, *, scale: int = 6, border: int = 4) -> bytes:
    """PNG bytes of the QR code (``scale`` pixels per module, quiet zone ``border``)."""
    out = io.BytesIO()
    make_qr(text).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()
