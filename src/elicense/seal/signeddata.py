"""GB/T 35275 SM2 ``SignedData``: the "Sign"-type digital signatures of OFD documents.

``ContentInfo { contentType 1.2.156.10197.6.1.4.2.2, content [0] EXPLICIT SignedData }``,
laid out like PKCS #7 / CMS with the SM OIDs: digest SM3 (``1.2.156.10197.1.401``),
signature ``sm2-1`` (``1.2.156.10197.1.301.1``), data type ``1.2.156.10197.6.1.4.2.1``.
The content is detached (in an OFD: ``Signature.xml``). With authenticated attributes the
signer signs DER of the attributes re-tagged as ``SET OF`` (tag 0x31) and the
``messageDigest`` attribute is SM3 of the content; without them, the content itself.
Verification reuses the seal module's checks, deviations and trust (the signer's chain to
the SM2 anchors, revocation, validity at ``signingTime``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asn1crypto import core
from asn1crypto import x509 as a509

from elicense.crypto.sm2 import Sm2PublicKey
from elicense.errors import CryptoError, TrustError
from elicense.model import require_utc
from elicense.seal import der as d
from elicense.seal import ses
from elicense.seal.certs import CertView, build_chain, cert_of
from elicense.seal.verify import chain_validity, check_revocation
from elicense.verdict import reasons as r
from elicense.verdict.reasons import SD_DIGEST_MISMATCH, SD_MALFORMED, SD_SIGNER_MISSING
from elicense.verdict.result import Reason, VerificationResult

if TYPE_CHECKING:
    from cryptography import x509

    from elicense.crypto.sm2 import Sm2PrivateKey

OID_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2"
OID_DATA = "1.2.156.10197.6.1.4.2.1"
OID_PKCS7_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_PKCS7_DATA = "1.2.840.113549.1.7.1"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
MAX_SIGNED_DATA_BYTES = 1024 * 1024
MAX_CERTS = 16


@dataclass(frozen=True)
class SignedData:
    """A parsed GB/T 35275 ``SignedData`` with one signer (signature not yet checked)."""

    der: bytes = field(repr=False)
    """The bytes as in the input."""
    certificates: tuple[bytes, ...] = field(repr=False)
    """DER certificates carried."""
    signer_cert: bytes | None = field(repr=False)
    """The certificate matching the SignerInfo's issuerAndSerialNumber."""
    serial: int
    """Signer certificate serial (from SignerInfo)."""
    digest_alg: str
    """SignerInfo digestAlgorithm."""
    signature_alg: str
    """SignerInfo digestEncryptionAlgorithm."""
    message_digest: bytes | None
    """The messageDigest attribute (None when there are no authenticated attributes)."""
    signing_time: dt.datetime | None
    """The signingTime attribute."""
    content: bytes | None = field(repr=False)
    """Embedded content, if not detached."""
    signature: bytes = field(repr=False)
    """encryptedDigest as found."""
    covers: ses.SignedPart
    """What the signature covers (attributes as SET, or the content)."""
    crls: tuple[bytes, ...] = field(repr=False)
    """DER CRLs carried."""
    deviations: tuple[ses.Deviation, ...]
    """How it departs from GB/T 35275."""


def parse_signed_data(data: bytes) -> SignedData:
    """Parse (bounded); :class:`ses.SesFormatError` on anything unreadable."""
    if not isinstance(data, bytes) or len(data) > MAX_SIGNED_DATA_BYTES:
        raise ses.SesFormatError("SignedData too large or not bytes")
    ctx = ses.SesContext()
    try:
        return _parse(data, ctx)
    except ses.SesFormatError:
        raise
    except (d.DerError, ValueError, TypeError) as exc:
        raise ses.SesFormatError(f"malformed SignedData: {exc}"[:300], message_zh="SignedData 格式错误") from exc


