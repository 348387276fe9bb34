"""The verifier's view of revocation: verified status lists and CRLs. No IO here.

Built once from trust data (the offline bundle's status section) and the
:class:`~elicense.trust.store.TrustStore`: every list's signature, issuer binding,
bounds and sequence are checked at build time, every CRL's signature too, and
each trusted signing certificate's revocation is resolved to a time. Per
licence, :meth:`StatusStore.check_licence` and :meth:`StatusStore.check_chain`
are dictionary lookups and time comparisons (a few µs).

Rules (``specs/status-list.md``): a licence with a status index needs a fresh,
authentic list from its issuer, else INDETERMINATE; suspended / revoked /
superseded → INVALID with the reason; a signing certificate (or a CA above it)
revoked before the licence was signed → INVALID, after → still valid; a
chain whose CRLs are missing or stale → INDETERMINATE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from elicense.crypto.algorithms import Algorithm, verify_cose_signature
from elicense.crypto.pki import common_name_of
from elicense.errors import CryptoError, ElicenseError
from elicense.status.crl import IndexedCRL, RevokedCert, index_crl, load_crl
from elicense.status.reasons import ListState
from elicense.status.statuslist import SignedStatusList, StatusList, StatusListError, parse_status_list
from elicense.trust.store import TrustedAuthority, TrustedKey, TrustStore
from elicense.verdict.reasons import (
    LICENCE_ANNULLED,
    LICENCE_CANCELLED,
    LICENCE_REVOKED,
    LICENCE_SUPERSEDED,
    LICENCE_SUSPENDED,
    REVOCATION_STALE,
    REVOCATION_UNKNOWN,
    SIGNING_KEY_REVOKED,
    STATUS_INDEX_INVALID,
    STATUS_ROLLED_BACK,
    STATUS_STALE,
    STATUS_UNKNOWN,
)
from elicense.verdict.result import Reason

_BY_REASON = {
    "revoked": LICENCE_REVOKED,
    "cancelled": LICENCE_CANCELLED,
    "annulled": LICENCE_ANNULLED,
    "key_compromise": LICENCE_REVOKED,
    "suspended": LICENCE_SUSPENDED,
    "superseded": LICENCE_SUPERSEDED,
}


def _iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ChainRevocation:
    """Revocation facts for one trusted signing key's chain, resolved at build time."""

    revoked: tuple[tuple[str, RevokedCert], ...]
    """(certificate name, revocation) for each revoked certificate in the chain."""
    crls: tuple[IndexedCRL, ...]
    """The CRLs that cover the chain (for freshness)."""
    missing: tuple[str, ...]
    """Certificates whose issuer published no CRL here."""


