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
from elicense.trust.common import TrustListConflict

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
        unsafe_allow_shared_identities: bool = False,
    ) -> TrustStore:
        """Validate every signer chain against ``roots`` and index keys by kid.

        With ``strict`` a certificate that does not chain is a :class:`TrustError`;
        otherwise it is left out and listed in :attr:`problems`. Two entries with one
        authority code or one certificate key id are a :class:`TrustListConflict`
        (:func:`check_identities`); ``unsafe_allow_shared_identities`` skips that (tests of
        the defences behind it only).
        """
        if not roots:
            raise TrustError("trust data has no trust anchors", message_zh="信任数据缺少信任锚")
        authorities = list(authorities)
        if not unsafe_allow_shared_identities:
            check_identities((a.region, a.code, a.name, certs) for a, certs in authorities)
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


def check_identities(entries: Iterable[tuple[str, str, str, Sequence[x509.Certificate]]]) -> None:
    """Refuse trust data where two regions list one authority code, or a certificate (key id) appears twice.

    ``entries``: (listing region, authority code, authority name, its certificates). A region that repeats another
    region's authority code could publish status lists for that code or sign licences with
    its ids; one that re-lists another region's certificate would take over the attribution
    of that region's licences. One line names both regions.
    """
    codes: dict[str, tuple[str, str]] = {}
    kids: dict[bytes, tuple[str, str]] = {}
    for region, code, name, certs in entries:
        prev = codes.setdefault(code, (region, name))
        if prev[0] != region:  # the same region may list one authority twice (e.g. a P-256 and an SM2 entry)
            raise TrustListConflict(
                f"authority code {code} is listed by region {prev[0]} ({prev[1]}) and again by region "
                f"{region} ({name}): trust data refused",
                message_zh=f"发证机关代码 {code} 同时出现在地区 {prev[0]}（{prev[1]}）与地区 {region}"
                f"（{name}）的信任列表中，拒绝该信任数据",
                details={"code": code, "regions": [prev[0], region]},
            )
        for cert in certs:
            kid = key_id(cert)
            first = kids.get(kid)
            if first is not None:
                raise TrustListConflict(
                    f"certificate {kid.hex()} is listed by region {first[0]} ({first[1]}) and again by region {region} "
                    f"({name}): trust data refused",
                    message_zh=f"证书 {kid.hex()} 同时被地区 {first[0]}（{first[1]}）与地区 {region}（{name}）列入，"
                    f"拒绝该信任数据",
                    details={"kid": kid.hex(), "regions": [first[0], region]},
                )
            kids[kid] = (region, name)
