"""X.509 CRLs for each CA level: built in O(n), parsed with bounds, indexed once.

``cryptography``'s ``CertificateRevocationListBuilder.add_revoked_certificate``
returns a new builder holding a copy of the list each time, so a loop is
quadratic (11 s for 100k entries). We build the revoked-certificate list once
and pass it as ``revoked_certificates=`` (``benchmarks/bench_status.py``
measures both). Lookups go through our own ``serial → entry`` index; the
library's ``get_revoked_certificate_by_serial_number`` is a linear scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from elicense.basics import require_utc
from elicense.crypto.algorithms import PrivateKey
from elicense.errors import ElicenseError, UsageError

MAX_CRL_BYTES = 64 * 1024 * 1024
"""Largest CRL accepted (a million entries is ~40 MB)."""
DEFAULT_CRL_VALIDITY = dt.timedelta(days=7)
MAX_TARGETED_LOOKUPS = 16
"""Up to this many wanted serials, look each up instead of indexing the whole CRL."""
"""Default nextUpdate distance."""

CRL_REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
}
"""Reason names accepted for certificate revocation (RFC 5280 CRLReason)."""


class CRLError(ElicenseError):
    """A CRL is malformed, oversized or not signed by its CA."""

    code = "crl"


@dataclass(frozen=True)
class RevokedCert:
    """A certificate revocation to publish."""

    serial: int
    """Serial number of the revoked certificate."""
    revoked_at: dt.datetime
    """Revocation date (UTC)."""
    reason: str = "unspecified"
    """Key of :data:`CRL_REASONS`."""
    invalid_since: dt.datetime | None = None
    """RFC 5280 invalidityDate: when the key is known or suspected to have been compromised."""

    @property
    def effective(self) -> dt.datetime:
        """From when signatures are no longer trusted: invalidity date, else revocation date."""
        return self.invalid_since if self.invalid_since is not None else self.revoked_at


def _entry(r: RevokedCert) -> x509.RevokedCertificate:
    if r.reason not in CRL_REASONS:
        raise UsageError(f"unknown certificate revocation reason {r.reason!r} (known: {', '.join(CRL_REASONS)})")
    exts: list[x509.Extension[x509.ExtensionType]] = []
    if r.reason != "unspecified":  # RFC 5280: omit reasonCode rather than use unspecified
        reason_ext = x509.CRLReason(CRL_REASONS[r.reason])
        exts.append(x509.Extension(reason_ext.oid, False, reason_ext))
    if r.invalid_since is not None:
        inv = x509.InvalidityDate(require_utc(r.invalid_since).replace(tzinfo=None))
        exts.append(x509.Extension(inv.oid, False, inv))
    return x509.RevokedCertificateBuilder(r.serial, require_utc(r.revoked_at), exts).build()


def build_crl(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    revoked: Iterable[RevokedCert],
    *,
    last_update: dt.datetime,
    next_update: dt.datetime | None = None,
    number: int,
) -> x509.CertificateRevocationList:
    """Sign a CRL for ``ca_cert`` in one pass over ``revoked`` (O(n))."""
    last_update = require_utc(last_update, "last_update").replace(microsecond=0)
    entries = [_entry(r) for r in revoked]
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=ca_cert.subject,
        last_update=last_update,
        next_update=require_utc(next_update or last_update + DEFAULT_CRL_VALIDITY, "next_update"),
        extensions=[
            x509.Extension(ExtensionOID.CRL_NUMBER, False, x509.CRLNumber(number)),
            x509.Extension(
                ExtensionOID.AUTHORITY_KEY_IDENTIFIER, False,
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            ),
        ],
        revoked_certificates=entries,
    )  # fmt: skip
    algorithm = None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(ca_key, algorithm)


def build_crl_quadratic(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    revoked: Iterable[RevokedCert],
    *,
    last_update: dt.datetime,
    next_update: dt.datetime,
) -> x509.CertificateRevocationList:
    """The naive ``add_revoked_certificate`` loop — for the benchmark only."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(last_update)
        .next_update(next_update)
    )
    for r in revoked:
        builder = builder.add_revoked_certificate(_entry(r))
    return builder.sign(ca_key, hashes.SHA256())


