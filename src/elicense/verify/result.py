"""The verdict vocabulary's former home: :mod:`elicense.verdict` (the ground floor) holds it now.

These names stay importable from here for callers of ``elicense.verify.result``.
"""

from elicense.verdict.reasons import REASONS, CheckOutcome, ReasonCode, Status, decode_reason, worst
from elicense.verdict.result import Check, Reason, VerificationResult, passed

__all__ = [
    "REASONS",
    "Check",
    "CheckOutcome",
    "Reason",
    "ReasonCode",
    "Status",
    "VerificationResult",
    "decode_reason",
    "passed",
    "worst",
]
