"""What reading a signed trust bundle needs from the trust-list model, without the XML model's classes.

:mod:`elicense.trust.lists` re-exports all of it (import from there). It lives apart so that
``elicense verify`` with an offline bundle defines only the classes it uses: each frozen
dataclass costs about a millisecond of the CLI's cold start (#8).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from elicense.basics import require_utc
from elicense.crypto.pki import OID_EKU_TRUST_LIST_SIGNING, ValidatedChain, validate_chain
from elicense.errors import TrustError


class TrustSignatureInvalid(TrustError):
    """A trust list or bundle is not authentic: bad signature, wrong signer, wrapped XML."""

    code = "trust_signature_invalid"


class TrustRollback(TrustError):
    """Trust data is older than (or as old as) what is already installed."""

    code = "trust_rollback"


class TrustListConflict(TrustError):
    """Trust data where one region claims another's identity: a repeated authority code or certificate,
    an authority outside its region's area, or a certificate that chains through another region's CA."""

    code = "trust_list_conflict"


class TrustNotPinned(TrustSignatureInvalid):
    """A bundle not under the root pinned in the verifier state (re-pin with ``elicense trust pin``)."""

    code = "trust_not_pinned"


@dataclass(frozen=True)
class Agreement:
    """A recognition agreement: ``relying`` accepts these types from ``issuing``."""

    relying: str
    """Relying (verifying) region code."""
    issuing: str
    """Issuing region code."""
    licence_types: frozenset[str]
    """Accepted type codes, in the relying region's coding."""


def iso(when: dt.datetime) -> str:
    """UTC ISO-8601 with ``Z`` (the only time form in the lists)."""
    return require_utc(when, "time").astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def validate_list_signer(
    cert: x509.Certificate,
    *,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
) -> ValidatedChain:
    """Chain a list signer to the roots with the trust-list-signing EKU (else TrustSignatureInvalid)."""
    try:
        return validate_chain(cert, roots=roots, intermediates=intermediates, eku=OID_EKU_TRUST_LIST_SIGNING)
    except TrustError as exc:
        raise TrustSignatureInvalid(
            f"trust list signer is not a trust-list signer under the trust anchor: {exc.message}",
            message_zh="信任列表签名证书未链接到信任锚或无信任列表签名用途",
        ) from exc


def read_limited(path: Path, limit: int, what: str, what_zh: str) -> bytes:
    """At most ``limit + 1`` bytes of a trust file (the parser refuses the extra byte as too large).

    Unreadable → :class:`TrustError` naming ``what`` (``trust file``, ``trust bundle``).
    """
    try:
        with path.open("rb") as fh:
            return fh.read(limit + 1)
    except OSError as exc:
        raise TrustError(f"cannot read {what} {path}: {exc.strerror}", message_zh=f"无法读取{what_zh} {path}") from exc
