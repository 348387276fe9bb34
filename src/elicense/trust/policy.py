"""Mutual recognition as a verifier :class:`~elicense.verify.verifier.Policy`.

A relying region (the counter or kiosk's province) accepts a licence when it was
issued in its own region, or when a recognition agreement of the national list
says "``relying`` accepts these types from ``issuing``". Type codes are compared
through the national list's equivalence classes, since regions may code the same
licence differently. The policy comes from the trust data (never from the
licence); the reason codes it and the trust core report are in `elicense.verdict.reasons`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from elicense.errors import UsageError
from elicense.verdict.reasons import NOT_RECOGNISED
from elicense.verdict.result import Reason

if TYPE_CHECKING:
    from elicense.trust.lists import Agreement
    from elicense.verdict.context import VerificationContext


def _region_code(code: str) -> str:
    if len(code) != 6 or not code.isdigit() or not code.endswith("0000") or code == "000000":
        raise UsageError(
            f"expected a province-level region code like 370000, got {code!r}",
            message_zh=f"地区代码应为省级代码（如 370000）：{code!r}",
        )
    return code


@dataclass(frozen=True)
class Recognition:
    """The recognition policy of one relying region."""

    relying_region: str
    """Province-level code of the region the verifier acts for."""
    accepted: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Issuing region → accepted type codes (in the relying region's coding)."""
    equivalences: tuple[frozenset[str], ...] = ()
    """Classes of equivalent type codes."""
    name: str = "recognition"
    """Check name in the result."""

    @classmethod
    def from_agreements(
        cls,
        relying_region: str,
        agreements: Iterable[Agreement],
        equivalences: Sequence[frozenset[str]] = (),
    ) -> Recognition:
        """Collect the agreements whose relying region is ``relying_region``."""
        relying_region = _region_code(relying_region)
        accepted: dict[str, set[str]] = {}
        for ag in agreements:
            if ag.relying == relying_region:
                accepted.setdefault(ag.issuing, set()).update(ag.licence_types)
        return cls(relying_region, {k: frozenset(v) for k, v in accepted.items()}, tuple(equivalences))

    def equivalent(self, type_code: str) -> frozenset[str]:
        """``type_code`` and every code declared equivalent to it."""
        out = {type_code}
        for eq in self.equivalences:
            if type_code in eq:
                out |= eq
        return frozenset(out)

    def recognises(self, issuing_region: str, type_code: str) -> bool:
        """Whether a licence of ``type_code`` issued in ``issuing_region`` is accepted here."""
        if issuing_region == self.relying_region:
            return True
        accepted = self.accepted.get(issuing_region, frozenset())
        return not accepted.isdisjoint(self.equivalent(type_code))

    def evaluate(self, context: VerificationContext) -> Sequence[Reason]:
        """Refuse what no agreement covers (the issuing region is the signer's, not the claim's)."""
        issuing = context.key.authority.region
        if self.recognises(issuing, context.claims.type_code):
            return ()
        return (Reason.of(NOT_RECOGNISED, f"{context.claims.type_code} from {issuing} in {self.relying_region}"),)
