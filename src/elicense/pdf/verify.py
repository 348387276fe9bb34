"""Verify a sealed licence PDF: signature ↔ embedded record ↔ QR on the page.

What is checked, in order (each becomes a :class:`~elicense.verify.result.Check`):

1. ``pdf_parse`` — the file parses (pyHanko, strict), within size bounds, with no
   bytes after the last revision.
2. ``pdf_signature`` — exactly one approval/certification signature, a DocMDP
   certification (P=1), cryptographically intact over its revision (pyHanko,
   explicit trust roots from the :class:`TrustStore`, ``allow_fetching=False``).
3. ``pdf_modifications`` — pyHanko's difference analysis: later revisions may
   only add validation data (DSS) or document timestamps; anything else
   (annotations, new content, swapped attachments, other signatures, form
   filling) is INVALID.
4. ``pdf_signer`` — the signing certificate chains to a trust anchor *and* is
   one of the trusted authority keys (same kid path as the QR verifier).
5. ``pdf_timestamp`` — a signature timestamp, when present, is intact (B-T).
   ``pdf_revocation`` — CRLs in the document security store (B-LT), when present:
   the signer chain must not be revoked at signing time (trusted timestamp, else
   the signed time); when they cover the chain, they stand in for CRLs the
   verifier lacks or holds only stale.
6. ``pdf_attachment`` — exactly one ``licence.cose``: a COSE_Sign1 by the same
   key as the PDF, whose payload digest is the QR's ``digest`` claim.
7. ``pdf_qr`` — the QR image on the signed page decodes (from the image XObject;
   no page rendering needed) and is verified by the ordinary QR verifier
   (trust, authorisation for the licence type, validity, policies), and its key
   is the PDF signer's key and its licence id the attachment's.

The attachment and the QR are read from the *signed* revision.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import struct
import zlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import zxingcpp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import (
    DEFAULT_PURPOSE_LIMITS,
    DecodeLimits,
    DecodePurpose,
    DocumentDecodeBudget,
    StreamDecodeLimits,
)
from pyhanko.pdf_utils.generic import IndirectObject
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from elicense.crypto.algorithms import Algorithm, verify_cose_signature
from elicense.crypto.keys import key_id
from elicense.crypto.pki import OID_EKU_LICENCE_SIGNING, common_name_of
from elicense.errors import ElicenseError
from elicense.model import require_utc
from elicense.pdf import ATTACHMENT_NAME
from elicense.qr import cbor
from elicense.qr.claims import record_digest
from elicense.qr.cose import parse_sign1
from elicense.qr.decode import read_qr_texts
from elicense.qr.payload import unwrap
from elicense.status.crl import index_crl, load_crl
from elicense.verdict import reasons as r
from elicense.verdict.reasons import (
    PDF_ATTACHMENT_MISMATCH,
    PDF_ATTACHMENT_MISSING,
    PDF_EXTRA_SIGNATURE,
    PDF_MALFORMED,
    PDF_MODIFIED,
    PDF_NOT_CERTIFIED,
    PDF_QR_MISMATCH,
    PDF_QR_MISSING,
    PDF_SIGNATURE_INVALID,
    PDF_SIGNER_MISMATCH,
    PDF_SIGNER_UNTRUSTED,
    PDF_TIMESTAMP_INVALID,
    PDF_TOO_COMPLEX,
    PDF_TOO_LARGE,
    PDF_UNSIGNED,
    CheckOutcome,
    Status,
)
from elicense.verdict.result import Check, Reason, VerificationResult

if TYPE_CHECKING:
    from elicense.trust.store import TrustedKey, TrustStore
    from elicense.verdict.context import LicenceVerifier

__all__ = ["MAX_PDF_BYTES", "verify_pdf"]

MAX_PDF_BYTES = 32 * 1024 * 1024
"""Largest PDF accepted."""
MAX_ATTACHMENT_BYTES = 256 * 1024
"""Largest embedded licence record accepted."""
MAX_IMAGES = 16
"""Most image XObjects inspected for the QR code."""
MAX_IMAGE_PIXELS = 4_000_000
"""Largest image XObject decoded while looking for the QR code."""
MAX_STREAM_DECODED = 16 * 1024 * 1024
"""Largest decoded PDF stream (Flate bombs); the whole document may decode to 4× this."""
MAX_DSS_CRLS = 16
"""Most CRLs read from the document security store."""
MAX_DSS_CRL_BYTES = 4 * 1024 * 1024
"""Largest CRL read from the document security store."""
MAX_REVISIONS = 16
"""Most revisions (xref sections chained by ``/Prev``): rendering, certification, then DSS and archive
timestamp pairs. pyHanko's difference analysis is quadratic in revisions (4,000 empty ones: 49 s), so this
and the two limits below are checked before it runs."""
MAX_XREF_SECTIONS = 2 * MAX_REVISIONS
"""Most xref sections (tables and streams) found by a byte scan (hybrid files have two per revision)."""
MAX_OBJECTS = 4096
"""Most objects (``n 0 obj`` in the bytes, xref entries, ``/Size``); a licence PDF has a few dozen."""


class _Fail(Exception):
    """A check failed: stop and report (internal control flow)."""

    def __init__(self, check: str, reason: Reason) -> None:
        super().__init__(reason.code)
        self.check = check
        self.reason = reason


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(_der(cert))


def verify_pdf(verifier: LicenceVerifier, data: bytes, *, at: dt.datetime | None = None) -> VerificationResult:
    """Verify a licence PDF; never raises for a failed check (misuse still raises)."""
    when = require_utc(at if at is not None else verifier.clock(), "at")
    checks: list[Check] = []
    try:
        return _verify(verifier, data, when, checks)
    except _Fail as fail:
        checks.append(Check(fail.check, _outcome(fail.reason.status), fail.reason.detail))
        return VerificationResult(
            status=fail.reason.status,
            reasons=(fail.reason,),
            checks=tuple(checks),
            verified_at=when,
            kind="pdf",
        )


def _outcome(status: Status) -> CheckOutcome:
    return CheckOutcome.FAILED if status is Status.INVALID else CheckOutcome.INDETERMINATE


def _verify(verifier: LicenceVerifier, data: bytes, when: dt.datetime, checks: list[Check]) -> VerificationResult:
    if len(data) > MAX_PDF_BYTES:
        raise _Fail("pdf_parse", Reason.of(PDF_TOO_LARGE, f"{len(data)} bytes"))
    tail = data[data.rfind(b"%%EOF") + 5 :] if b"%%EOF" in data[-4096:] else None
    if tail is None or tail.strip(b"\r\n\t \x00"):
        raise _Fail("pdf_parse", Reason.of(PDF_MALFORMED, "bytes after the last %%EOF"))
    _scan_structure(data)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True, decode_limits=_decode_limits())
        _check_parsed_structure(reader)
        signatures = list(reader.embedded_regular_signatures)
        doc_timestamps = list(reader.embedded_timestamp_signatures)
    except _Fail:
        raise
    except Exception as exc:  # pyHanko raises many types on hostile input
        raise _Fail("pdf_parse", Reason.of(PDF_MALFORMED, type(exc).__name__)) from None
    checks.append(Check("pdf_parse", CheckOutcome.PASSED))

    if not signatures:
        raise _Fail("pdf_signature", Reason.of(PDF_UNSIGNED))
    if len(signatures) > 1:
        raise _Fail("pdf_signature", Reason.of(PDF_EXTRA_SIGNATURE, f"{len(signatures)} signatures"))
    emb = signatures[0]
    status, signer_cert = _validate(verifier, emb, when)
    checks.append(Check("pdf_signature", CheckOutcome.PASSED, "PAdES, DocMDP P=1"))

    level = status.modification_level
    if level is None or level.name not in ("NONE", "LTA_UPDATES") or not status.docmdp_ok:
        raise _Fail("pdf_modifications", Reason.of(PDF_MODIFIED, level.name if level else "unknown"))
    _check_later_revisions(reader, emb.signed_revision, doc_timestamps)
    for ts in doc_timestamps:
        _check_doc_timestamp(verifier, ts, when)
    checks.append(
        Check(
            "pdf_modifications",
            CheckOutcome.PASSED,
            "no later revisions" if level.name == "NONE" else "validation data only",
        )
    )

    key = _trusted_key(verifier, signer_cert)
    if not status.trusted or key is None:
        raise _Fail("pdf_signer", Reason.of(PDF_SIGNER_UNTRUSTED, _cn(signer_cert)))
    checks.append(Check("pdf_signer", CheckOutcome.PASSED, key.authority.name))

    ts_validity = status.timestamp_validity
    if ts_validity is not None:
        if not (ts_validity.intact and ts_validity.valid):
            raise _Fail("pdf_timestamp", Reason.of(PDF_TIMESTAMP_INVALID, "signature timestamp"))
        checks.append(
            Check(
                "pdf_timestamp",
                CheckOutcome.PASSED if ts_validity.trusted else CheckOutcome.SKIPPED,
                ts_validity.timestamp.isoformat()
                if ts_validity.trusted
                else "timestamp authority not trusted: signing time taken from the signature",
            )
        )

    signed_at = min(
        require_utc(ts_validity.timestamp)
        if ts_validity is not None and ts_validity.trusted
        else require_utc(emb.self_reported_timestamp or when),
        when,
    )
    lt_covered = _embedded_revocation(reader, key, signed_at, checks)

    # the signed revision's catalogue; when nothing follows it, that is the current one, whose objects the
    # reader has already parsed (a historical resolver re-reads them all: ~2 ms)
    last = emb.signed_revision == reader.total_revisions - 1
    root = reader.root if last else reader.get_historical_root(emb.signed_revision)
    record = _attachment(root)
    digest, record_id = _check_record(record, key)
    checks.append(Check("pdf_attachment", CheckOutcome.PASSED))

    payload = _qr_payload(root, reader, emb.signed_revision, data)
    qr = verifier.verify(payload, at=when)
    if qr.licence is None:
        # the QR itself does not verify: report its reasons under the PDF
        return replace(qr, kind="pdf", checks=(*checks, *qr.checks))

    qr_kid = parse_sign1(unwrap(payload)).kid
    if qr_kid != key.kid:
        raise _Fail("pdf_qr", Reason.of(PDF_SIGNER_MISMATCH, "QR signed by another key"))
    if qr.licence.digest != digest or str(qr.licence.id) != record_id:
        raise _Fail("pdf_qr", Reason.of(PDF_QR_MISMATCH, str(qr.licence.id)))
    checks.append(Check("pdf_qr", CheckOutcome.PASSED, str(qr.licence.id)))
    if lt_covered:
        qr = _with_embedded_revocation(qr)
    return replace(qr, kind="pdf", checks=(*checks, *qr.checks))


_SUPPLIED_BY_DSS = frozenset({"revocation_unknown", "revocation_stale"})


def _with_embedded_revocation(qr: VerificationResult) -> VerificationResult:
    """B-LT: CRLs embedded at signing answer "no/stale CRL here" for the signer chain."""
    if not any(x.code in _SUPPLIED_BY_DSS for x in qr.reasons):
        return qr
    reasons = tuple(x for x in qr.reasons if x.code not in _SUPPLIED_BY_DSS)
    checks = tuple(
        Check(c.name, CheckOutcome.PASSED, "embedded CRLs (PAdES B-LT)") if c.name == "certificate_revocation" else c
        for c in qr.checks
    )
    status = r.worst(x.status for x in reasons) if reasons else Status.VALID
    return replace(qr, status=status, reasons=reasons, checks=checks)


def _embedded_revocation(reader: PdfFileReader, key: TrustedKey, signed_at: dt.datetime, checks: list[Check]) -> bool:
    """Check the signer chain against the CRLs in the document security store (B-LT).

    Same rule as the verifier's own CRLs (``elicense.status.store``): a certificate
    whose revocation took effect (invalidity date, else revocation date) at or
    before signing time is fatal, whatever the CRL's age; a later revocation is
    not. Only CRLs signed by the certificate's issuer count, and the chain is
    *covered* when each certificate has one that was current at signing time.
    Returns whether the whole chain is covered.
    """

    try:
        dss = reader.root.get("/DSS")
        refs = list(dss.get_object().get("/CRLs") or []) if dss is not None else []
        if len(refs) > MAX_DSS_CRLS:
            raise _Fail("pdf_revocation", Reason.of(PDF_TOO_LARGE, f"{len(refs)} CRLs in the DSS"))
        blobs = [bytes(ref.get_object().data) for ref in refs]
    except _Fail:
        raise
    except Exception as exc:
        raise _Fail("pdf_revocation", Reason.of(PDF_MALFORMED, f"DSS: {type(exc).__name__}")) from None
    if not blobs:
        return False
    pairs = list(itertools.pairwise(key.chain.chain))
    covered: set[int] = set()
    later: list[str] = []
    for blob in blobs:
        if len(blob) > MAX_DSS_CRL_BYTES:
            raise _Fail("pdf_revocation", Reason.of(PDF_TOO_LARGE, "CRL in the DSS"))
        try:
            crl = load_crl(blob)
        except ElicenseError:
            continue
        for i, (cert, issuer) in enumerate(pairs):
            if crl.issuer != issuer.subject:
                continue
            try:
                indexed = index_crl(crl, [issuer], serials={cert.serial_number})
            except ElicenseError:
                continue  # not signed by the issuer: proves nothing
            rev = indexed.lookup(cert.serial_number)
            if rev is not None and rev.effective <= signed_at:
                raise _Fail(
                    "pdf_revocation",
                    Reason.of(
                        r.SIGNING_KEY_REVOKED,
                        f"{_cn(cert)}: {rev.reason} since {rev.effective.isoformat()} (embedded CRL)",
                    ),
                )
            if rev is not None:
                later.append(f"{_cn(cert)} revoked after signing ({rev.effective.isoformat()})")
            if indexed.next_update >= signed_at:
                covered.add(i)
    whole = len(covered) == len(pairs)
    detail = "embedded CRLs cover the chain at signing time" if whole else "embedded CRLs cover part of the chain"
    checks.append(
        Check("pdf_revocation", CheckOutcome.PASSED if whole else CheckOutcome.SKIPPED, "; ".join([detail, *later]))
    )
    return whole


def _decode_limits() -> DecodeLimits:
    """Flate bombs: a licence PDF decodes to a few MiB; cap every stream and the whole document well below
    pyHanko's defaults for untrusted input (256 MiB), so a kiosk's memory stays bounded (threat model, R-PDF)."""
    mib = 1 << 20
    return DecodeLimits(
        per_stream=StreamDecodeLimits(max_ratio=1100, ratio_floor=mib, max_output_size=MAX_STREAM_DECODED),
        per_purpose={
            **DEFAULT_PURPOSE_LIMITS,
            DecodePurpose.OBJECT_STREAM: StreamDecodeLimits(max_ratio=100, ratio_floor=mib, max_output_size=4 * mib),
        },
        document_budget=DocumentDecodeBudget(base_allowance=4 * MAX_STREAM_DECODED, max_ratio=20),
    )


def _cn(cert: x509.Certificate) -> str:
    return common_name_of(cert)


def _validate(
    verifier: LicenceVerifier, emb: EmbeddedPdfSignature, when: dt.datetime
) -> tuple[PdfSignatureStatus, x509.Certificate]:
    """pyHanko validation of the one signature with explicit trust; returns status + signer."""

    try:
        if emb.docmdp_level is not MDPPerm.NO_CHANGES:
            raise _Fail("pdf_signature", Reason.of(PDF_NOT_CERTIFIED, str(emb.docmdp_level)))
        signer_cert = x509.load_der_x509_certificate(emb.signer_cert.dump())
        claimed = emb.self_reported_timestamp or when
        moment = min(require_utc(claimed), when)
        context = ValidationContext(
            trust_roots=_trust_certs(verifier)[0],
            other_certs=_trust_certs(verifier)[1],
            allow_fetching=False,
            revocation_mode="soft-fail",
            moment=moment,
            best_signature_time=moment,
        )
        usage = KeyUsageConstraints(
            key_usage={"non_repudiation", "digital_signature"},
            extd_key_usage={OID_EKU_LICENCE_SIGNING.dotted_string},
            explicit_extd_key_usage_required=True,
        )
        status = validate_pdf_signature(emb, signer_validation_context=context, key_usage_settings=usage)
    except _Fail:
        raise
    except Exception as exc:
        raise _Fail("pdf_signature", Reason.of(PDF_MALFORMED, f"signature: {type(exc).__name__}")) from None
    if not (status.intact and status.valid):
        raise _Fail("pdf_signature", Reason.of(PDF_SIGNATURE_INVALID))
    if status.coverage is None or status.coverage.name not in ("ENTIRE_FILE", "ENTIRE_REVISION"):
        raise _Fail("pdf_signature", Reason.of(PDF_SIGNATURE_INVALID, "coverage"))
    return status, signer_cert


_TRUST_CERTS: dict[int, tuple[TrustStore, list[asn1_x509.Certificate], list[asn1_x509.Certificate]]] = {}


def _trust_certs(verifier: LicenceVerifier) -> tuple[list[asn1_x509.Certificate], list[asn1_x509.Certificate]]:
    """asn1crypto roots and intermediates of the verifier's trust store, parsed once per store.

    Fresh asn1crypto objects recompute every name's RFC 4518 string preparation (slow for CJK
    names) on each validation: ~2 ms, a third of pyHanko's own validation time. Keyed by the
    store's identity; the entry holds the store so its id cannot be reused.
    """
    trust = verifier.trust
    hit = _TRUST_CERTS.get(id(trust))
    if hit is not None and hit[0] is trust:
        return hit[1], hit[2]
    roots = [_asn1(c) for c in trust.roots]
    inter = _intermediates(verifier)
    if len(_TRUST_CERTS) >= 16:
        _TRUST_CERTS.clear()
    _TRUST_CERTS[id(trust)] = (trust, roots, inter)
    return roots, inter


def _intermediates(verifier: LicenceVerifier) -> list[asn1_x509.Certificate]:
    seen: dict[bytes, x509.Certificate] = {}
    for keys in verifier.trust.keys.values():
        for k in keys:
            for cert in k.chain.chain[1:-1]:
                seen.setdefault(_der(cert), cert)
    return [_asn1(c) for c in seen.values()]


def _check_doc_timestamp(verifier: LicenceVerifier, ts: EmbeddedPdfSignature, when: dt.datetime) -> None:
    """A document timestamp (B-LTA) must be intact *and* from a trusted TSA: PAdES exempts validation
    data from DocMDP P=1, and a timestamp nobody can trust is not validation data, just a change."""

    try:
        roots, others = _trust_certs(verifier)
        context = ValidationContext(trust_roots=roots, other_certs=others, allow_fetching=False, moment=when)
        st = validate_pdf_timestamp(ts, validation_context=context)
    except Exception as exc:
        raise _Fail("pdf_modifications", Reason.of(PDF_TIMESTAMP_INVALID, type(exc).__name__)) from None
    if not (st.intact and st.valid):
        raise _Fail("pdf_modifications", Reason.of(PDF_TIMESTAMP_INVALID, "document timestamp"))
    if not st.trusted:
        raise _Fail(
            "pdf_modifications",
            Reason.of(PDF_MODIFIED, "document timestamp from an untrusted TSA after the certification"),
        )


_END = rb"(?![^\s/<>\[\]()%{}])"
_XREF_SECTION = re.compile(rb"(?<!start)xref\b|/(?:X|#58)(?:R|#52)(?:e|#65)(?:f|#66)" + _END)
"""An xref table, or an xref stream's ``/XRef`` name in any spelling (``/X#52ef``: name escapes)."""
_PREV = re.compile(rb"/(?:P|#50)(?:r|#72)(?:e|#65)(?:v|#76)" + _END)
_OBJECT = re.compile(rb"(?<!\d)\d++\s++\d++\s++obj\b")  # possessive: linear on long digit runs


