"""X.509 profiles of the issuer PKI and chain validation.

Hierarchy: national root → regional CA (one per province) → issuing-authority
signing certificates (and, for the trust issue, trust-list signers).

Private OIDs live under :data:`ARC` = ``1.3.6.1.4.1.32473`` — the private enterprise
number IANA reserves for documentation (RFC 5612). It is a **placeholder** with arcs that
fit in 31 bits (Go ``crypto/x509``, tjfoc/gmsm and pkilint refuse the former
``2.25.<128-bit UUID>`` arc): a deployment replaces it by the OID the national platform
assigns. See ``specs/pki-profile.md``.

Every non-root certificate names where its issuer publishes (RFC 5280 CRL distribution
point and AIA ``caIssuers``, under a configurable base URL; :func:`publication_paths`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ObjectIdentifier
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from elicense.crypto.algorithms import Algorithm, PrivateKey, PublicKey

# re-exported: the profile's names stay importable from here
from elicense.crypto.profile import (
    ARC as ARC,
)
from elicense.crypto.profile import (
    CERTIFICATE_ERRORS as CERTIFICATE_ERRORS,
)
from elicense.crypto.profile import (
    DEFAULT_PUBLICATION_BASE as DEFAULT_PUBLICATION_BASE,
)
from elicense.crypto.profile import (
    LICENCE_SIGNER_EKUS as LICENCE_SIGNER_EKUS,
)
from elicense.crypto.profile import (
    OID_EKU_DOCUMENT_SIGNING as OID_EKU_DOCUMENT_SIGNING,
)
from elicense.crypto.profile import (
    OID_EKU_EMAIL_PROTECTION as OID_EKU_EMAIL_PROTECTION,
)
from elicense.crypto.profile import (
    OID_EKU_LICENCE_SIGNING as OID_EKU_LICENCE_SIGNING,
)
from elicense.crypto.profile import (
    OID_EKU_STATUS_LIST_SIGNING as OID_EKU_STATUS_LIST_SIGNING,
)
from elicense.crypto.profile import (
    OID_EKU_TRUST_LIST_SIGNING as OID_EKU_TRUST_LIST_SIGNING,
)
from elicense.crypto.profile import (
    OID_POLICY_LICENCE as OID_POLICY_LICENCE,
)
from elicense.crypto.profile import (
    OID_TSA_POLICY as OID_TSA_POLICY,
)
from elicense.crypto.profile import (
    ValidatedChain as ValidatedChain,
)
from elicense.crypto.profile import (
    ca_file_id as ca_file_id,
)
from elicense.crypto.profile import (
    common_name_of as common_name_of,
)
from elicense.crypto.profile import (
    key_usage as key_usage,
)
from elicense.crypto.profile import (
    publication_extensions as publication_extensions,
)
from elicense.crypto.profile import (
    publication_paths as publication_paths,
)
from elicense.crypto.profile import (
    subject_name as subject_name,
)
from elicense.crypto.profile import (
    uscc_of as uscc_of,
)
from elicense.errors import CryptoError, TrustError

if TYPE_CHECKING:
    from elicense.crypto.sm2 import Sm2PublicKey


MAX_CHAIN_DEPTH = 4


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def sign_certificate(builder: x509.CertificateBuilder, issuer_key: PrivateKey) -> x509.Certificate:
    """Sign a certificate with the profile's hash and padding for the key (RSA: PSS, SHA-256; Ed25519: none)."""
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        return builder.sign(
            issuer_key,
            hashes.SHA256(),
            rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        )
    return builder.sign(issuer_key, _hash_for(issuer_key))


def _check_window(not_before: dt.datetime, not_after: dt.datetime) -> None:
    if not_before.tzinfo is None or not_after.tzinfo is None:
        raise CryptoError("certificate validity times must be timezone-aware (UTC)")
    if not_after <= not_before:
        raise CryptoError("certificate not_after must be later than not_before")


