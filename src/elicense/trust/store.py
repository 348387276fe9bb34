"""The trust core: who may sign which licences, with which keys. No IO here.

A :class:`TrustStore` is built from trust data (the demo trust file today,
signed trust lists and the offline bundle later) and validates every signer
chain **once**, at construction; per-licence checks are dictionary lookups
and time comparisons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509

from elicense.basics import require_utc
from elicense.crypto.algorithms import Algorithm, PublicKey
from elicense.crypto.keys import key_id
from elicense.crypto.pki import ValidatedChain, algorithm_of, public_key_of, validate_chain
from elicense.errors import TrustError

if TYPE_CHECKING:
    from elicense.crypto.sm2 import Sm2PublicKey


@dataclass(frozen=True)
class TrustedAuthority:
    """An issuing authority as the trust data describes it."""

    name: str
    """Official name (zh)."""
    code: str
    """USCC (or area code) — must equal the issuer code in licence ids it signs."""
    area_code: str
    """GB/T 2260 code of the area it serves."""
    licence_types: frozenset[str] = frozenset()
    """Type codes it is authorised to issue; empty means none."""
    authorised_from: dt.datetime | None = None
    """Start of its authorisation (licences signed before are not accepted)."""
    withdrawn_at: dt.datetime | None = None
    """End of its authorisation: licences signed after are not accepted, earlier ones stay valid."""
    history: tuple[tuple[str, dt.datetime], ...] = ()
    """Status history from a trust list, oldest first: ``("granted"|"withdrawn", from)``.

    When present it decides authorisation at signing time (a withdrawal does not
    invalidate what was signed before it; a later grant restores the authority)."""

    @property
    def region(self) -> str:
        """Province-level code (the mutual-recognition region)."""
        return self.area_code[:2] + "0000"

    def status_at(self, when: dt.datetime) -> str | None:
        """``granted`` / ``withdrawn`` per :attr:`history` at ``when``; ``None`` before the first entry."""
        state: str | None = None
        for status, since in self.history:
            if since > when:
                break
            state = status
        return state


@dataclass(frozen=True)
class TrustedKey:
    """One signing certificate of an authority, its chain already validated."""

    kid: bytes
    """Key id (8 bytes of SHA-256 of the certificate)."""
    chain: ValidatedChain
    """The validated chain (leaf first)."""
    authority: TrustedAuthority
    """The authority this key signs for."""
    algorithm: Algorithm
    """Algorithm implied by the key type."""
    public_key: PublicKey | Sm2PublicKey = field(repr=False)
    """The key itself (an :class:`~elicense.crypto.sm2.Sm2PublicKey` for SM2 authorities)."""

    @property
    def certificate(self) -> x509.Certificate:
        """The signer certificate."""
        return self.chain.certificate


@dataclass(frozen=True)
class TrustStore:
    """Validated trust data; build with :meth:`build`."""

    roots: tuple[x509.Certificate, ...]
    """Trust anchors."""
    keys: Mapping[bytes, tuple[TrustedKey, ...]]
    """Signing keys by kid (several certificates may share a kid)."""
    authorities: tuple[TrustedAuthority, ...]
    """All authorities."""
    issued_at: dt.datetime | None = None
    """When the trust data was produced."""
    next_update: dt.datetime | None = None
    """After this instant the trust data is stale: results become INDETERMINATE."""
    problems: tuple[str, ...] = ()
    """Certificates that were skipped (did not chain, unsupported key, ...)."""

    @classmethod
    def build(
        cls,
        *,
        roots: Sequence[x509.Certificate],
        authorities: Iterable[tuple[TrustedAuthority, Sequence[x509.Certificate]]],
        intermediates: Sequence[x509.Certificate] = (),
        issued_at: dt.datetime | None = None,
        next_update: dt.datetime | None = None,
        strict: bool = True,
    ) -> TrustStore:
        """Validate every signer chain against ``roots`` and index keys by kid.

        With ``strict`` a certificate that does not chain is a :class:`TrustError`;
        otherwise it is left out and listed in :attr:`problems`.
        """
        if not roots:
            raise TrustError("trust data has no trust anchors", message_zh="信任数据缺少信任锚")
        index: dict[bytes, list[TrustedKey]] = {}
        auths: list[TrustedAuthority] = []
        problems: list[str] = []
        for authority, certificates in authorities:
            auths.append(authority)
            for cert in certificates:
                try:
                    chain = validate_chain(cert, roots=roots, intermediates=intermediates)
                    key = TrustedKey(
                        kid=key_id(cert),
                        chain=chain,
                        authority=authority,
                        algorithm=algorithm_of(cert),
                        public_key=public_key_of(cert),
                    )
                except TrustError as exc:
                    if strict:
                        raise
                    problems.append(str(exc))
                    continue
                except Exception as exc:  # unsupported key types etc.
                    if strict:
                        raise TrustError(f"unusable certificate for {authority.name}: {exc}") from exc
                    problems.append(f"{authority.name}: {exc}")
                    continue
                index.setdefault(key.kid, []).append(key)
        return cls(
            roots=tuple(roots),
            keys={k: tuple(v) for k, v in index.items()},
            authorities=tuple(auths),
            issued_at=require_utc(issued_at, "issued_at") if issued_at else None,
            next_update=require_utc(next_update, "next_update") if next_update else None,
            problems=tuple(problems),
        )

    def candidates(self, kid: bytes) -> tuple[TrustedKey, ...]:
        """Every trusted key with this kid (ids can collide: try them all)."""
        return self.keys.get(kid, ())

    def is_stale(self, at: dt.datetime) -> bool:
        """Whether ``at`` is past the trust data's next update."""
        return self.next_update is not None and at > self.next_update