def _scan_structure(data: bytes) -> None:
    """Count revisions, xref sections and objects in the raw bytes (linear, before any parsing).

    Catches the plain form of a revision bomb before pyHanko reads a single xref section; a section
    spelt to dodge the scan (``/Type /X#52ef``) is matched in every spelling, and
    :func:`_check_parsed_structure` checks what pyHanko parsed, still before any analysis.
    """
    revisions = max(data.count(b"startxref"), len(_PREV.findall(data)) + 1)
    # Every match of a pattern holds one of these literals and matches do not overlap, so their
    # count bounds the matches from above: the regular expression runs only when the bound exceeds
    # the limit (counting a literal is ~50x cheaper than the scan; the scans were ~4 ms of a licence PDF).
    sections = data.count(b"xref") + data.count(b"/X") + data.count(b"/#58")
    if sections > MAX_XREF_SECTIONS:
        sections = len(_XREF_SECTION.findall(data))
    if revisions > MAX_REVISIONS or sections > MAX_XREF_SECTIONS:
        raise _Fail("pdf_parse", Reason.of(PDF_TOO_COMPLEX, f"{revisions} revisions, {sections} xref sections"))
    objects = data.count(b"obj")
    if objects > MAX_OBJECTS:
        objects = sum(1 for _ in itertools.islice(_OBJECT.finditer(data), MAX_OBJECTS + 1))
    if objects > MAX_OBJECTS:
        raise _Fail("pdf_parse", Reason.of(PDF_TOO_COMPLEX, f"more than {MAX_OBJECTS} objects"))


