"""Time stamps on seal signatures (``SES_Signature.timeStamp``, v5 ``SESeal.timeStamp``).

GB/T 38540 stamps the **signature value**: the token's ``messageImprint`` is the hash of the
signature value's bytes (the BIT STRING contents). The token is an RFC 3161 / GB/T 20520
``TimeStampToken``: a CMS ``SignedData`` (PKCS #7 or GB/T 35275 identifiers) whose encapsulated
content is a DER ``TSTInfo``. Checked here: the imprint (SM3 or SHA-256), the TSA's SM2 signature
over its signed attributes (``messageDigest`` = hash of the TSTInfo), and the TSA certificate's
chain to the relying party's anchors with the ``timeStamping`` EKU. A TSA the verifier does not
trust, or a TSA algorithm other than SM2, leaves the time stamp *unverified* (INDETERMINATE),
never silently accepted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from elicense.errors import CryptoError, TrustError
from elicense.seal import der as d
from elicense.seal import ses
from elicense.seal.certs import build_chain, cert_of
from elicense.verdict import reasons as r
from elicense.verdict.reasons import SES_TIMESTAMP_INVALID
from elicense.verdict.result import Reason

OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_GB_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2"
MAX_TOKEN_BYTES = 64 * 1024


@dataclass(frozen=True)
class TimeStamp:
    """A parsed time-stamp token (signature not yet checked)."""

    gen_time: dt.datetime
    """The TSA's time (UTC)."""
    imprint_alg: str
    """Hash algorithm of the message imprint."""
    imprint: bytes
    """Hash of the stamped bytes."""
    tst_info: bytes = field(repr=False)
    """The DER TSTInfo."""
    digest_alg: str
    """SignerInfo digest algorithm."""
    message_digest: bytes
    """messageDigest attribute."""
    covers: ses.SignedPart
    """The signed attributes as SET OF."""
    signature: bytes = field(repr=False)
    """The TSA's signature value."""
    signature_alg: str
    """SignerInfo signature algorithm."""
    tsa_cert: bytes | None = field(repr=False)
    """The TSA certificate found by serial number, if carried."""
    certificates: tuple[bytes, ...] = field(repr=False)
    """All certificates carried."""


def _hash(alg: str, data: bytes, ctx: ses.SesContext, where: str) -> bytes | None:
    if ses.sm3_name(alg, ctx, where):
        return ses.sm3_digest(data)
    if alg == OID_SHA256:
        return hashlib.sha256(data).digest()
    return None


def parse_time_stamp(token: bytes) -> TimeStamp:
    """Parse a TimeStampToken (bounded); :class:`ses.SesFormatError` on anything else."""
    if not isinstance(token, bytes) or len(token) > MAX_TOKEN_BYTES:
        raise ses.SesFormatError("time stamp too large or not bytes")
    try:
        outer = d.expect(d.parse(token, what="TimeStampToken"), d.SEQUENCE, what="ContentInfo").children()
        if len(outer) != 2 or d.oid(outer[0], "contentType") not in ("1.2.840.113549.1.7.2", OID_GB_SIGNED_DATA):
            raise ses.SesFormatError("time stamp is not a SignedData")
        (sd,) = d.expect(outer[1], d.CONTEXT_0, what="content").children()
        parts = list(d.expect(sd, d.SEQUENCE, what="SignedData").children())
        encap = d.expect(parts[2], d.SEQUENCE, what="encapContentInfo").children()
        if d.oid(encap[0], "eContentType") != OID_TST_INFO or len(encap) != 2:
            raise ses.SesFormatError("time stamp does not hold a TSTInfo")
        (econtent,) = d.expect(encap[1], d.CONTEXT_0, what="eContent").children()
        tst = d.octets(econtent, "eContent")
        info = d.expect(d.parse(tst, what="TSTInfo"), d.SEQUENCE, what="TSTInfo").children()
        imprint = d.expect(info[2], d.SEQUENCE, what="messageImprint").children()
        imprint_alg = d.oid(d.expect(imprint[0], d.SEQUENCE, what="hashAlgorithm").children()[0], "hashAlgorithm")
        gen_time = d.time(info[4], "genTime")
        rest = parts[3:]
        certs: list[bytes] = []
        while rest and rest[0].tag in (d.CONTEXT_0, d.CONTEXT_1):
            node = rest.pop(0)
            if node.tag == d.CONTEXT_0:
                certs.extend(c.raw for c in node.children())
        (si_node,) = d.expect(rest[0], d.SET, what="signerInfos").children()
        si = d.expect(si_node, d.SEQUENCE, what="SignerInfo").children()
        serial = d.integer(d.expect(si[1], d.SEQUENCE, what="sid").children()[1], "serialNumber")
        digest_alg = d.oid(d.expect(si[2], d.SEQUENCE, what="digestAlgorithm").children()[0], "digestAlgorithm")
        attrs = d.expect(si[3], d.CONTEXT_0, what="signedAttrs")
        message_digest = b""
        for attr in attrs.children():
            a_oid, values = d.expect(attr, d.SEQUENCE, what="Attribute").children()
            if d.oid(a_oid, "Attribute.type") == "1.2.840.113549.1.9.4":
                message_digest = d.octets(values.children()[0], "messageDigest")
        sig_alg = d.oid(d.expect(si[4], d.SEQUENCE, what="signatureAlgorithm").children()[0], "signatureAlgorithm")
        value = si[5].value if si[5].tag == d.OCTET_STRING else d.bits(si[5], "signature")
    except (d.DerError, ValueError, IndexError) as exc:
        raise ses.SesFormatError(f"malformed time stamp: {exc}"[:240], message_zh="时间戳格式错误") from exc
    tsa: bytes | None = None
    for cert in certs:
        try:
            if cert_of(cert).serial == serial:
                tsa = cert
                break
        except CryptoError:
            continue
    covers = ses.SignedPart("DER(signedAttrs as SET OF)", ((attrs.start, attrs.end),), True,
                            d.header(d.SET, len(attrs.value)) + attrs.value)  # fmt: skip
    return TimeStamp(
        gen_time=gen_time, imprint_alg=imprint_alg, imprint=d.octets(imprint[1], "hashedMessage"), tst_info=tst,
        digest_alg=digest_alg, message_digest=message_digest, covers=covers, signature=value, signature_alg=sig_alg,
        tsa_cert=tsa, certificates=tuple(certs),
    )  # fmt: skip


