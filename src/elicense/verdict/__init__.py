"""The verdict vocabulary, on the ground floor: outcomes, reason codes, checks, the frozen result, and the
protocols the verifier, its carriers, policies and status sources share.

It imports nothing above the model at run time, so every layer (status, trust, seal, PDF, OFD,
presentations) can speak it without importing the :class:`~elicense.verify.Verifier`.
"""

from elicense.verdict.context import Clock, LicenceVerifier, Policy, StatusSource, VerificationContext
from elicense.verdict.reasons import REASONS, CheckOutcome, ReasonCode, Status, decode_reason, worst
from elicense.verdict.result import Check, Reason, VerificationResult, passed

__all__ = [
    "REASONS",
    "Check",
    "CheckOutcome",
    "Clock",
    "LicenceVerifier",
    "Policy",
    "Reason",
    "ReasonCode",
    "Status",
    "StatusSource",
    "VerificationContext",
    "VerificationResult",
    "decode_reason",
    "passed",
    "worst",
]