def _check_parsed_structure(reader: PdfFileReader) -> None:
    """The same limits on what pyHanko parsed (xref entries, ``/Size``), before any analysis."""
    xrefs = reader.xrefs
    revisions = xrefs.total_revisions
    if revisions > MAX_REVISIONS:
        raise _Fail("pdf_parse", Reason.of(PDF_TOO_COMPLEX, f"{revisions} revisions"))
    entries = sum(len(xrefs.explicit_refs_in_revision(i)) for i in range(revisions))
    size = reader.trailer_view.get("/Size", 0)
    if entries > MAX_OBJECTS or not isinstance(size, int) or size > MAX_OBJECTS:
        raise _Fail("pdf_parse", Reason.of(PDF_TOO_COMPLEX, f"{entries} xref entries, /Size {size}"))


_CATALOGUE_KEYS_AFTER_SIGNING = frozenset({"/DSS", "/AcroForm", "/Extensions"})
"""Catalogue entries a later revision may change: validation data, and the form field of a document
timestamp (pyHanko's difference analysis then checks what changed inside them)."""


def _check_later_revisions(  # Any: pyHanko annotates its xrefs as Reference where they yield (n, g)
    reader: Any, signed: int, doc_timestamps: list[EmbeddedPdfSignature]
) -> None:
    """What pyHanko's difference analysis lets through after a P=1 certification, refused here.

    Each revision after the signed one must write something (no empty revisions), must not touch the
    document information dictionary (``/Info``) or the XMP metadata, must not change ``/NeedAppearances``
    or catalogue entries other than :data:`_CATALOGUE_KEYS_AFTER_SIGNING`, and every object it writes must
    be reachable from its trailer (no orphans: hidden content, or objects a later ``/Prev`` trick could
    bring to life). Linear in objects × later revisions, both bounded before this runs.
    """

    xrefs = reader.xrefs
    total = xrefs.total_revisions
    if signed >= total - 1:
        return
    signed_view = reader.get_historical_resolver(signed)
    signed_form = _need_appearances(signed_view)
    previous = signed_view
    for rev in range(signed + 1, total):
        view = reader.get_historical_resolver(rev)
        where = f"revision {rev + 1} of {total}"

        def fail(what: str, where: str = where) -> _Fail:
            return _Fail("pdf_modifications", Reason.of(PDF_MODIFIED, f"{what} ({where}, after the certification)"))

        written = set(xrefs.explicit_refs_in_revision(rev))
        if xrefs.refs_freed_in_revision(rev):
            raise fail("objects freed")
        containers = set(xrefs.xref_stream_refs) | set(xrefs.object_streams_used_in(rev))
        written = {(ref.idnum, ref.generation) for ref in written} - {(c.idnum, c.generation) for c in containers}
        if not written:
            raise fail("empty revision")
        trailer, before = view.trailer_view, previous.trailer_view
        info = trailer.raw_get("/Info") if "/Info" in trailer else None
        before_info = before.raw_get("/Info") if "/Info" in before else None
        if info != before_info and not (  # PDF/A keeps metadata in XMP: a writer may add /Info with its stamps
            before_info is None and isinstance(info, IndirectObject) and _info_facts(view, info) == {}
        ):
            raise fail("/Info replaced")
        if (
            isinstance(info, IndirectObject)
            and before_info is not None
            and (info.idnum, info.generation) in written
            and _info_facts(view, info) != _info_facts(previous, info)
        ):
            raise fail("/Info changed")
        root, old_root = view.root, previous.root
        for key in set(root) | set(old_root):
            if key in _CATALOGUE_KEYS_AFTER_SIGNING:
                continue
            if (root.raw_get(key) if key in root else None) != (old_root.raw_get(key) if key in old_root else None):
                raise fail(f"catalogue {key} changed")
        meta = root.raw_get("/Metadata") if "/Metadata" in root else None
        if (
            isinstance(meta, IndirectObject)
            and (meta.idnum, meta.generation) in written
            and _xmp_facts(view, meta) != _xmp_facts(previous, meta)
        ):
            raise fail("XMP metadata changed")
        if _need_appearances(view) != signed_form:
            raise fail("/NeedAppearances changed")
        orphans = written - _reachable(view, trailer, written)
        if orphans:
            listed = ", ".join(f"{n} {g} R" for n, g in sorted(orphans)[:3])
            raise fail(f"{len(orphans)} unreferenced objects ({listed})")
        previous = view