@dataclass(frozen=True)
class IndexedCRL:
    """A CRL whose signature was checked against its CA, with a serial index."""

    crl: x509.CertificateRevocationList = field(repr=False)
    """The CRL."""
    issuer: x509.Certificate = field(repr=False)
    """The CA that signed it."""
    last_update: dt.datetime
    """thisUpdate (UTC)."""
    next_update: dt.datetime
    """nextUpdate (UTC); past it the CRL is stale."""
    number: int | None
    """cRLNumber: a lower one than already seen is a rollback."""
    revoked: Mapping[int, RevokedCert] = field(repr=False)
    """Revoked certificates by serial."""

    def lookup(self, serial: int) -> RevokedCert | None:
        """The revocation of ``serial``, if any (dict lookup)."""
        return self.revoked.get(serial)

    def is_stale(self, at: dt.datetime) -> bool:
        """Whether ``at`` is past nextUpdate."""
        return at > self.next_update


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """Parse a DER (or PEM) CRL, bounded."""
    if len(data) > MAX_CRL_BYTES:
        raise CRLError("CRL too large", message_zh="证书吊销列表过大")
    try:
        pem = data.lstrip().startswith(b"-----BEGIN")
        crl = x509.load_pem_x509_crl(data) if pem else x509.load_der_x509_crl(data)
        # parsed lazily by cryptography (fuzz finding): fail here, typed; entries are read only once signed
        _ = (crl.issuer, crl.extensions, crl.last_update_utc, crl.next_update_utc)
    except (ValueError, TypeError, x509.InvalidVersion, x509.DuplicateExtension,
            x509.UnsupportedGeneralNameType) as exc:
        raise CRLError(f"not a valid CRL: {exc}", message_zh="证书吊销列表格式错误") from exc
    return crl


def index_crl(
    crl: x509.CertificateRevocationList,
    issuers: Iterable[x509.Certificate],
    *,
    serials: Collection[int] | None = None,
) -> IndexedCRL:
    """Find the CA among ``issuers`` that signed ``crl``, check the signature, index the entries.

    With ``serials`` (the certificates a trust store actually holds) and few of them,
    only those are looked up: one scan in Rust each instead of a Python pass over a
    CRL of maybe a million entries. The index then holds just those serials.
    """
    signer = None
    for ca in issuers:
        if ca.subject != crl.issuer:
            continue
        try:
            if crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                signer = ca
                break
        except (TypeError, ValueError):
            continue
    if signer is None:
        raise CRLError(
            f"CRL of {crl.issuer.rfc4514_string()} is not signed by a trusted CA",
            message_zh="证书吊销列表不是由可信 CA 签发",
        )
    if crl.next_update_utc is None:
        raise CRLError("CRL lacks nextUpdate", message_zh="证书吊销列表缺少下次更新时间")
    try:
        number: int | None = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    revoked: dict[int, RevokedCert] = {}
    if serials is not None and len(serials) <= MAX_TARGETED_LOOKUPS:
        entries = [e for e in map(crl.get_revoked_certificate_by_serial_number, serials) if e is not None]
    elif serials is not None:  # one pass, parsing extensions only of the entries we need
        wanted = set(serials)
        entries = [e for e in crl if e.serial_number in wanted]
    else:
        entries = list(crl)
    for rc in entries:
        reason, invalid = "unspecified", None
        for ext in rc.extensions:
            if ext.oid == CRLEntryExtensionOID.CRL_REASON:
                flag = ext.value.reason
                reason = next((k for k, v in CRL_REASONS.items() if v is flag), flag.name)
            elif ext.oid == CRLEntryExtensionOID.INVALIDITY_DATE:
                invalid = ext.value.invalidity_date_utc
        revoked[rc.serial_number] = RevokedCert(rc.serial_number, rc.revocation_date_utc, reason, invalid)
    return IndexedCRL(crl, signer, crl.last_update_utc, crl.next_update_utc, number,
                      MappingProxyType(revoked))