def _parse(data: bytes, ctx: ses.SesContext) -> SignedData:
    top = d.parse(data, what="ContentInfo")
    if not d.all_minimal(top):
        ctx.dev("ses_dev_not_der", "encoding")
    outer = d.expect(top, d.SEQUENCE, what="ContentInfo").children()
    if len(outer) != 2:
        raise ses.SesFormatError("ContentInfo must have 2 fields")
    kind = d.oid(outer[0], "contentType")
    if kind == OID_PKCS7_SIGNED_DATA:
        ctx.dev("sd_dev_outer_oid", "contentType", kind)
    elif kind != OID_SIGNED_DATA:
        raise ses.SesFormatError(f"not a SignedData: {kind}")
    (sd_node,) = d.expect(outer[1], d.CONTEXT_0, what="content").children()
    parts = list(d.expect(sd_node, d.SEQUENCE, what="SignedData").children())
    if len(parts) < 4:
        raise ses.SesFormatError("SignedData has too few fields")
    d.integer(parts[0], "version")
    encap = d.expect(parts[2], d.SEQUENCE, what="contentInfo").children()
    encap_type = d.oid(encap[0], "contentInfo.contentType")
    content: bytes | None = None
    if len(encap) > 1:
        (inner,) = d.expect(encap[1], d.CONTEXT_0, what="content").children()
        content = d.octets(inner, "content")
    rest = parts[3:]
    certs: list[bytes] = []
    crls: list[bytes] = []
    while rest and rest[0].tag in (d.CONTEXT_0, d.CONTEXT_1):
        node = rest.pop(0)
        items = [c.raw for c in node.children()]
        (certs if node.tag == d.CONTEXT_0 else crls).extend(items)
    if len(certs) > MAX_CERTS or len(rest) != 1:
        raise ses.SesFormatError("SignedData certificates/signerInfos malformed")
    signer_infos = d.expect(rest[0], d.SET, what="signerInfos").children()
    if len(signer_infos) != 1:
        raise ses.SesFormatError(f"exactly one SignerInfo expected, found {len(signer_infos)}")
    si = list(d.expect(signer_infos[0], d.SEQUENCE, what="SignerInfo").children())
    d.integer(si[0], "SignerInfo.version")
    ias = d.expect(si[1], d.SEQUENCE, what="issuerAndSerialNumber").children()
    issuer_raw, serial = ias[0].raw, d.integer(ias[1], "serialNumber")
    digest_alg = d.oid(d.expect(si[2], d.SEQUENCE, what="digestAlgorithm").children()[0], "digestAlgorithm")
    if not ses.sm3_name(digest_alg, ctx, "SignerInfo.digestAlgorithm"):
        raise ses.SesFormatError(f"digest algorithm {digest_alg} is not SM3")
    idx = 3
    message_digest: bytes | None = None
    signing_time: dt.datetime | None = None
    attr_type: str | None = None
    if si[idx].tag == d.CONTEXT_0:
        attrs = si[idx]
        covered = ses.SignedPart(
            "DER(authenticatedAttributes as SET OF)", ((attrs.start, attrs.end),), True,
            d.header(d.SET, len(attrs.value)) + attrs.value,
        )  # fmt: skip
        for attr in attrs.children():
            a_oid_node, values = d.expect(attr, d.SEQUENCE, what="Attribute").children()
            a_oid = d.oid(a_oid_node, "Attribute.type")
            vals = d.expect(values, d.SET, what="Attribute.values").children()
            if len(vals) != 1:
                raise ses.SesFormatError(f"attribute {a_oid} must have one value")
            if a_oid == OID_MESSAGE_DIGEST:
                message_digest = d.octets(vals[0], "messageDigest")
            elif a_oid == OID_SIGNING_TIME:
                signing_time = d.time(vals[0], "signingTime")
            elif a_oid == OID_CONTENT_TYPE:
                attr_type = d.oid(vals[0], "contentType")
        if message_digest is None:
            raise ses.SesFormatError("authenticated attributes without messageDigest")
        idx += 1
    else:
        covered = ses.SignedPart("content (no authenticated attributes)", (), False, b"")
    sig_alg = d.oid(d.expect(si[idx], d.SEQUENCE, what="digestEncryptionAlgorithm").children()[0], "sigalg")
    if sig_alg in (ses.OID_SM2_WITH_SM3, "1.2.156.10197.1.301"):
        ctx.dev("sd_dev_signature_alg", "SignerInfo.digestEncryptionAlgorithm", sig_alg)
    elif sig_alg != ses.OID_SM2_SIGN:
        raise ses.SesFormatError(f"signature algorithm {sig_alg} is not SM2")
    value_node = si[idx + 1]
    signature = value_node.value if value_node.tag == d.OCTET_STRING else d.bits(value_node, "encryptedDigest")
    if encap_type != OID_DATA or (attr_type is not None and attr_type != encap_type):
        ctx.dev("sd_dev_content_type", "contentInfo.contentType", f"{encap_type} / attribute {attr_type}")
    signer: bytes | None = None
    for cert in certs:
        try:
            view = cert_of(cert)
        except CryptoError:
            continue
        if view.serial == serial and view.issuer_der == issuer_raw:
            signer = cert
            break
        if view.serial == serial and signer is None:
            signer = cert  # issuer compared normalised below, at verification
    return SignedData(
        der=data, certificates=tuple(certs), signer_cert=signer, serial=serial, digest_alg=digest_alg,
        signature_alg=sig_alg, message_digest=message_digest, signing_time=signing_time, content=content,
        signature=signature, covers=covered, crls=tuple(crls), deviations=tuple(ctx.devs),
    )  # fmt: skip