_XMP_WRITER_STAMPS = re.compile(rb'\b(xmp:ModifyDate|xmp:MetadataDate|pdf:Producer|x:xmptk)(="[^"]*"|>[^<]*<)')


def _xmp_facts(view: HistoricalResolver, ref: IndirectObject) -> bytes | None:
    """The XMP packet less what every PDF writer restamps on save (modify/metadata date, producer): pyHanko
    rewrites those when it adds validation data or a timestamp; any other difference is an edit."""
    try:
        data = bytes(view(ref.reference).data)
    except Exception:
        return None
    return _XMP_WRITER_STAMPS.sub(rb"\1", data)


_INFO_WRITER_STAMPS = frozenset({"/ModDate", "/Producer"})


def _info_facts(view: HistoricalResolver, ref: IndirectObject) -> dict[str, str] | None:
    """The document information dictionary less what a PDF writer restamps on save (as for XMP)."""
    try:
        info = view(ref.reference)
        return {str(k): repr(info.raw_get(k)) for k in info if k not in _INFO_WRITER_STAMPS}
    except Exception:
        return None


def _need_appearances(view: HistoricalResolver) -> object:
    form = view.root.get("/AcroForm")
    form = form.get_object() if form is not None else None
    value = form.get("/NeedAppearances") if form is not None else None
    return value.get_object() if value is not None else None


