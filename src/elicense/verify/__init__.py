"""Verification: the :class:`Verifier` and its frozen :class:`VerificationResult`."""

from elicense.verify.result import (
    REASONS,
    Check,
    CheckOutcome,
    Reason,
    Status,
    VerificationResult,
)
from elicense.verify.verifier import (
    AcceptRegions,
    Policy,
    UnsafeNoOp,
    VerificationContext,
    Verifier,
)

__all__ = [
    "REASONS",
    "AcceptRegions",
    "Check",
    "CheckOutcome",
    "Policy",
    "Reason",
    "Status",
    "UnsafeNoOp",
    "VerificationContext",
    "VerificationResult",
    "Verifier",
]
