"""Revocation reasons (zh/en) and the 2-bit states of a status list.

One table, used by the lifecycle (issuer side), the status-list format and the
verifier, so a reason has the same code and wording everywhere. Codes are a
public contract (they are written into signed status lists): add, never renumber.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from elicense.errors import UsageError


class ListState(enum.IntEnum):
    """The 2-bit value of one status-list entry."""

    VALID = 0
    """Not suspended, revoked or superseded (also: index not in use)."""
    SUSPENDED = 1
    """暂扣: temporarily not valid; may be reinstated."""
    REVOKED = 2
    """吊销 / 注销 / 撤销: permanently not valid."""
    SUPERSEDED = 3
    """变更 / 换发: replaced by a newer licence (permanently not valid)."""


@dataclass(frozen=True)
class RevocationReason:
    """A reason an issuer gives for a status change."""

    number: int
    """Code written into status lists (stable)."""
    key: str
    """Stable text code (CLI ``--reason``, JSON)."""
    state: ListState
    """The list state this reason produces."""
    zh: str
    """Chinese term."""
    en: str
    """English term."""


_ALL = (
    RevocationReason(1, "revoked", ListState.REVOKED, "吊销", "revoked (administrative penalty)"),
    RevocationReason(2, "cancelled", ListState.REVOKED, "注销", "cancelled (deregistered)"),
    RevocationReason(3, "annulled", ListState.REVOKED, "撤销", "annulled (issued in error)"),
    RevocationReason(4, "key_compromise", ListState.REVOKED, "签名密钥泄露", "signing key compromised"),
    RevocationReason(10, "suspended", ListState.SUSPENDED, "暂扣", "suspended"),
    RevocationReason(20, "superseded", ListState.SUPERSEDED, "变更/换发", "superseded by a new licence"),
)
REASONS_BY_NUMBER = {r.number: r for r in _ALL}
"""Reasons by list code."""
REASONS_BY_KEY = {r.key: r for r in _ALL}
"""Reasons by text code."""
REVOCATION_REASONS = tuple(r.key for r in _ALL if r.state is ListState.REVOKED)
"""Text codes accepted by ``revoke``."""
DEFAULT_REASON = {
    ListState.SUSPENDED: REASONS_BY_KEY["suspended"],
    ListState.REVOKED: REASONS_BY_KEY["revoked"],
    ListState.SUPERSEDED: REASONS_BY_KEY["superseded"],
}
"""Reason assumed when a list entry carries no detail."""


def reason(key: str) -> RevocationReason:
    """Look a reason up by its text code (``revoked``, ``cancelled``, 吊销, ...)."""
    value = key.strip()
    found = REASONS_BY_KEY.get(value.lower())
    if found is None:
        found = next((r for r in _ALL if r.zh == value), None)
    if found is None:
        raise UsageError(
            f"unknown reason {key!r} (known: {', '.join(REASONS_BY_KEY)})",
            message_zh=f"未知原因 {key!r}（可用：{'、'.join(r.zh for r in _ALL)}）",
        )
    return found