def _reachable(
    view: HistoricalResolver, trailer: generic.DictionaryObject, wanted: set[tuple[int, int]]
) -> set[tuple[int, int]]:
    """The objects of ``wanted`` reachable from ``trailer`` in one revision (stops once all are found)."""

    found: set[tuple[int, int]] = set()
    seen: set[tuple[int, int]] = set()
    stack: list[generic.PdfObject] = [trailer.raw_get(k) for k in trailer if k not in ("/Prev", "/XRefStm")]
    budget = 4 * MAX_OBJECTS
    while stack and found != wanted and budget > 0:
        budget -= 1
        item: generic.PdfObject = stack.pop()
        if isinstance(item, generic.IndirectObject):
            ref = (item.idnum, item.generation)
            if ref in seen:
                continue
            seen.add(ref)
            if ref in wanted:
                found.add(ref)
            try:
                item = view(item.reference)
            except Exception:  # noqa: S112 - a dangling reference reaches nothing
                continue
        if isinstance(item, generic.DictionaryObject):  # streams too
            stack.extend(item.raw_get(k) for k in item)
        elif isinstance(item, generic.ArrayObject):
            stack.extend(item.raw_get(i) for i in range(len(item)))
    return found


def _trusted_key(verifier: LicenceVerifier, cert: x509.Certificate) -> TrustedKey | None:
    """The trusted key whose certificate is exactly ``cert`` (kids may collide)."""
    der = _der(cert)
    for candidate in verifier.trust.candidates(key_id(cert)):
        if _der(candidate.certificate) == der:
            return candidate
    return None