def _sign_issued(
    builder: x509.CertificateBuilder,
    issuer_key: PrivateKey,
    issuer_cert: x509.Certificate,
    publication_base: str,
) -> x509.Certificate:
    """Sign a non-root certificate: it names its issuer's key, where its issuer publishes, and the policy."""
    for ext, critical in publication_extensions(issuer_cert, publication_base):
        builder = builder.add_extension(ext, critical=critical)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
        critical=False,
    ).add_extension(
        x509.CertificatePolicies([x509.PolicyInformation(OID_POLICY_LICENCE, None)]),
        critical=False,
    )
    return sign_certificate(builder, issuer_key)


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None,
) -> x509.CertificateBuilder:
    _check_window(not_before, not_after)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def make_root(
    key: PrivateKey,
    common_name: str,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
) -> x509.Certificate:
    """Self-signed national root (path length 1: root → regional CA → signer)."""
    name = subject_name(common_name, organization=common_name)
    builder = (
        _base(name, name, key.public_key(), not_before, not_after, serial)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(key_usage(ca=True), critical=True)
    )
    return sign_certificate(builder, key)


def make_regional_ca(
    key: PrivateKey,
    common_name: str,
    *,
    province: str,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
    publication_base: str = DEFAULT_PUBLICATION_BASE,
) -> x509.Certificate:
    """Regional CA of one province; may issue end-entity certificates only."""
    builder = (
        _base(
            subject_name(common_name, organization=common_name, province=province),
            issuer_cert.subject,
            key.public_key(),
            not_before,
            not_after,
            serial,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(ca=True), critical=True)
    )
    return _sign_issued(builder, issuer_key, issuer_cert, publication_base)


def make_end_entity(
    public_key: PublicKey,
    common_name: str,
    *,
    uscc: str | None,
    province: str | None,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    eku: ObjectIdentifier | Sequence[ObjectIdentifier] = LICENCE_SIGNER_EKUS,
    serial: int | None = None,
    publication_base: str = DEFAULT_PUBLICATION_BASE,
) -> x509.Certificate:
    """Signing certificate of an issuing authority (or of a trust/status list operator)."""
    ekus = [eku] if isinstance(eku, ObjectIdentifier) else list(eku)
    builder = (
        _base(
            subject_name(common_name, organization=common_name, uscc=uscc, province=province),
            issuer_cert.subject,
            public_key,
            not_before,
            not_after,
            serial,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    )
    return _sign_issued(builder, issuer_key, issuer_cert, publication_base)


# -- serialisation ---------------------------------------------------------------------------

MAX_PEM_BYTES = 4 * 1024 * 1024


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse one or more PEM certificates; typed error on garbage."""
    if len(data) > MAX_PEM_BYTES:
        raise TrustError("certificate file too large")
    try:
        certs = x509.load_pem_x509_certificates(data)
        for c in certs:
            _ = (c.subject, c.issuer, c.extensions)  # parsed lazily by cryptography: fail here, typed
    except CERTIFICATE_ERRORS as exc:
        raise TrustError(f"invalid PEM certificate data: {exc}") from exc
    return certs


def to_pem(certificates: Iterable[x509.Certificate]) -> bytes:
    """Concatenated PEM."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


# -- chain validation -----------------------------------------------------------------------


def _eku_validator(eku: ObjectIdentifier):  # type: ignore[no-untyped-def]
    def validate(policy: object, cert: x509.Certificate, ext: x509.ExtendedKeyUsage | None) -> None:
        if ext is None or eku not in ext:
            raise ValueError(f"certificate lacks extended key usage {eku.dotted_string}")

    return validate


def _ku_validator(policy: object, cert: x509.Certificate, ext: x509.KeyUsage | None) -> None:
    if ext is None or not ext.digital_signature:
        raise ValueError("signing certificate lacks the digitalSignature key usage")


def _ee_policy(eku: ObjectIdentifier) -> ExtensionPolicy:
    return (
        ExtensionPolicy.permit_all()
        .require_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _eku_validator(eku))
        .require_present(x509.KeyUsage, Criticality.CRITICAL, _ku_validator)
    )