@dataclass(frozen=True)
class SignedDataVerification(ses.ResultView):
    """The frozen outcome of verifying one GB/T 35275 signature."""

    result: VerificationResult
    """Status, reasons, ordered checks (deviations as WARNING checks)."""
    signed_data: SignedData | None
    """The parsed structure."""
    signer: CertView | None
    """The signer's certificate once its signature verified."""
    deviations: tuple[ses.Deviation, ...]
    """Departures from GB/T 35275."""


def verify_signed_data(
    data: bytes, *, content: bytes | None, trust: ses.SesTrust, at: dt.datetime
) -> SignedDataVerification:
    """Verify a GB/T 35275 ``SignedData`` over detached ``content`` (e.g. an OFD's ``Signature.xml``).

    Checks in order: format, signature (SM2 over the attributes as SET), content digest
    (messageDigest = SM3(content)), signer certificate chain and validity at signingTime (or
    ``at``), revocation. Never raises for a failed check.
    """
    when = require_utc(at, "at")
    run = ses.SesRun(when, "signed_data")
    ctx = ses.SesContext()
    parsed: SignedData | None = None
    signer: CertView | None = None

    def finish() -> SignedDataVerification:
        run.checks.extend(dev.check() for dev in ctx.devs)
        return SignedDataVerification(run.result(), parsed, signer, tuple(ctx.devs))

    try:
        parsed = parse_signed_data(data)
    except ses.SesFormatError as exc:
        run.check("format", [Reason.of(SD_MALFORMED, exc.message)])
        return finish()
    ctx.devs.extend(parsed.deviations)
    if parsed.signer_cert is None:
        run.check("format", [Reason.of(SD_SIGNER_MISSING, f"serial {parsed.serial:x}")])
        return finish()
    try:
        cert = cert_of(parsed.signer_cert)
    except CryptoError as exc:
        run.check("format", [Reason.of(r.SES_CERTIFICATE_UNREADABLE, exc.message)])
        return finish()
    ses.cert_devs(cert, ctx, "signer certificate")
    run.check("format", [], "GB/T 35275 SignedData")
    body = content if content is not None else parsed.content
    covers = parsed.covers
    if parsed.message_digest is None:
        covers = ses.SignedPart("content", (), False, body or b"")
    if parsed.message_digest is None and body is None:
        run.check("signature", [Reason.of(r.SES_DOCUMENT_MISSING, "content needed to check the signature")])
        return finish()
    if (
        ses.sm2_verify(cert, parsed.signature, covers, None, ctx, "SignerInfo.encryptedDigest", trust.signer_user_ids)
        is None
    ):
        run.check("signature", [Reason.of(r.SIGNATURE_INVALID, f"over {covers.layout}")])
        return finish()
    signer = cert
    run.check("signature", [], f"over {covers.layout}")
    if parsed.message_digest is not None:
        if body is None:
            run.check("document_digest", [Reason.of(r.SES_DOCUMENT_MISSING)])
        elif ses.sm3_digest(body) != parsed.message_digest:
            run.check("document_digest", [Reason.of(SD_DIGEST_MISMATCH)])
        else:
            run.check("document_digest", [], "messageDigest = SM3(content)")
    signed_at = parsed.signing_time or when
    if signed_at > when + ses.CLOCK_SKEW:
        run.check("signing_time", [Reason.of(r.SIGNED_IN_FUTURE, signed_at.isoformat())])
    try:
        chain = build_chain(
            cert, anchors=ses.cert_views(trust.roots),
            intermediates=[*ses.cert_views(trust.intermediates), *ses.cert_views(parsed.certificates)],
        )  # fmt: skip
        found = chain_validity(chain, signed_at, "signer certificate")
        run.check("signer_certificate", found, None if found else f"{cert.subject} → {chain.anchor.subject}")
        check_revocation(run, [(chain, signed_at, "signer")], [*trust.crls, *parsed.crls], trust)
    except TrustError as exc:
        run.check("signer_certificate", [Reason.of(r.SES_CERTIFICATE_UNTRUSTED, exc.message)])
    return finish()