def _attachment(root: generic.DictionaryObject) -> bytes:
    """The one ``licence.cose`` in the signed revision's EmbeddedFiles name tree."""

    try:
        names = root.get("/Names")
        tree = names.get("/EmbeddedFiles") if names is not None else None
        flat = tree.get("/Names") if tree is not None else None
        if tree is not None and "/Kids" in tree:
            raise _Fail("pdf_attachment", Reason.of(PDF_ATTACHMENT_MISMATCH, "nested name tree"))
        entries = list(flat) if flat is not None else []
        found = []
        for i in range(0, len(entries) - 1, 2):
            if str(entries[i]) == ATTACHMENT_NAME:
                found.append(entries[i + 1].get_object())
        if len(found) != 1:
            reason = PDF_ATTACHMENT_MISSING if not found else PDF_ATTACHMENT_MISMATCH
            raise _Fail("pdf_attachment", Reason.of(reason, f"{len(found)} × {ATTACHMENT_NAME}"))
        stream = found[0]["/EF"]["/F"].get_object()
        length = int(stream.get("/Length", 0))
        if length > MAX_ATTACHMENT_BYTES:
            raise _Fail("pdf_attachment", Reason.of(PDF_TOO_LARGE, "attachment"))
        data = stream.data
    except _Fail:
        raise
    except Exception as exc:
        raise _Fail("pdf_attachment", Reason.of(PDF_ATTACHMENT_MISSING, type(exc).__name__)) from None
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise _Fail("pdf_attachment", Reason.of(PDF_TOO_LARGE, "attachment"))
    return bytes(data)