def validate_chain(
    leaf: x509.Certificate,
    *,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
    eku: ObjectIdentifier = OID_EKU_LICENCE_SIGNING,
) -> ValidatedChain:
    """Validate ``leaf`` up to one of ``roots`` with ``cryptography``'s path builder.

    The chain is checked at the latest ``not_before`` of the candidate chain
    (the first instant all of it is valid), so that an authority's certificate
    can be accepted for licences it signed while it was valid. Raises
    :class:`TrustError` if no valid path exists.
    """
    if not roots:
        raise TrustError("no trust anchors given")
    if is_sm2_signed(leaf):  # cryptography cannot check SM2 signatures: see elicense.crypto.sm2
        from elicense.crypto.sm2 import validate_sm2_chain

        return validate_sm2_chain(leaf, roots=roots, intermediates=intermediates, eku=eku)
    candidates = [leaf, *intermediates]
    when = max(c.not_valid_before_utc for c in candidates)
    when = max(when, min(r.not_valid_before_utc for r in roots))
    try:
        verifier = (
            PolicyBuilder()
            .store(Store(list(roots)))
            .time(when)
            .max_chain_depth(MAX_CHAIN_DEPTH)
            .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_ee_policy(eku))
            .build_client_verifier()
        )
        chain = tuple(verifier.verify(leaf, list(intermediates)).chain)
    except VerificationError as exc:
        if "Forbidden" not in str(exc):
            raise TrustError(f"certificate {common_name_of(leaf)!r} does not chain to a trust anchor: {exc}") from exc
        # cryptography's verifier only admits WebPKI algorithms; Ed25519 (allowed by our
        # allow-list) gets the same profile checks on a path built by issuer name.
        chain = _validate_chain_by_name(leaf, roots, intermediates, eku, when)
    return ValidatedChain(
        certificate=leaf,
        chain=chain,
        not_before=max(c.not_valid_before_utc for c in chain),
        not_after=min(c.not_valid_after_utc for c in chain),
    )


def _validate_chain_by_name(
    leaf: x509.Certificate,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    eku: ObjectIdentifier,
    when: dt.datetime,
) -> tuple[x509.Certificate, ...]:
    """Path validation for algorithms cryptography's verifier refuses: same profile, by hand."""

    def fail(why: str) -> TrustError:
        return TrustError(f"certificate {common_name_of(leaf)!r} does not chain to a trust anchor: {why}")

    def ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
        try:
            return cert.extensions.get_extension_for_class(kind).value
        except x509.ExtensionNotFound:
            return None

    try:
        _eku_validator(eku)(None, leaf, ext(leaf, x509.ExtendedKeyUsage))
    except ValueError as exc:
        raise fail(str(exc)) from exc
    try:
        _ku_validator(None, leaf, ext(leaf, x509.KeyUsage))  # type: ignore[arg-type]
    except ValueError as exc:
        raise fail(str(exc)) from exc
    chain = [leaf]
    current = leaf
    root_ders = {r.public_bytes(serialization.Encoding.DER) for r in roots}
    for depth in range(MAX_CHAIN_DEPTH):
        issuers = [c for c in (*roots, *intermediates) if c.subject == current.issuer and c is not current]
        parent = None
        for candidate in issuers:
            try:
                current.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):  # e.g. an unknown curve
                continue
            parent = candidate
            break
        if parent is None:
            raise fail("no issuer certificate verifies its signature")
        bc = ext(parent, x509.BasicConstraints)
        ku = ext(parent, x509.KeyUsage)
        if not isinstance(bc, x509.BasicConstraints) or not bc.ca:
            raise fail(f"{common_name_of(parent)!r} is not a CA")
        if bc.path_length is not None and depth > bc.path_length:
            raise fail(f"path length of {common_name_of(parent)!r} exceeded")
        if not isinstance(ku, x509.KeyUsage) or not ku.key_cert_sign:
            raise fail(f"{common_name_of(parent)!r} may not sign certificates")
        chain.append(parent)
        if parent.public_bytes(serialization.Encoding.DER) in root_ders:
            if not all(c.not_valid_before_utc <= when <= c.not_valid_after_utc for c in chain):
                raise fail("a certificate of the chain is outside its validity")
            return tuple(chain)
        current = parent
    raise fail("chain too long")


OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"


def is_sm2_signed(certificate: x509.Certificate) -> bool:
    """Whether the certificate is signed with SM2-with-SM3 (an SM2 PKI; no backend import)."""
    return certificate.signature_algorithm_oid.dotted_string == OID_SM2_WITH_SM3


def public_key_of(certificate: x509.Certificate) -> PublicKey | Sm2PublicKey:
    """The certificate's public key, restricted to the supported key types."""
    if is_sm2_signed(certificate):
        from elicense.crypto.sm2 import Sm2PublicKey

        return Sm2PublicKey.from_certificate(certificate)
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        return key
    raise CryptoError(f"unsupported public key type {type(key).__name__}")


def algorithm_of(certificate: x509.Certificate) -> Algorithm:
    """Signature algorithm this library uses with the certificate's key."""
    return Algorithm.for_key(public_key_of(certificate))
