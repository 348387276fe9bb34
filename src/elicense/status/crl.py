"""X.509 CRLs for each CA level: built in O(n), parsed with bounds, indexed once.

``cryptography``'s ``CertificateRevocationListBuilder.add_revoked_certificate``
returns a new builder holding a copy of the list each time, so a loop is
quadratic (11 s for 100k entries). We build the revoked-certificate list once
and pass it as ``revoked_certificates=`` (``benchmarks/bench_status.py``
measures both; the loop is ``tests/reference_forms.py``). Lookups go through our own ``serial → entry`` index; the
library's ``get_revoked_certificate_by_serial_number`` is a linear scan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from elicense.basics import require_utc
from elicense.crypto.algorithms import PrivateKey
from elicense.errors import CryptoError, ElicenseError, UsageError

if TYPE_CHECKING:
    from elicense.crypto.sm2 import Sm2PrivateKey

MAX_CRL_BYTES = 64 * 1024 * 1024
"""Largest CRL accepted (a million entries is ~40 MB)."""
MAX_CRL_ENTRIES = 1_000_000
"""Most revoked certificates one CRL is built with (an SM2 CRL of this size is ~40 MB, under MAX_CRL_BYTES)."""
DEFAULT_CRL_VALIDITY = dt.timedelta(days=7)
"""Default nextUpdate distance."""
MAX_TARGETED_LOOKUPS = 16
"""Up to this many wanted serials, look each up instead of indexing the whole CRL."""
OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"
"""SM2-with-SM3 (GB/T 35276): CRLs of an SM2 CA are signed with it (``build_sm2_crl``)."""

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


_ECDSA_SHA256_HEAD = bytes.fromhex("020101300a06082a8648ce3d040302")
"""``version v2`` + AlgorithmIdentifier ecdsa-with-SHA256 (parameters absent), as ``cryptography`` writes them."""
_SM2_SM3_ALGID = bytes.fromhex("300a06082a811ccf55018375")
"""AlgorithmIdentifier SM2-with-SM3, parameters absent (``specs/sm2.md`` §1): the same length as the ECDSA one."""


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def build_sm2_crl(
    ca_cert: x509.Certificate,
    ca_key: Sm2PrivateKey,
    revoked: Iterable[RevokedCert],
    *,
    last_update: dt.datetime,
    next_update: dt.datetime | None = None,
    number: int,
) -> bytes:
    """An X.509 v2 CRL (DER) of an SM2 CA, signed with SM2-with-SM3; the profile of :func:`build_crl`.

    ``cryptography`` cannot sign with SM2, so its builder lays out the ``TBSCertList`` (same
    names, times, extensions and entries as :func:`build_crl`, in one O(n) pass) around a
    throwaway P-256 signature; the ``signature`` AlgorithmIdentifier inside the TBS — checked
    byte for byte, same length — becomes SM2-with-SM3, the TBS is signed by
    :meth:`Sm2PrivateKey.sign` (DER ``SEQUENCE{r, s}``, default user id) and the
    ``CertificateList`` is assembled around it. At most :data:`MAX_CRL_ENTRIES` entries.
    (Laying out every entry with asn1crypto instead costs ~0.5 ms per entry: 47 s for 100k.)
    """
    from elicense.crypto.sm2 import Sm2PublicKey, is_sm2_certificate  # SM2 CAs only (off the ES256 verify path)

    if not is_sm2_certificate(ca_cert) or Sm2PublicKey.from_certificate(ca_cert) != ca_key.public_key():
        raise UsageError("an SM2 CRL must be signed with the key of the SM2 CA certificate it names")
    last_update = require_utc(last_update, "last_update").replace(microsecond=0)
    nxt = require_utc(next_update or last_update + DEFAULT_CRL_VALIDITY, "next_update").replace(microsecond=0)
    if nxt <= last_update:
        raise UsageError("CRL nextUpdate must lie after thisUpdate")
    entries: list[x509.RevokedCertificate] = []
    for r in revoked:
        if len(entries) >= MAX_CRL_ENTRIES:
            raise UsageError(f"a CRL holds at most {MAX_CRL_ENTRIES} entries")
        entries.append(_entry(r))
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:  # RFC 5280 §4.2.1.2 method 1 over the SM2 point
        ski = hashlib.sha1(ca_key.public_key().point, usedforsecurity=False).digest()
    template = x509.CertificateRevocationListBuilder(
        issuer_name=ca_cert.subject, last_update=last_update, next_update=nxt,
        extensions=[
            x509.Extension(ExtensionOID.CRL_NUMBER, False, x509.CRLNumber(number)),
            x509.Extension(ExtensionOID.AUTHORITY_KEY_IDENTIFIER, False, x509.AuthorityKeyIdentifier(ski, None, None)),
        ],
        revoked_certificates=entries,
    ).sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())  # fmt: skip
    tbs = template.tbs_certlist_bytes
    head = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)  # SEQUENCE tag + length octets
    if tbs[0] != 0x30 or tbs[head : head + len(_ECDSA_SHA256_HEAD)] != _ECDSA_SHA256_HEAD:
        raise CRLError("unexpected TBSCertList layout from the CRL builder")  # never silently mis-sign
    tbs = tbs[:head] + b"\x02\x01\x01" + _SM2_SM3_ALGID + tbs[head + len(_ECDSA_SHA256_HEAD) :]
    signature = ca_key.sign(tbs)
    bits = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    body = tbs + _SM2_SM3_ALGID + bits
    return b"\x30" + _der_length(len(body)) + body


def crl_signed_by(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    """Whether ``ca`` signed ``crl``: ECDSA/EdDSA/RSA through ``cryptography``, SM2-with-SM3 with our SM2 verify."""
    if ca.subject != crl.issuer:
        return False
    if crl.signature_algorithm_oid.dotted_string == OID_SM2_WITH_SM3:
        from elicense.crypto.sm2 import Sm2PublicKey, is_sm2_certificate  # SM2 CRLs only

        if not is_sm2_certificate(ca):  # (inner ≠ outer algorithm: cryptography refuses such a CRL at load)
            return False
        try:
            return Sm2PublicKey.from_certificate(ca).verify(crl.signature, crl.tbs_certlist_bytes)
        except CryptoError:
            return False
    try:
        return bool(crl.is_signature_valid(ca.public_key()))  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return False


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
    except (
        ValueError,
        TypeError,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as exc:
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
    signer = next((ca for ca in issuers if crl_signed_by(crl, ca)), None)
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
    return IndexedCRL(crl, signer, crl.last_update_utc, crl.next_update_utc, number, MappingProxyType(revoked))