@dataclass(frozen=True)
class StatusStore:
    """Verified status lists (by authority code) and CRLs; build with :meth:`build`."""

    lists: Mapping[str, StatusList]
    """The newest authentic list of each authority."""
    crls: tuple[IndexedCRL, ...] = ()
    """Verified CRLs."""
    chains: Mapping[x509.Certificate, ChainRevocation] = field(default_factory=dict, repr=False)
    """Revocation facts by signer certificate."""
    problems: tuple[str, ...] = ()
    """Lists or CRLs that were refused, and why."""
    check_certificates: bool = True
    """Whether CRLs are required for signer chains (off only with ``unsafe_skip_crls``)."""
    rolled_back: Mapping[str, str] = field(default_factory=dict)
    """Authority code → why its only lists were refused as rolled back (``status_list_rolled_back``)."""
    digests: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Authority code → SHA-256 (hex) of the content of the list in use (what a kiosk remembers)."""
    owners: Mapping[str, TrustedAuthority] = field(default_factory=dict, repr=False)
    """Authority code → the trust-list entry whose key signed the list in :attr:`lists`.

    A list is bound to the key that signed it, not to the code it names: it answers only for
    licences signed by a key of that same entry (:meth:`check_licence` with ``key``)."""
    by_owner: Mapping[TrustedAuthority, StatusList] = field(default_factory=dict, repr=False)
    """Trust-list entry → the newest list signed by one of its keys (every entry, also one sharing a code)."""
    _by_identity: dict[
        int, tuple[x509.Certificate, ChainRevocation | None, tuple[dt.datetime | None, dt.datetime | None] | None]
    ] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        trust: TrustStore,
        *,
        status_lists: Iterable[bytes] = (),
        crls: Iterable[bytes | x509.CertificateRevocationList] = (),
        known_sequences: Mapping[str, int] | None = None,
        unsafe_skip_crls: bool = False,
        known_digests: Mapping[str, str] | None = None,
    ) -> StatusStore:
        """Verify lists and CRLs against ``trust``; refused items are listed in :attr:`problems`.

        ``known_sequences`` (authority code → sequence already seen) refuses
        rolled-back lists; ``known_digests`` (authority → SHA-256 hex of the list
        seen at that sequence) also refuses a *different* list with the same
        sequence (equivocation). The result's :meth:`seen` is what to remember.
        """
        problems: list[str] = []
        indexed: list[IndexedCRL] = []
        cas = [c for k in _all_keys(trust) for c in k.chain.chain[1:]]
        wanted = {c.serial_number for k in _all_keys(trust) for c in k.chain.chain[:-1]}
        for item in crls:
            try:
                crl = item if isinstance(item, x509.CertificateRevocationList) else load_crl(item)
                ic = index_crl(crl, cas, serials=wanted)
            except ElicenseError as exc:
                problems.append(exc.message)
                continue
            indexed.append(ic)
        # keep only the newest CRL per issuing CA: its name AND key (a CA of another region with the same
        # name must not displace the genuine CA's CRL)
        newest: dict[tuple[x509.Name, bytes], IndexedCRL] = {}
        for ic in indexed:
            who = _ca_identity(ic.issuer)
            prev = newest.get(who)
            if prev is None or (ic.number or 0, ic.last_update) > (prev.number or 0, prev.last_update):
                newest[who] = ic
        crl_list = tuple(newest.values())
        chains = {k.certificate: _chain_facts(k, newest) for k in _all_keys(trust)}
        store = cls({}, crl_list, MappingProxyType(chains), (), not unsafe_skip_crls)
        lists: dict[str, StatusList] = {}
        digests: dict[str, str] = {}
        owners: dict[str, TrustedAuthority] = {}
        by_owner: dict[TrustedAuthority, tuple[StatusList, str]] = {}
        rolled_back: dict[str, str] = {}
        known = dict(known_sequences or {})
        seen_digests = dict(known_digests or {})
        for raw in status_lists:
            try:
                signed = parse_status_list(raw)
                owner = store._authenticate(signed, trust)
            except ElicenseError as exc:
                problems.append(exc.message)
                continue
            content = signed.content
            digest = hashlib.sha256(signed.message.payload).hexdigest()  # content: re-signing is not a change
            floor = known.get(content.issuer)
            why = None
            if floor is not None and content.sequence < floor:
                why = f"sequence {content.sequence} < {floor} already seen"
            elif floor is not None and content.sequence == floor and seen_digests.get(content.issuer, digest) != digest:
                why = f"sequence {content.sequence} seen before with different content"
            if why is not None:
                problems.append(f"status list of {content.issuer}: {why} (rollback)")
                rolled_back[content.issuer] = why
                continue
            held = by_owner.get(owner)
            if held is None or content.sequence > held[0].sequence:
                by_owner[owner] = (content, digest)
        first_owner: dict[str, TrustedAuthority] = {}
        for a in trust.authorities:  # the code's entry, for callers that name a code only
            first_owner.setdefault(a.code, a)
        for owner, (content, digest) in by_owner.items():
            if first_owner.get(owner.code, owner) == owner:
                lists[owner.code], digests[owner.code], owners[owner.code] = content, digest, owner
        for code in lists:
            rolled_back.pop(code, None)
        return cls(
            MappingProxyType(lists),
            crl_list,
            MappingProxyType(chains),
            tuple(problems),
            not unsafe_skip_crls,
            MappingProxyType(rolled_back),
            MappingProxyType(digests),
            MappingProxyType(owners),
            MappingProxyType({o: v[0] for o, v in by_owner.items()}),
        )

    def _authenticate(self, signed: SignedStatusList, trust: TrustStore) -> TrustedAuthority:
        """The list must be signed by a trusted key of the very authority it is about: that entry is returned."""
        msg, content = signed.message, signed.content
        alg = Algorithm.from_cose_id(msg.alg_id)
        tbs = msg.to_be_signed()
        for key in trust.candidates(msg.kid):
            if key.authority.code != content.issuer or key.algorithm is not alg:
                continue
            if not verify_cose_signature(key.public_key, alg, msg.signature, tbs):
                continue
            if not key.chain.valid_at(content.issued_at):
                raise StatusListError(f"status list of {content.issuer}: signing certificate not valid at issue time")
            if self.check_certificates and self._revoked_before(key, content.issued_at) is not None:
                raise StatusListError(f"status list of {content.issuer}: signed with a revoked certificate")
            return key.authority
        raise StatusListError(
            f"status list of {content.issuer}: signature does not verify with a key of that authority",
            message_zh="状态列表签名无效或签名者不是该发证机关",
            details={"attack": "signature"},
        )

    def _facts(self, cert: x509.Certificate) -> ChainRevocation | None:
        """``chains[cert]`` without hashing the certificate (~4 µs) on every verification (perf, #8).

        Keyed by object identity; the cached entry holds the certificate, so its id cannot be reused.
        """
        hit = self._by_identity.get(id(cert))
        if hit is not None and hit[0] is cert:
            return hit[1]
        facts = self.chains.get(cert)
        if len(self._by_identity) < 4096:
            # with the facts, when the chain has all its CRLs: the earliest revocation and the earliest next
            # update, so that check_chain's common answer is two comparisons
            summary = None
            if facts is not None and not facts.missing:
                summary = (
                    min((rev.effective for _, rev in facts.revoked), default=None),
                    min((crl.next_update for crl in facts.crls), default=None),
                )
            self._by_identity[id(cert)] = (cert, facts, summary)
        return facts

    def _revoked_before(self, key: TrustedKey, when: dt.datetime) -> tuple[str, RevokedCert] | None:
        facts = self.chains.get(key.certificate)
        if facts is None:
            return None
        for name, rev in facts.revoked:
            if rev.effective <= when:
                return name, rev
        return None

    def sequences(self) -> dict[str, int]:
        """Authority code → sequence in use (remember them to refuse rollback later)."""
        return {code: lst.sequence for code, lst in self.lists.items()}

    def seen(self) -> dict[str, tuple[int, str]]:
        """Authority code → (sequence, SHA-256 hex) of the list in use: a kiosk's memory."""
        return {code: (lst.sequence, self.digests.get(code, "")) for code, lst in self.lists.items()}

    # -- per verification ------------------------------------------------------------------

    def check_licence(
        self, issuer_code: str, status_index: int | None, at: dt.datetime, key: TrustedKey | None = None
    ) -> Sequence[Reason]:
        """Status of a licence whose signature already verified (empty: valid).

        ``key``: the trusted key that verified the licence. Only a list signed by a key of
        the same trust-list entry answers for it (a list is bound to its signer, not to the
        code it names). Without ``key`` the list of the code's entry is used.
        """
        if status_index is None:
            return ()
        lst = self.lists.get(issuer_code)
        if key is not None and (lst is None or self.owners.get(issuer_code) is not key.authority):
            lst = self.by_owner.get(key.authority)  # by value: the same entry rebuilt is the same entry
        if (  # hot path (#8): a fresh list, the index in range, its 2-bit entry 0 (ListState.VALID)
            lst is not None
            and at <= lst.next_update
            and 0 <= status_index < lst.size
            and not (lst.bits[status_index >> 2] >> (6 - ((status_index & 3) << 1))) & 3
        ):
            return ()
        if lst is None:
            if issuer_code in self.rolled_back:
                return (Reason.of(STATUS_ROLLED_BACK, self.rolled_back[issuer_code]),)
            return (Reason.of(STATUS_UNKNOWN, issuer_code),)
        if at > lst.next_update:
            return (Reason.of(STATUS_STALE, f"next update {_iso(lst.next_update)}"),)
        if status_index >= lst.size:
            return (Reason.of(STATUS_INDEX_INVALID, f"{status_index} ≥ {lst.size}"),)
        state = lst.state(status_index)
        if state is ListState.VALID:
            return ()
        detail = lst.detail(status_index)
        assert detail is not None
        if detail.since is not None and at < detail.since:
            return ()  # verifying as of a time before the change took effect
        code = _BY_REASON.get(detail.reason.key, LICENCE_REVOKED)
        text = f"{detail.reason.zh}/{detail.reason.key}"
        if detail.since is not None:
            text += f", since {_iso(detail.since)}"
        if detail.successor:
            text += f", successor {detail.successor}"
        return (Reason.of(code, text),)

    def check_chain(self, key: TrustedKey, signed_at: dt.datetime, at: dt.datetime) -> Sequence[Reason]:
        """Revocation of the signer certificate chain, judged at the licence's signing time."""
        if not self.check_certificates:
            return ()
        cert = key.chain.certificate
        hit = self._by_identity.get(id(cert))
        if hit is not None and hit[0] is cert and hit[2] is not None:  # hot path (#8), as the loops below
            first_revoked, next_update = hit[2]
            if (first_revoked is None or signed_at < first_revoked) and (next_update is None or at <= next_update):
                return ()
        facts = self._facts(cert)
        if facts is None:
            return (Reason.of(REVOCATION_UNKNOWN, "signing certificate not in the status data"),)
        for name, rev in facts.revoked:
            if rev.effective <= signed_at:
                return (Reason.of(SIGNING_KEY_REVOKED, f"{name}: {rev.reason} since {_iso(rev.effective)}"),)
        if facts.missing:
            return (Reason.of(REVOCATION_UNKNOWN, ", ".join(facts.missing)),)
        for crl in facts.crls:
            if at > crl.next_update:
                return (Reason.of(REVOCATION_STALE, f"next update {_iso(crl.next_update)}"),)
        return ()


def _all_keys(trust: TrustStore) -> list[TrustedKey]:
    return [k for keys in trust.keys.values() for k in keys]


def _ca_identity(ca: x509.Certificate) -> tuple[x509.Name, bytes]:
    """A CA as a CRL issuer: its name and its key (never the name alone)."""
    try:
        spki = ca.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # a key cryptography cannot load (SM2 curve)
        from elicense.crypto.sm2 import Sm2PublicKey, is_sm2_certificate  # SM2 CAs only (off the ES256 verify path)

        try:
            spki = Sm2PublicKey.from_certificate(ca).spki() if is_sm2_certificate(ca) else b""
        except CryptoError:
            spki = b""
        spki = spki or ca.public_bytes(serialization.Encoding.DER)
    return ca.subject, spki


def _chain_facts(key: TrustedKey, crls: Mapping[tuple[x509.Name, bytes], IndexedCRL]) -> ChainRevocation:
    revoked: list[tuple[str, RevokedCert]] = []
    used: list[IndexedCRL] = []
    missing: list[str] = []
    chain = key.chain.chain
    for cert, issuer in itertools.pairwise(chain):  # every certificate but the anchor
        crl = crls.get(_ca_identity(issuer))
        if crl is None or _ca_identity(crl.issuer) != _ca_identity(issuer):
            missing.append(common_name_of(cert))
            continue
        used.append(crl)
        rev = crl.lookup(cert.serial_number)
        if rev is not None:
            revoked.append((common_name_of(cert), rev))
    revoked.sort(key=lambda x: x[1].effective)
    return ChainRevocation(tuple(revoked), tuple(used), tuple(missing))