def _check_record(record: bytes, key: TrustedKey) -> tuple[bytes, str]:
    """Verify the embedded COSE record with the PDF signer's key; return (digest, licence id)."""

    try:
        message = parse_sign1(record)
        alg = Algorithm.from_cose_id(message.alg_id)
    except ElicenseError as exc:
        raise _Fail("pdf_attachment", Reason.of(PDF_ATTACHMENT_MISMATCH, exc.message)) from None
    if message.kid != key.kid or alg is not key.algorithm:
        raise _Fail("pdf_attachment", Reason.of(PDF_SIGNER_MISMATCH, "record signed by another key"))
    if not verify_cose_signature(key.public_key, alg, message.signature, message.to_be_signed()):
        raise _Fail("pdf_attachment", Reason.of(PDF_ATTACHMENT_MISMATCH, "record signature invalid"))
    try:
        doc = cbor.loads(message.payload, max_depth=4)
        licence_id = doc["id"] if isinstance(doc, dict) else None
    except (ElicenseError, KeyError):
        licence_id = None
    if not isinstance(licence_id, str):
        raise _Fail("pdf_attachment", Reason.of(PDF_ATTACHMENT_MISMATCH, "record has no licence id"))
    return record_digest(message.payload), licence_id


def _qr_payload(root: generic.DictionaryObject, reader: PdfFileReader, revision: int, data: bytes) -> str:
    """The ``EL2:`` text of the QR on the signed pages (image XObjects, else a page render)."""

    seen = 0
    try:
        pages = _pages(root)
        for page in pages:
            resources = page.get("/Resources")
            resources = resources.get_object() if resources is not None else None
            xobjects = resources.get("/XObject") if resources is not None else None
            xobjects = xobjects.get_object() if xobjects is not None else None
            if xobjects is None:
                continue
            for _name, ref in xobjects.items():
                obj = ref.get_object()
                if obj.get("/Subtype") != "/Image":
                    continue
                seen += 1
                if seen > MAX_IMAGES:
                    break
                found = _fast_qr_texts(obj)
                if not found:
                    png = _image_png(obj)
                    if png is None:
                        continue
                    found = read_qr_texts(png)
                texts = [t for t in found if t.startswith("EL2:")]
                if len(texts) == 1:
                    return texts[0]
                if len(texts) > 1:
                    raise _Fail("pdf_qr", Reason.of(PDF_QR_MISMATCH, "several licence QR codes"))
    except _Fail:
        raise
    except Exception:  # noqa: S110 - unusual image encodings: fall back to rendering the page
        pass
    return _qr_from_render(data)


