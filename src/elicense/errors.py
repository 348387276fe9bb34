"""One base exception, typed subclasses.

Every error raised on bad *input* is an :class:`ElicenseError` subclass, so a
caller (and the CLI) can catch one type and show one clear line. Errors carry
a machine-readable ``code`` and optional ``details`` for diagnostics; the
message is English, ``message_zh`` is the Chinese text where one is known.

A failed *check* during verification is not an exception: ``Verifier.verify``
returns a result. These exceptions are for malformed input, misuse and
broken configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elicense.verdict.result import VerificationResult


class ElicenseError(Exception):
    """Base of every error this library raises on purpose."""

    code: str = "error"
    """Stable machine-readable identifier of the error class."""

    def __init__(
        self,
        message: str,
        *,
        message_zh: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh
        self.details: dict[str, Any] = dict(details or {})

    def localized(self, lang: str = "en") -> str:
        """The message in ``lang`` (``zh`` or ``en``), falling back to English."""
        if lang == "zh" and self.message_zh:
            return self.message_zh
        return self.message


class UsageError(ElicenseError):
    """The API or CLI was called wrongly (naive datetime, no trust given, ...)."""

    code = "usage"


class IdentifierError(ElicenseError):
    """An identifier (licence id, USCC, resident id, area code) is malformed.

    ``details["part"]`` names the part that is wrong (``check_char``,
    ``type_code``, ``area_code``, ``org_code_check``, ``length``, ...).
    """

    code = "identifier"

    @property
    def part(self) -> str | None:
        """Which part of the identifier is wrong, when known."""
        part = self.details.get("part")
        return str(part) if part is not None else None


class CatalogError(ElicenseError):
    """The licence-type catalogue is invalid, or a type is unknown."""

    code = "catalog"


class LicenceDataError(ElicenseError):
    """Licence data do not conform to the model or to the catalogue."""

    code = "licence_data"


class CryptoError(ElicenseError):
    """Keys, certificates or algorithms are unusable (wrong passphrase, bad PEM, ...)."""

    code = "crypto"


class AlgorithmNotAllowed(CryptoError):
    """The algorithm is not on the caller's allow-list."""

    code = "algorithm_not_allowed"


class PayloadError(ElicenseError):
    """A QR payload could not be decoded (before any signature check)."""

    code = "payload"


class PayloadTooLarge(PayloadError):
    """A decode step would exceed its bound (input, decompressed size, depth)."""

    code = "payload_too_large"


class TrustError(ElicenseError):
    """Trust data (trust file, bundle, list) is unreadable, invalid or inconsistent."""

    code = "trust"


class InputError(ElicenseError):
    """An input file is unreadable or of an unknown kind (no QR found, ...)."""

    code = "input"


class StorageError(ElicenseError):
    """The registry / home directory cannot be read or written."""

    code = "storage"


class VerificationFailed(ElicenseError):
    """Raised by ``VerificationResult.raise_for_status`` for a non-VALID result."""

    code = "verification_failed"

    def __init__(self, result: VerificationResult) -> None:
        status = result.status.value
        reasons = ", ".join(r.code for r in result.reasons)
        super().__init__(
            f"licence is {status}: {reasons or 'no reason given'}",
            message_zh=f"证照校验未通过（{status}）：{reasons or '无原因'}",
        )
        self.result = result