def _attr(oid: str, value: bytes) -> bytes:
    return d.sequence(ses.der_oid(oid) + d.header(d.SET, len(value)) + value)


def sign_signed_data(
    content: bytes,
    *,
    signer_cert: x509.Certificate,
    signer_key: Sm2PrivateKey,
    at: dt.datetime,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """A detached GB/T 35275 ``SignedData`` (DER ``ContentInfo``) over ``content``.

    Authenticated attributes: contentType (GB/T 35275 data), signingTime, messageDigest =
    SM3(content); the signer signs them as DER ``SET OF``; algorithm ``sm2-1``.
    """

    when = require_utc(at, "at").replace(microsecond=0)
    if Sm2PublicKey.from_certificate(signer_cert) != signer_key.public_key():
        raise CryptoError("signer key does not match its certificate")
    cert_der = ses.der_certificate(signer_cert)
    tbs = a509.Certificate.load(cert_der)["tbs_certificate"]
    sm3_alg = d.sequence(ses.der_oid(ses.OID_SM3) + b"\x05\x00")
    time_der = core.UTCTime(when).dump() if when.year < 2050 else core.GeneralizedTime(when).dump()
    attrs = (
        _attr(OID_CONTENT_TYPE, ses.der_oid(OID_DATA)) + _attr(OID_SIGNING_TIME, time_der)
        + _attr(OID_MESSAGE_DIGEST, ses.der_octets(ses.sm3_digest(content)))
    )  # fmt: skip
    signature = signer_key.sign(d.header(d.SET, len(attrs)) + attrs)
    signer_info = d.sequence(
        ses.der_int(1) + d.sequence(tbs["issuer"].dump() + tbs["serial_number"].dump()) + sm3_alg
        + d.header(d.CONTEXT_0, len(attrs)) + attrs + d.sequence(ses.der_oid(ses.OID_SM2_SIGN) + b"\x05\x00")
        + ses.der_octets(signature)
    )  # fmt: skip
    certs = b"".join([cert_der, *(ses.der_certificate(c) for c in chain)])
    body = (
        ses.der_int(1) + d.header(d.SET, len(sm3_alg)) + sm3_alg + d.sequence(ses.der_oid(OID_DATA))
        + d.header(d.CONTEXT_0, len(certs)) + certs + d.header(d.SET, len(signer_info)) + signer_info
    )  # fmt: skip
    signed_data = d.sequence(body)
    der = d.sequence(ses.der_oid(OID_SIGNED_DATA) + d.header(d.CONTEXT_0, len(signed_data)) + signed_data)
    parse_signed_data(der)
    return der


__all__ = [
    "OID_DATA",
    "OID_SIGNED_DATA",
    "SignedData",
    "SignedDataVerification",
    "parse_signed_data",
    "sign_signed_data",
    "verify_signed_data",
]