def _fast_qr_texts(obj: generic.StreamObject) -> list[str]:
    """First try for a clean QR image XObject (what ``elicense.pdf.render`` embeds): ~0.4 ms, not ~2.

    Only 8-bit DeviceGray Flate data whose PNG row filters are all "None" (fpdf2's output) is taken:
    inflated under a hard size bound, rows unpadded, reduced to about 2 px per module, one plain
    zxing-cpp pass (no rotation, inversion or downscale retries). ``[]`` sends the caller to the full
    decoder. Whatever is read is still verified and cross-checked against the signed attachment.
    """

    try:
        width, height = int(obj["/Width"]), int(obj["/Height"])
        params = obj.get("/DecodeParms")
        if (
            not 0 < width * height <= MAX_IMAGE_PIXELS
            or str(obj.get("/ColorSpace")) != "/DeviceGray"
            or int(obj.get("/BitsPerComponent", 0)) != 8
            or obj.get("/Filter") != "/FlateDecode"
            or params is None
            or int(params.get("/Predictor", 1)) < 10
            or int(params.get("/Colors", 1)) != 1
            or int(params.get("/Columns", 0)) != width
        ):
            return []
        row = width + 1
        inflater = zlib.decompressobj()
        data = inflater.decompress(bytes(obj.encoded_data), row * height + 1)
        if len(data) != row * height or not inflater.eof or data[::row] != bytes(height):
            return []
        image = Image.frombytes("L", (row, height), data).crop((1, 0, row, height))  # drop the filter bytes
        factor = min(width, height) // 150  # ≥ 150 px left: ≥ 2 px per module up to version 15
        if factor >= 2:
            image = image.resize((width // factor, height // factor), Image.Resampling.NEAREST)
        qr_only: Any = zxingcpp.BarcodeFormat.QRCode
        found = zxingcpp.read_barcodes(image, formats=qr_only, try_rotate=False, try_downscale=False, try_invert=False)
    except (ImportError, ElicenseError, ValueError, RuntimeError, TypeError, KeyError, zlib.error):
        return []
    return [r.text for r in found if r.valid and r.text]


def _pages(root: generic.DictionaryObject) -> list[generic.DictionaryObject]:
    out: list[generic.DictionaryObject] = []
    stack = [root["/Pages"]]
    while stack and len(out) < 16:
        node = stack.pop().get_object()
        if node.get("/Type") == "/Pages":
            stack.extend(reversed(list(node.get("/Kids", []))))
        else:
            out.append(node)
    return out


def _image_png(obj: generic.StreamObject) -> bytes | None:
    """A PNG of a simple image XObject (8-bit grey or RGB, Flate with PNG predictors).

    Flate data with PNG predictors *is* a PNG ``IDAT`` stream, so it is wrapped in a
    PNG container and decoded by Pillow (with its own bounds), not by hand.
    """

    width, height = int(obj["/Width"]), int(obj["/Height"])
    if width * height > MAX_IMAGE_PIXELS or width <= 0 or height <= 0:
        return None
    colour = {"/DeviceGray": (0, 1), "/DeviceRGB": (2, 3)}.get(str(obj.get("/ColorSpace")))
    params = obj.get("/DecodeParms")
    if (
        colour is None
        or int(obj.get("/BitsPerComponent", 0)) != 8
        or obj.get("/Filter") != "/FlateDecode"
        or params is None
        or int(params.get("/Predictor", 1)) < 10
        or int(params.get("/Colors", 1)) != colour[1]
        or int(params.get("/Columns", 0)) != width
    ):
        return None

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour[0], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", bytes(obj.encoded_data)) + chunk(b"IEND", b"")


def _qr_from_render(data: bytes) -> str:
    """Render the pages with PDFium (forms included) and look for the licence QR."""

    try:
        doc = pdfium.PdfDocument(data)
        doc.init_forms()
        for index in range(min(len(doc), 4)):
            page = doc[index]
            image = page.render(scale=150 / 72, may_draw_forms=True).to_pil()
            buf = io.BytesIO()
            image.convert("L").save(buf, format="PNG")
            texts = [t for t in read_qr_texts(buf.getvalue()) if t.startswith("EL2:")]
            if texts:
                return texts[0]
    except Exception as exc:
        raise _Fail("pdf_qr", Reason.of(PDF_QR_MISSING, type(exc).__name__)) from None
    raise _Fail("pdf_qr", Reason.of(PDF_QR_MISSING))