def check_time_stamp(
    token: bytes, stamped: bytes, *, trust: ses.SesTrust, ctx: ses.SesContext, where: str
) -> tuple[list[Reason], dt.datetime | None, str]:
    """Reasons (empty: verified), the TSA's time when the token is genuine, and a detail line.

    ``stamped`` is the signature value the token claims to cover.
    """
    try:
        ts = parse_time_stamp(token)
    except ses.SesFormatError as exc:
        return [Reason.of(SES_TIMESTAMP_INVALID, f"{where}: {exc.message}")], None, ""
    expected = _hash(ts.imprint_alg, stamped, ctx, f"{where}.messageImprint")
    if expected is None:
        return [Reason.of(r.SES_TIMESTAMP_UNVERIFIED, f"{where}: imprint algorithm {ts.imprint_alg}")], None, ""
    if expected != ts.imprint:
        return [Reason.of(SES_TIMESTAMP_INVALID, f"{where}: it stamps other bytes than the signature value")], None, ""
    if _hash(ts.digest_alg, ts.tst_info, ctx, f"{where}.digestAlgorithm") != ts.message_digest:
        return [Reason.of(SES_TIMESTAMP_INVALID, f"{where}: messageDigest is not the TSTInfo's")], None, ""
    if ts.tsa_cert is None:
        return [Reason.of(r.SES_TIMESTAMP_UNVERIFIED, f"{where}: TSA certificate not carried")], None, ""
    if ts.signature_alg not in (ses.OID_SM2_SIGN, ses.OID_SM2_WITH_SM3):
        return [Reason.of(r.SES_TIMESTAMP_UNVERIFIED, f"{where}: TSA algorithm {ts.signature_alg}")], None, ""
    try:
        tsa = cert_of(ts.tsa_cert)
    except CryptoError as exc:
        return [Reason.of(r.SES_TIMESTAMP_UNVERIFIED, f"{where}: {exc.message}")], None, ""
    if ses.sm2_verify(tsa, ts.signature, ts.covers, None, ctx, f"{where}.signature") is None:
        return [Reason.of(SES_TIMESTAMP_INVALID, f"{where}: the TSA signature does not verify")], None, ""
    try:
        chain = build_chain(tsa, anchors=ses.cert_views([*trust.roots, *trust.tsa_roots]),
                            intermediates=[*ses.cert_views(trust.intermediates), *ses.cert_views(ts.certificates)],
                            leaf_eku=OID_TIME_STAMPING)  # fmt: skip
    except TrustError as exc:
        return [Reason.of(r.SES_TIMESTAMP_UNVERIFIED, f"{where}: {exc.message}")], None, ""
    if not chain.not_before <= ts.gen_time <= chain.not_after:
        return [Reason.of(r.SES_TIMESTAMP_UNVERIFIED, f"{where}: TSA certificate not valid at genTime")], None, ""
    return [], ts.gen_time, f"{where}: {ts.gen_time.isoformat()} by {tsa.subject}"


def check_all(
    items: Sequence[tuple[str, bytes, bytes]], *, trust: ses.SesTrust, ctx: ses.SesContext, signed_at: dt.datetime
) -> tuple[list[Reason], str]:
    """Check every ``(where, token, stamped)``; a signing time after a genuine stamp is refused."""
    found: list[Reason] = []
    details: list[str] = []
    for where, token, stamped in items:
        reasons, when, detail = check_time_stamp(token, stamped, trust=trust, ctx=ctx, where=where)
        found += reasons
        if when is not None and where == "signature" and signed_at > when + ses.CLOCK_SKEW:
            found.append(Reason.of(SES_TIMESTAMP_INVALID, f"timeInfo {signed_at.isoformat()} is after the stamp"))
        if detail:
            details.append(detail)
    return found, "; ".join(details)


__all__ = ["SES_TIMESTAMP_INVALID", "TimeStamp", "check_all", "check_time_stamp", "parse_time_stamp"]
