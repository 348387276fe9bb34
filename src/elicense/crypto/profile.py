"""Shared X.509 profile pieces of the issuer PKI: OIDs, names, key usage, publication points.

The lowest module of :mod:`elicense.crypto` that knows certificates: both the ECDSA/RSA/Ed25519
profiles (:mod:`elicense.crypto.pki`) and the SM2 ones (:mod:`elicense.crypto.sm2`) build on it,
so neither imports the other's internals. See ``specs/pki-profile.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier

from elicense.errors import CryptoError

ARC = "1.3.6.1.4.1.32473"
"""Placeholder private arc (RFC 5612 documentation PEN): replace by the platform-assigned OID."""


OID_POLICY_LICENCE = ObjectIdentifier(f"{ARC}.1.1")
"""Certificate policy: electronic licence issuing PKI."""


OID_EKU_LICENCE_SIGNING = ObjectIdentifier(f"{ARC}.2.1")
"""Extended key usage: signing licences, QR payloads and licence PDFs."""


OID_EKU_TRUST_LIST_SIGNING = ObjectIdentifier(f"{ARC}.2.2")
"""Extended key usage: signing trust lists and status lists."""


OID_EKU_STATUS_LIST_SIGNING = ObjectIdentifier(f"{ARC}.2.3")
"""Extended key usage: signing status lists."""


OID_TSA_POLICY = ObjectIdentifier(f"{ARC}.3.1")
"""Time-stamp policy (RFC 3161 ``TSTInfo.policy``) of the project's own TSA."""


OID_EKU_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""RFC 9336 ``id-kp-documentSigning``."""


OID_EKU_EMAIL_PROTECTION = ObjectIdentifier("1.3.6.1.5.5.7.3.4")
"""``id-kp-emailProtection``: what NSS (poppler ``pdfsig``) and OpenSSL ``cms -verify`` require of a
CMS signer whose certificate has an EKU extension; documentSigning alone is refused by both."""


LICENCE_SIGNER_EKUS: tuple[ObjectIdentifier, ...] = (
    OID_EKU_LICENCE_SIGNING,
    OID_EKU_DOCUMENT_SIGNING,
    OID_EKU_EMAIL_PROTECTION,
)
"""EKUs of an issuing authority's certificate (QR/COSE, PDF CMS): ours first, then the standard ones."""


DEFAULT_PUBLICATION_BASE = "http://pki.elicense.example/"
"""Default base URL where an issuer home publishes CA certificates and CRLs (a placeholder host)."""


def subject_name(
    common_name: str,
    *,
    organization: str | None = None,
    uscc: str | None = None,
    province: str | None = None,
) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
    if province:
        attrs.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province))
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if uscc:
        # ETSI EN 319 412-1 semantics: NTR = national trade register, CN = country.
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{uscc}"))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def ca_file_id(ca_cert: x509.Certificate) -> str:
    """Name of a CA's published files: its subject key identifier in hex (SHA-1 of the key if absent)."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        spki = ca_cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        ski = hashlib.sha1(spki).digest()  # noqa: S324 - RFC 5280 §4.2.1.2 method (1), an identifier
    return ski.hex()


def publication_paths(ca_cert: x509.Certificate) -> tuple[str, str]:
    """``(certificate path, CRL path)`` of a CA, relative to the publication base URL."""
    fid = ca_file_id(ca_cert)
    return f"ca/{fid}.cer", f"crl/{fid}.crl"


def publication_extensions(
    issuer_cert: x509.Certificate, base_url: str = DEFAULT_PUBLICATION_BASE
) -> list[tuple[x509.ExtensionType, bool]]:
    """CRL distribution point and AIA ``caIssuers`` of a certificate issued by ``issuer_cert``."""
    if not base_url.startswith(("http://", "https://")) or len(base_url) > 512:
        raise CryptoError(f"publication base URL must be an http(s) URL: {base_url!r}")
    base = base_url if base_url.endswith("/") else base_url + "/"
    cer, crl = publication_paths(issuer_cert)
    return [
        (
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(base + crl)], None, None, None)]
            ),
            False,
        ),
        (
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(base + cer)
                    )
                ]
            ),
            False,
        ),
    ]


def uscc_of(certificate: x509.Certificate) -> str | None:
    """The USCC in the subject's organizationIdentifier (``NTRCN-…``), if any."""
    for attr in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        value = attr.value if isinstance(attr.value, str) else attr.value.decode()
        if value.startswith("NTRCN-"):
            return value[6:]
    return None


def common_name_of(certificate: x509.Certificate) -> str:
    """Subject CN, or the RFC 4514 string when there is none."""
    attrs = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if attrs:
        value = attrs[0].value
        return value if isinstance(value, str) else value.decode()
    return certificate.subject.rfc4514_string()


CERTIFICATE_ERRORS = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
"""What cryptography raises on a malformed certificate, at load or when a lazily parsed part is read."""


@dataclass(frozen=True)
class ValidatedChain:
    """A signer certificate whose chain to a trust anchor was checked once.

    Verifying a chain costs ~3 signature checks, so it is done when trust is
    loaded; per licence only the time window is compared.
    """

    certificate: x509.Certificate
    """The signer (leaf) certificate."""
    chain: tuple[x509.Certificate, ...]
    """Leaf first, trust anchor last."""
    not_before: dt.datetime
    """Latest ``not_before`` over the chain: earliest instant the whole chain is valid."""
    not_after: dt.datetime
    """Earliest ``not_after`` over the chain: last instant the whole chain is valid."""

    def valid_at(self, when: dt.datetime) -> bool:
        """Whether every certificate of the chain is within its validity at ``when``."""
        return self.not_before <= when <= self.not_after
