"""Check an OFD document's signatures as a container: what each one covers, and whether it still matches.

For every signature listed in ``Signatures.xml`` (GB/T 33190 §18), in order:

1. ``Signature.xml`` is read; every ``Reference`` digest is recomputed with its
   ``CheckMethod`` (SM3 by name or by OID ``1.2.156.10197.1.401``; SHA-256 is
   computed too; MD5/SHA-1 — the standard's old default — are refused) and a file
   that changed after signing, or is missing, is named exactly;
2. ``SignedValue.dat`` is classified (SES_Signature v1/v4/v5, GB/T 35275
   ``SignedData``, bare SM2 ``SEQUENCE{r,s}``) and the digest it claims is compared
   with SM3 of ``Signature.xml`` (a value moved from another document fails here);
3. ``Seal.esl``, when present, must be the seal inside the SES signature;
4. coverage: the files of the package no signature covers (a page nobody signed is
   reported, and so is any other file, except the signature machinery itself), the
   files a signature does not cover (added or left open after it), which signatures
   cover others, and whether the signature list itself is protected.

This is the carrier half of OFD verification: it says what was signed and whether
the package still matches it, as checks and reasons in the project's verdict
vocabulary. The signatures' cryptography (the signer and seal-maker signatures,
certificates, validity) is checked by :mod:`elicense.seal`, and the Verifier
combines both; :attr:`OfdReport.crypto_checked` is ``False`` until it has.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import posixpath
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from elicense.crypto.algorithms import Algorithm, verify_cose_signature
from elicense.errors import ElicenseError
from elicense.ofd.der import SignedValueInfo, signed_value_info
from elicense.ofd.document import (
    children,
    document_pages,
    first_child,
    read_licence_tags,
    text_of,
)
from elicense.ofd.package import OfdError, OfdLimitError, Package, read_package, resolve
from elicense.qr import cbor
from elicense.qr.claims import record_digest
from elicense.qr.cose import parse_sign1
from elicense.qr.decode import read_payloads
from elicense.qr.payload import PREFIX, unwrap
from elicense.seal.api import verify_ses, verify_signed_data
from elicense.seal.verify import trust_from_store
from elicense.verdict import reasons as r
from elicense.verdict.reasons import (
    OFD_CHECK_METHOD_NOT_ALLOWED,
    OFD_DATA_HASH_MISMATCH,
    OFD_FILE_MISSING,
    OFD_FILE_MODIFIED,
    OFD_FILE_NOT_SIGNED,
    OFD_MALFORMED,
    OFD_PAGE_NOT_SIGNED,
    OFD_QR_MISSING,
    OFD_RECORD_MISMATCH,
    OFD_SEAL_MISMATCH,
    OFD_SIGNATURE_NO_CERTIFICATE,
    OFD_SIGNATURE_NOT_VERIFIED,
    OFD_SIGNATURE_UNREADABLE,
    OFD_SIGNER_MISMATCH,
    OFD_TOO_LARGE,
    OFD_UNSIGNED,
    CheckOutcome,
    Status,
    worst,
)
from elicense.verdict.result import Check, Reason, VerificationResult, passed

if TYPE_CHECKING:
    from lxml import etree

    from elicense.verdict.context import LicenceVerifier

__all__ = [
    "OfdReport",
    "ReferenceResult",
    "SignatureReport",
    "StampAnnot",
    "check_ofd",
    "check_package",
    "document_pages",
    "sm3",
    "verify_ofd",
]

MAX_SIGNATURES = 32
"""Most signatures examined in one document."""
MAX_REFERENCES = 2048
"""Most references per signature."""


SM3_NAMES = frozenset({"SM3", "1.2.156.10197.1.401", "1.2.156.10197.1.401.1", "1.2.156.10197.1.401.2"})
SHA256_NAMES = frozenset({"SHA256", "SHA-256", "2.16.840.1.101.3.4.2.1"})
WEAK_NAMES = frozenset({"MD5", "SHA1", "SHA-1", "1.2.840.113549.2.5", "1.3.14.3.2.26"})


def sm3(data: bytes) -> bytes:
    """SM3 digest (``cryptography``'s ``hashes.SM3``)."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _digest(method: str, data: bytes) -> bytes | None:
    """``data`` digested with a ``CheckMethod``; ``None`` if the method is not one we accept."""
    name = method.strip().upper()
    if name in SM3_NAMES or name.startswith("1.2.156.10197.1.401."):
        return sm3(data)
    if name in SHA256_NAMES:
        return hashlib.sha256(data).digest()
    return None


@dataclass(frozen=True)
class ReferenceResult:
    """One ``Reference`` of a signature, recomputed."""

    path: str
    """The package path it names (``/Doc_0/Document.xml``)."""
    outcome: Literal["ok", "modified", "missing", "unchecked"]
    """``ok``: the digest matches; ``modified``: it does not; ``missing``: no such file; ``unchecked``: digest
    method not accepted."""


@dataclass(frozen=True)
class StampAnnot:
    """Where a seal is drawn: ``PageRef`` and ``Boundary`` (mm)."""

    id: str
    """Annotation ID."""
    page_ref: str
    """ID of the page (``Page@ID`` in Document.xml)."""
    boundary: tuple[float, float, float, float] | None
    """``x y w h`` in millimetres."""


@dataclass(frozen=True)
class SignatureReport:
    """One signature of the document, as a container sees it."""

    id: str
    """``Signature@ID`` in Signatures.xml."""
    type: str
    """``Seal`` (electronic seal, SES) or ``Sign`` (digital signature, GB/T 35275)."""
    signature_path: str
    """Package path of its Signature.xml (``/Doc_0/Signs/Sign_0/Signature.xml``)."""
    signed_value_path: str | None
    """Package path of SignedValue.dat."""
    seal_path: str | None
    """Package path of Seal.esl, if the signature names one."""
    check_method: str
    """``References@CheckMethod`` as written."""
    signature_method: str | None
    """``SignatureMethod`` as written."""
    signature_time: str | None
    """``SignatureDateTime`` as written."""
    references: tuple[ReferenceResult, ...]
    """Every reference, recomputed."""
    stamp_annots: tuple[StampAnnot, ...]
    """Where the seal is drawn."""
    signature_xml_sm3: bytes
    """SM3 of Signature.xml: what the signature value must sign."""
    info: SignedValueInfo
    """What SignedValue.dat claims."""
    signed_value: bytes = field(repr=False)
    """SignedValue.dat."""
    seal_file: bytes | None = field(repr=False)
    """Seal.esl, when present."""
    covers_signatures: tuple[str, ...]
    """IDs of the earlier signatures whose Signature.xml or SignedValue.dat this one covers."""
    protects_signature_list: bool
    """Whether Signatures.xml is among its references (no signature can be added without breaking it)."""
    not_covered: tuple[str, ...]
    """Files of the package this signature does not cover (beyond its own Signature.xml and SignedValue.dat)."""
    checks: tuple[Check, ...]
    """Its checks."""
    reasons: tuple[Reason, ...]
    """Its problems (empty: the container part is intact)."""

    @property
    def intact(self) -> bool:
        """Whether every reference matches and the value signs this Signature.xml."""
        return not any(x.status is Status.INVALID for x in self.reasons)


@dataclass(frozen=True)
class OfdReport:
    """The container verdict on an OFD document."""

    signatures: tuple[SignatureReport, ...]
    """Every signature, in the order of Signatures.xml."""
    pages: tuple[str, ...]
    """Package paths of the pages' Content.xml, in document order."""
    uncovered: tuple[str, ...]
    """Files no signature covers (signature machinery excluded)."""
    checks: tuple[Check, ...]
    """Document-level checks, then each signature's."""
    reasons: tuple[Reason, ...]
    """Every problem found."""
    package: Package | None = field(default=None, repr=False)
    """The package read (``None`` when it could not be read)."""
    crypto_checked: bool = False
    """Whether the signatures' cryptography was verified (set by the Verifier, not here)."""

    @property
    def status(self) -> Status:
        """Worst of the reasons (VALID only if intact; the Verifier adds the cryptography)."""
        return worst(x.status for x in self.reasons)

    def result(self, at: dt.datetime) -> VerificationResult:
        """As a :class:`VerificationResult` (``kind="ofd"``); without the cryptography it is at best INDETERMINATE."""
        reasons = self.reasons
        if not self.crypto_checked and self.signatures:
            reasons = (*reasons, Reason.of(OFD_SIGNATURE_NOT_VERIFIED))
        res = VerificationResult(worst(x.status for x in reasons), reasons, self.checks, at, kind="ofd")
        return res


def check_ofd(data: bytes) -> OfdReport:
    """Read ``data`` within bounds and check every signature's container part; never raises on bad input."""
    try:
        package = read_package(data)
    except OfdLimitError as exc:
        return _failed(OFD_TOO_LARGE, exc)
    except OfdError as exc:
        return _failed(OFD_MALFORMED, exc)
    return check_package(package)


def _failed(code: r.ReasonCode, exc: OfdError) -> OfdReport:
    check = Check("ofd_package", CheckOutcome.FAILED, exc.message)
    return OfdReport((), (), (), (check,), (Reason.of(code, exc.message),))


def check_package(package: Package) -> OfdReport:
    """:func:`check_ofd` on a package already read."""
    try:
        return _check(package)
    except OfdLimitError as exc:
        return _failed(OFD_TOO_LARGE, exc)
    except OfdError as exc:
        return _failed(OFD_MALFORMED, exc)


def _check(package: Package) -> OfdReport:
    pages, signature_lists = document_pages(package)
    checks: list[Check] = [passed("ofd_package", f"{len(package.files)} files, {len(pages)} page(s)")]
    reasons: list[Reason] = []
    for _, path in pages:
        if path not in package:
            reasons.append(Reason.of(OFD_FILE_MISSING, f"page /{path}"))
    entries: list[tuple[str, etree._Element, str]] = []  # (Signatures.xml path, Signature element, its dir)
    for list_path in signature_lists:
        sig_root = package.xml(list_path)
        for sig in children(sig_root, "Signature"):
            entries.append((list_path, sig, posixpath.dirname(list_path)))
    if len(entries) > MAX_SIGNATURES:
        raise OfdLimitError(f"more than {MAX_SIGNATURES} signatures", message_zh="签章数量过多")
    if not entries:
        checks.append(Check("ofd_signatures", CheckOutcome.FAILED, "no signature"))
        reasons.append(Reason.of(OFD_UNSIGNED))
        return OfdReport(
            (), tuple(p for _, p in pages), tuple(sorted(package.files)), tuple(checks), tuple(reasons), package
        )
    checks.append(passed("ofd_signatures", f"{len(entries)} signature(s)"))
    reports: list[SignatureReport] = []
    own_files: dict[str, str] = {}  # Signature.xml / SignedValue.dat / Seal.esl path -> signature id
    for list_path, element, list_dir in entries:
        report = _signature(package, element, list_dir, list_path, reports, own_files)
        reports.append(report)
    machinery = set(signature_lists) | set(own_files)
    covered: set[str] = set()
    for rep in reports:
        covered.update(x.path.lstrip("/") for x in rep.references if x.outcome != "missing")
    page_paths = {p for _, p in pages}
    uncovered = tuple(sorted(p for p in package.files if p not in covered and p not in machinery))
    for path in uncovered:
        code = OFD_PAGE_NOT_SIGNED if path in page_paths else OFD_FILE_NOT_SIGNED
        reasons.append(Reason.of(code, f"/{path}"))
    checks.append(
        Check("ofd_coverage", CheckOutcome.FAILED, "not signed: " + ", ".join("/" + p for p in uncovered))
        if uncovered
        else passed("ofd_coverage", "every file is signed")
    )
    for rep in reports:
        checks.extend(rep.checks)
        reasons.extend(rep.reasons)
    return OfdReport(tuple(reports), tuple(p for _, p in pages), uncovered, tuple(checks), tuple(reasons), package)


def _signature(
    package: Package,
    element: etree._Element,
    list_dir: str,
    list_path: str,
    earlier: list[SignatureReport],
    own_files: dict[str, str],
) -> SignatureReport:
    sid = element.get("ID", "") or f"#{len(earlier) + 1}"
    kind = element.get("Type", "Seal") or "Seal"
    base = element.get("BaseLoc")
    label = f"signature {sid}"
    checks: list[Check] = []
    reasons: list[Reason] = []
    if not base:
        raise OfdError(f"{label} has no BaseLoc", message_zh=f"签章 {sid} 缺少 BaseLoc")
    sig_path = resolve(list_dir, base)
    sig_bytes = package.read(sig_path)
    sig_root = package.xml(sig_path)
    sig_dir = posixpath.dirname(sig_path)
    own_files[sig_path] = sid
    info_el = first_child(sig_root, "SignedInfo")
    if info_el is None:
        raise OfdError(f"{label}: Signature.xml has no SignedInfo", message_zh=f"签章 {sid} 缺少 SignedInfo")
    value_loc = text_of(first_child(sig_root, "SignedValue"))
    value_path = resolve(sig_dir, value_loc) if value_loc else None
    seal_el = first_child(info_el, "Seal")
    seal_loc = text_of(first_child(seal_el, "BaseLoc")) if seal_el is not None else None
    seal_path = resolve(sig_dir, seal_loc) if seal_loc else None
    refs_el = first_child(info_el, "References")
    method = (refs_el.get("CheckMethod") if refs_el is not None else None) or "MD5"  # GB/T 33190's default
    references: list[ReferenceResult] = []
    ref_elements = children(refs_el, "Reference") if refs_el is not None else []
    if len(ref_elements) > MAX_REFERENCES:
        raise OfdLimitError(f"{label}: too many references", message_zh=f"签章 {sid} 的引用过多")
    accepted = _digest(method, b"") is not None
    for ref in ref_elements:
        path = _ref_path(package, ref.get("FileRef", ""), sig_dir)
        value = text_of(first_child(ref, "CheckValue")) or ""
        display = "/" + path
        if path not in package:
            references.append(ReferenceResult(display, "missing"))
            reasons.append(Reason.of(OFD_FILE_MISSING, f"{sid}: {display}"))
            continue
        if not accepted:
            references.append(ReferenceResult(display, "unchecked"))
            continue
        try:
            expected = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            expected = b""
        ok = _digest(method, package.files[path]) == expected
        references.append(ReferenceResult(display, "ok" if ok else "modified"))
        if not ok:
            reasons.append(Reason.of(OFD_FILE_MODIFIED, f"{sid}: {display}"))
    if not accepted:
        reasons.append(Reason.of(OFD_CHECK_METHOD_NOT_ALLOWED, f"{sid}: CheckMethod {method}"))
    bad = [x.path for x in references if x.outcome in ("modified", "missing")]
    checks.append(
        Check("ofd_references", CheckOutcome.FAILED, f"{sid}: changed or missing: {', '.join(bad)}")
        if bad
        else Check(
            "ofd_references",
            CheckOutcome.PASSED if accepted else CheckOutcome.FAILED,
            f"{sid}: {len(references)} reference(s) {method}",
        )
    )
    digest = sm3(sig_bytes)
    signed_value = b""
    if value_path is None or value_path not in package:
        reasons.append(Reason.of(OFD_FILE_MISSING, f"{sid}: SignedValue.dat"))
        info = SignedValueInfo("unknown", problem="no SignedValue.dat")
    else:
        own_files[value_path] = sid
        signed_value = package.files[value_path]
        info = signed_value_info(signed_value)
    seal_file: bytes | None = None
    if seal_path is not None:
        own_files[seal_path] = sid
        seal_file = package.files.get(seal_path)
        if seal_file is None:
            reasons.append(Reason.of(OFD_FILE_MISSING, f"{sid}: /{seal_path}"))
    _value_checks(sid, info, digest, sig_path, seal_file, checks, reasons)
    referenced = {x.path.lstrip("/") for x in references}
    covers = tuple(
        e.id for e in earlier if {e.signature_path.lstrip("/"), (e.signed_value_path or "").lstrip("/")} & referenced
    )
    protects = list_path in referenced
    not_covered = tuple(
        sorted("/" + p for p in package.files if p not in referenced and p not in (sig_path, value_path))
    )
    scope = (
        f"{sid}: covers signature(s) {', '.join(covers) or '-'}; signature list {'protected' if protects else 'open'}"
    )
    if not_covered:
        scope += "; not covered (added after it, or left open): " + ", ".join(not_covered[:16])
        scope += f" and {len(not_covered) - 16} more" if len(not_covered) > 16 else ""
    checks.append(Check("ofd_signature_scope", CheckOutcome.PASSED, scope))
    stamps = tuple(
        StampAnnot(a.get("ID", ""), a.get("PageRef", ""), _boundary(a.get("Boundary")))
        for a in children(info_el, "StampAnnot")
    )
    return SignatureReport(
        id=sid,
        type=kind,
        signature_path="/" + sig_path,
        signed_value_path="/" + value_path if value_path else None,
        seal_path="/" + seal_path if seal_path else None,
        check_method=method,
        signature_method=text_of(first_child(info_el, "SignatureMethod")),
        signature_time=text_of(first_child(info_el, "SignatureDateTime")),
        references=tuple(references),
        stamp_annots=stamps,
        signature_xml_sm3=digest,
        info=info,
        signed_value=signed_value,
        seal_file=seal_file,
        covers_signatures=covers,
        protects_signature_list=protects,
        not_covered=not_covered,
        checks=tuple(checks),
        reasons=tuple(reasons),
    )


def _value_checks(
    sid: str,
    info: SignedValueInfo,
    digest: bytes,
    sig_path: str,
    seal_file: bytes | None,
    checks: list[Check],
    reasons: list[Reason],
) -> None:
    """Does the signature value claim this Signature.xml, and embed this Seal.esl?"""
    if info.kind == "unknown":
        checks.append(Check("ofd_signed_value", CheckOutcome.FAILED, f"{sid}: {info.problem}"))
        reasons.append(Reason.of(OFD_SIGNATURE_UNREADABLE, f"{sid}: {info.problem}"))
        return
    if info.kind == "raw_sm2":
        checks.append(
            Check("ofd_signed_value", CheckOutcome.INDETERMINATE, f"{sid}: bare SM2 signature, no certificate")
        )
        reasons.append(Reason.of(OFD_SIGNATURE_NO_CERTIFICATE, sid))
        return
    what = f"SES v{info.version}" if info.kind == "ses" else "GB/T 35275 SignedData"
    checks.append(passed("ofd_signed_value", f"{sid}: {what}"))
    if info.data_hash is None:
        checks.append(Check("ofd_data_hash", CheckOutcome.FAILED, f"{sid}: no document digest in the signature"))
        reasons.append(Reason.of(OFD_SIGNATURE_UNREADABLE, f"{sid}: no document digest"))
    elif info.data_hash != digest:
        checks.append(Check("ofd_data_hash", CheckOutcome.FAILED, f"{sid}: not SM3(/{sig_path})"))
        reasons.append(Reason.of(OFD_DATA_HASH_MISMATCH, f"{sid}: /{sig_path}"))
    else:
        checks.append(passed("ofd_data_hash", f"{sid}: SM3(/{sig_path})"))
    if info.property_info is not None and info.property_info.lstrip("/") != sig_path:
        checks.append(Check("ofd_property_info", CheckOutcome.SKIPPED, f"{sid}: propertyInfo {info.property_info!r}"))
    if seal_file is not None and info.kind == "ses":
        if seal_file != info.seal:
            checks.append(Check("ofd_seal_file", CheckOutcome.FAILED, f"{sid}: Seal.esl differs"))
            reasons.append(Reason.of(OFD_SEAL_MISMATCH, sid))
        else:
            checks.append(passed("ofd_seal_file", f"{sid}: Seal.esl = embedded seal"))


def _ref_path(package: Package, file_ref: str, sig_dir: str) -> str:
    """A ``FileRef``: absolute, or relative to the package root (as producers write it), else to Signature.xml."""
    path = resolve("", file_ref)
    if path in package or file_ref.strip().startswith("/"):
        return path
    other = resolve(sig_dir, file_ref)
    return other if other in package else path


def _boundary(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        return None
    return (values[0], values[1], values[2], values[3]) if len(values) == 4 else None


# -- full verification: the signatures' cryptography and, for an elicense licence, the licence --------

_DER = Encoding.DER
RECORD_PATH = "Doc_0/Attachs/licence.cose"
QR_PATH = "Doc_0/Res/qr.png"
MAX_RECORD_BYTES = 256 * 1024


def _tagged(reason: Reason, sid: str) -> Reason:
    detail = f"{sid}: {reason.detail}" if reason.detail else sid
    return Reason(reason.code, reason.status, reason.message_en, reason.message_zh, detail)


def verify_ofd(verifier: LicenceVerifier, data: bytes, *, at: dt.datetime) -> VerificationResult:
    """Verify any OFD: container checks, then every SES / GB/T 35275 signature with the verifier's trust, then,
    for an elicense licence, the QR (every check a QR verification makes), the signed record and the field map.

    An OFD sealed by another system gets the seal and integrity verdict without a licence. Never raises for a
    failed check.
    """

    report = check_ofd(data)
    checks = list(report.checks)
    reasons = list(report.reasons)
    package = report.package
    if package is None or not report.signatures:
        return VerificationResult(worst(x.status for x in reasons), tuple(reasons), tuple(checks), at, kind="ofd")
    trust = trust_from_store(verifier.trust, bundle=verifier.bundle)
    signers: dict[str, bytes] = {}
    for sig in report.signatures:
        kind = sig.info.kind
        if kind == "ses":
            ses = verify_ses(
                sig.signed_value, data_hash=sig.signature_xml_sm3, trust=trust, at=at, algorithms=verifier.algorithms
            )
            outcome, signer = ses.result, ses.signer
        elif kind == "signed_data":
            content = package.files.get(sig.signature_path.lstrip("/"))
            sd = verify_signed_data(sig.signed_value, content=content, trust=trust, at=at)
            outcome, signer = sd.result, sd.signer
        else:
            continue  # a bare or unreadable value: the container checks already said why
        checks.extend(
            Check(f"ofd_seal.{c.name}", c.outcome, f"{sig.id}: {c.detail}" if c.detail else sig.id)
            for c in outcome.checks
        )
        reasons.extend(_tagged(x, sig.id) for x in outcome.reasons)
        if signer is not None:
            signers[sig.id] = signer.der
    if RECORD_PATH not in package.files:  # not an elicense licence: seal and integrity verdict only
        return VerificationResult(worst(x.status for x in reasons), tuple(reasons), tuple(checks), at, kind="ofd")
    return _licence(verifier, package, report, signers, checks, reasons, at)


def _licence(
    verifier: LicenceVerifier,
    package: Package,
    report: OfdReport,
    signers: dict[str, bytes],
    checks: list[Check],
    reasons: list[Reason],
    at: dt.datetime,
) -> VerificationResult:
    """The licence layer of an elicense OFD: QR ↔ signed record ↔ CustomTags and page ↔ sealing key."""

    def done(extra: Reason | None = None, check: Check | None = None) -> VerificationResult:
        if extra is not None:
            reasons.append(extra)
        if check is not None:
            checks.append(check)
        return VerificationResult(worst(x.status for x in reasons), tuple(reasons), tuple(checks), at, kind="ofd")

    try:
        payload = read_payloads(package.read(QR_PATH), prefix=PREFIX)[0]
    except ElicenseError as exc:
        return done(Reason.of(OFD_QR_MISSING, exc.message), Check("ofd_qr", CheckOutcome.FAILED, exc.message))
    qr = verifier.verify(payload, at=at)
    checks.extend(Check(f"licence.{c.name}", c.outcome, c.detail) for c in qr.checks)
    reasons.extend(qr.reasons)
    if qr.licence is None:
        return done()
    problem = _record_problem(verifier, package, payload, qr, signers)
    if problem is not None:
        code, detail = problem
        return done(Reason.of(code, detail), Check("ofd_licence", CheckOutcome.FAILED, detail))
    checks.append(passed("ofd_licence", f"{qr.licence.id}: QR = record = page, sealed by the issuer"))
    status = worst(x.status for x in reasons)
    return replace(qr, status=status, reasons=tuple(reasons), checks=tuple(checks), kind="ofd")


def _record_problem(
    verifier: LicenceVerifier, package: Package, payload: str, qr: VerificationResult, signers: dict[str, bytes]
) -> tuple[r.ReasonCode, str] | None:
    """Why the QR, the record, the tags/page and the sealing key do not belong together (None: they do)."""

    licence = qr.licence
    assert licence is not None
    kid = parse_sign1(unwrap(payload)).kid
    keys = [k for k in verifier.trust.candidates(kid) if k.certificate.public_bytes(_DER) in signers.values()]
    if not keys:
        return OFD_SIGNER_MISMATCH, "the seal's signer certificate is not the key of the licence QR"
    record = package.read(RECORD_PATH)
    if len(record) > MAX_RECORD_BYTES:
        return OFD_RECORD_MISMATCH, "record too large"
    try:
        message = parse_sign1(record)
        alg = Algorithm.from_cose_id(message.alg_id)
        doc = cbor.loads(message.payload, max_depth=4)
    except ElicenseError as exc:
        return OFD_RECORD_MISMATCH, exc.message
    key = keys[0]
    if (
        message.kid != kid
        or alg is not key.algorithm
        or not verify_cose_signature(key.public_key, alg, message.signature, message.to_be_signed())
    ):
        return OFD_RECORD_MISMATCH, "record not signed by the licence's key"
    if (
        record_digest(message.payload) != licence.digest
        or not isinstance(doc, dict)
        or doc.get("id") != str(licence.id)
    ):
        return OFD_RECORD_MISMATCH, "record is not the licence of the QR"
    try:
        tags = read_licence_tags(package)
    except ElicenseError as exc:
        return OFD_RECORD_MISMATCH, f"field map: {exc.message}"
    for key_name, expected in _record_values(doc).items():
        tag = tags.get(key_name)
        if tag is None or tag.value != expected:
            return OFD_RECORD_MISMATCH, f"field map: {key_name}"
        if tag.object_ids and not _shows(tag.shown, expected):
            return OFD_RECORD_MISMATCH, f"page: {key_name}"
    return None


def _record_values(doc: dict[object, object]) -> dict[str, str]:
    """The signed record's values as the field map writes them."""
    holder_raw, issuer_raw = doc.get("holder"), doc.get("issuer")
    holder: dict[object, object] = holder_raw if isinstance(holder_raw, dict) else {}
    issuer: dict[object, object] = issuer_raw if isinstance(issuer_raw, dict) else {}
    out = {
        "id": doc.get("id"),
        "number": doc.get("number"),
        "type_code": doc.get("type_code"),
        "holder_name": holder.get("name"),
        "holder_code": holder.get("code"),
        "holder_type": holder.get("code_type"),
        "issuer": issuer.get("name"),
        "issuer_code": issuer.get("code"),
        "area_code": issuer.get("area_code"),
        "issued_on": doc.get("issued_on"),
        "valid_from": doc.get("valid_from"),
        "valid_until": doc.get("valid_until") or "长期",
    }
    fields = doc.get("fields")
    if isinstance(fields, dict):
        out.update({str(k): v for k, v in fields.items()})
    return {k: str(v) for k, v in out.items()}


def _shows(shown: str, value: str) -> bool:
    """Whether the page text of a field shows ``value`` (dates in Chinese, ranges of validity)."""
    compact = shown.replace(" ", "").replace("\n", "")
    if value.replace(" ", "").replace("\n", "") in compact:
        return True
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        y, m, d = value.split("-")
        return f"{y}年{m}月{d}日" in compact or f"{y}.{m}.{d}" in compact
    return False
