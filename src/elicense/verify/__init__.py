"""Verification: the :class:`Verifier` and its frozen :class:`VerificationResult`."""

from elicense.verdict import (
    REASONS,
    Check,
    CheckOutcome,
    Policy,
    Reason,
    Status,
    VerificationContext,
    VerificationResult,
)
from elicense.verify.verifier import AcceptRegions, UnsafeNoOp, Verifier

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
