"""What the checks see and what a carrier may ask of the verifier: protocols, no implementation.

The ``Verifier`` (:mod:`elicense.verify.verifier`) sits above the carriers (PDF, OFD, seal,
presentation) and hands itself to them as a :class:`LicenceVerifier`; a carrier extracts and
checks its own container and asks this protocol to verify the licence payload it found, so no
carrier imports the ``Verifier``. Policies (:mod:`elicense.trust.policy`) and status sources
(:mod:`elicense.status.store`) implement the protocols here, again without importing it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from elicense.catalog import LicenceType
    from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
    from elicense.present.verify import ReplayCache
    from elicense.qr.claims import LicenceClaims
    from elicense.trust.bundle import Bundle
    from elicense.trust.store import TrustedKey, TrustStore
    from elicense.verdict.result import Check, Reason, VerificationResult

Clock = Callable[[], dt.datetime]
"""A source of the current (UTC) time; tests inject one."""


@dataclass(frozen=True)
class VerificationContext:
    """What a policy sees: claims whose signature has verified, and the trusted key."""

    claims: LicenceClaims
    """The signed claims."""
    key: TrustedKey
    """The trusted key that verified the signature."""
    at: dt.datetime
    """Verification time (UTC)."""
    licence_type: LicenceType | None
    """Catalogue entry, if the type is known."""
    trust: TrustStore
    """The trust store in use."""


class StatusSource(Protocol):
    """Revocation data (``elicense.status.store.StatusStore``): status lists and CRLs from trust data."""

    def check_licence(
        self, issuer_code: str, status_index: int | None, at: dt.datetime, key: TrustedKey | None = None
    ) -> Sequence[Reason]:
        """Reasons the licence's status is not valid (empty: valid); only lists signed for ``key``'s entry count."""

    def check_chain(self, key: TrustedKey, signed_at: dt.datetime, at: dt.datetime) -> Sequence[Reason]:
        """Reasons the signer chain was revoked at signing time, or cannot be checked."""


class Policy(Protocol):
    """A small, composable acceptance rule run after the built-in checks."""

    @property
    def name(self) -> str:
        """Check name reported in the result."""

    def evaluate(self, context: VerificationContext) -> Sequence[Reason]:
        """Reasons to refuse (empty: accept)."""


class LicenceVerifier(Protocol):
    """What a carrier uses of the :class:`~elicense.verify.Verifier`: its trust, allow-list and clock, and
    the verification of the licence payload (or the issuer-signed part of a presentation) it extracted."""

    trust: TrustStore
    """The trust store in use."""
    algorithms: AlgorithmPolicy
    """The signature-algorithm allow-list."""
    bundle: Bundle | None
    """The signed offline bundle the trust came from (its ``seal_makers`` section), if any."""
    clock: Clock
    """The clock used when no ``at`` is given."""
    replay_cache: ReplayCache | None
    """Presentation ids seen (made on first use)."""

    def verify(self, payload: str | bytes, *, at: dt.datetime | None = None) -> VerificationResult:
        """Verify a licence QR payload (``EL2:``); never raises for a failed check."""

    def verify_signed(
        self,
        kid: bytes,
        alg: Algorithm,
        tbs: bytes,
        signature: bytes,
        payload: bytes,
        when: dt.datetime,
        checks: list[Check],
    ) -> VerificationResult:
        """The checks after decoding: trusted key by ``kid``, signature over ``tbs``, then the claims."""
