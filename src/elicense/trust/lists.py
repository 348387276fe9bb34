"""Signed XML trust lists: a region's list of issuing authorities and the national list of lists.

Modelled on ETSI TS 119 612 trusted lists and the ISO 18013-5 VICAL; the format is
specified in ``specs/trust-list.md`` and ``specs/trust-list.xsd``. This is the one
module that produces and reads the XML (canonical signed bytes live here only).

Hostile-input rules, in order: bounded size; no DOCTYPE, no entities, no network,
no DTD (lxml parser flags *and* a byte-level refusal); exactly one enveloped
XMLDSig over the whole document (``URI=""``), verified with signxml against a
certificate the caller already trusts; data is read **only** from the element
signxml returns as signed (the defence against signature wrapping); comments and
processing instructions are refused (comment injection splits text nodes); the
signed element is then validated against the XSD.

lxml and signxml are imported lazily: ``elicense verify`` with an offline bundle
never parses XML (see :mod:`elicense.trust.bundle`).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import (  # type: ignore[attr-defined]
    InvalidInput,
    InvalidSignature,
    SignatureConfiguration,
    XMLSigner,
    XMLVerifier,
)
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy, PrivateKey
from elicense.crypto.pki import CERTIFICATE_ERRORS, ValidatedChain, algorithm_of
from elicense.crypto.sm2 import Sm2PrivateKey
from elicense.errors import TrustError

# Defined in elicense.trust.common (what a bundle load needs, without this module's classes); part of this API.
from elicense.trust.common import Agreement as Agreement
from elicense.trust.common import TrustRollback as TrustRollback
from elicense.trust.common import TrustSignatureInvalid as TrustSignatureInvalid
from elicense.trust.common import iso as iso
from elicense.trust.common import validate_list_signer as validate_list_signer
from elicense.trust.xml import XmlElement, xml_parser
from elicense.trust.xmldsig_sm2 import sign_sm2, verify_sm2

NS = "urn:elicense:trust-list:1"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
MAX_LIST_BYTES = 16 * 1024 * 1024
MAX_AUTHORITIES = 10_000
MAX_CERTS_PER_AUTHORITY = 16
GRANTED = "granted"
WITHDRAWN = "withdrawn"
STATUSES = (GRANTED, WITHDRAWN)


# -- model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    """One entry of an authority's status history."""

    status: str
    """``granted`` or ``withdrawn``."""
    at: dt.datetime
    """From this instant (UTC) on."""


@dataclass(frozen=True)
class AuthorityRecord:
    """An issuing authority as a region list describes it."""

    name: str
    """Official name (zh)."""
    uscc: str
    """USCC (or area code) — the issuer code in the licence ids it signs."""
    area_code: str
    """GB/T 2260 area code it serves (must lie in the list's region)."""
    certificates: tuple[x509.Certificate, ...]
    """Its licence-signing certificates (validity is the certificates' own)."""
    licence_types: tuple[str, ...]
    """Type codes it may issue."""
    history: tuple[StatusChange, ...]
    """Status changes, oldest first; authorised only while the latest change is ``granted``."""


@dataclass(frozen=True)
class RegionList:
    """A province-level region's trust list."""

    region: str
    """Province-level GB/T 2260 code (``370000``)."""
    region_name: str
    """Region name (``山东省``)."""
    operator: str
    """Name of the list operator (the body that signs the list)."""
    sequence: int
    """Monotonic sequence number: a list with a lower number is a rollback."""
    issued_at: dt.datetime
    """Issue time (UTC)."""
    next_update: dt.datetime
    """After this instant the list is stale."""
    ca_certificates: tuple[x509.Certificate, ...]
    """The region's CA certificates (intermediates of its authorities' chains)."""
    authorities: tuple[AuthorityRecord, ...]
    """The issuing authorities."""


@dataclass(frozen=True)
class RegionPointer:
    """Where a region's list is and who must have signed it."""

    region: str
    """Province-level code."""
    location: str
    """Relative path or URL of the list (informative offline)."""
    digest: bytes
    """SHA-256 of the signed list file's bytes."""
    signer: x509.Certificate
    """The certificate expected to sign that list."""


@dataclass(frozen=True)
class NationalList:
    """The national list of lists with the recognition agreements."""

    operator: str
    """Name of the national operator."""
    sequence: int
    """Monotonic sequence number."""
    issued_at: dt.datetime
    """Issue time (UTC)."""
    next_update: dt.datetime
    """After this instant the list is stale."""
    pointers: tuple[RegionPointer, ...]
    """One pointer per region list."""
    agreements: tuple[Agreement, ...]
    """Recognition agreements."""
    equivalences: tuple[frozenset[str], ...] = ()
    """Classes of type codes that denote the same licence in different regions."""


@dataclass(frozen=True)
class VerifiedList:
    """A list whose signature verified, with its signer's validated chain."""

    signer: ValidatedChain
    """The signer certificate's chain (EKU trust-list signing)."""
    data: bytes
    """The exact file bytes that verified."""


# -- helpers ---------------------------------------------------------------------------------


def _parse_time(text: str, what: str) -> dt.datetime:
    if not text.endswith("Z"):
        raise TrustError(f"trust list: {what} must be UTC ending in Z: {text!r}")
    try:
        return dt.datetime.fromisoformat(text[:-1] + "+00:00").astimezone(dt.UTC)
    except ValueError as exc:
        raise TrustError(f"trust list: {what} is not ISO-8601: {text!r}") from exc


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _b64cert(cert: x509.Certificate) -> str:
    return base64.b64encode(_der(cert)).decode("ascii")


def _cert(text: str | None) -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode("".join((text or "").split()), validate=True))
        _ = (cert.subject, cert.issuer, cert.extensions)  # parsed lazily: fail here, typed (fuzz finding)
    except CERTIFICATE_ERRORS as exc:
        raise TrustError(f"trust list: invalid certificate: {exc}") from exc
    return cert


def digest(data: bytes) -> bytes:
    """SHA-256 of a list file (what a pointer pins)."""
    return hashlib.sha256(data).digest()


# -- XML building and signing ----------------------------------------------------------------


def _el(parent: XmlElement, tag: str, text: str | None = None, **attrs: str) -> XmlElement:
    node = etree.SubElement(parent, f"{{{NS}}}{tag}", **attrs)
    if text is not None:
        node.text = text
    return node


def _scheme(
    root: XmlElement, operator: str, sequence: int, issued_at: dt.datetime, next_update: dt.datetime
) -> XmlElement:
    if sequence < 1:
        raise TrustError("trust list sequence numbers start at 1")
    if next_update <= issued_at:
        raise TrustError("trust list next update must be later than its issue time")
    scheme = _el(root, "Scheme")
    _el(scheme, "Operator", operator)
    _el(scheme, "Sequence", str(sequence))
    _el(scheme, "IssueTime", iso(issued_at))
    _el(scheme, "NextUpdate", iso(next_update))
    return scheme


def region_list_element(rl: RegionList) -> XmlElement:
    """The unsigned XML element of a region list."""
    root = etree.Element(f"{{{NS}}}TrustList", nsmap={None: NS})
    scheme = _scheme(root, rl.operator, rl.sequence, rl.issued_at, rl.next_update)
    _el(scheme, "Region", rl.region)
    _el(scheme, "RegionName", rl.region_name)
    cas = _el(root, "CACertificates")
    for c in rl.ca_certificates:
        _el(cas, "Certificate", _b64cert(c))
    auths = _el(root, "Authorities")
    for a in rl.authorities:
        node = _el(auths, "Authority")
        _el(node, "Name", a.name)
        _el(node, "USCC", a.uscc)
        _el(node, "AreaCode", a.area_code)
        certs = _el(node, "Certificates")
        for c in a.certificates:
            _el(certs, "Certificate", _b64cert(c))
        types = _el(node, "LicenceTypes")
        for t in a.licence_types:
            _el(types, "Type", t)
        hist = _el(node, "History")
        for change in a.history:
            _el(hist, "Status", value=change.status, at=iso(change.at))
    return root


def national_list_element(nl: NationalList) -> XmlElement:
    """The unsigned XML element of the national list of lists."""
    root = etree.Element(f"{{{NS}}}ListOfLists", nsmap={None: NS})
    _scheme(root, nl.operator, nl.sequence, nl.issued_at, nl.next_update)
    pointers = _el(root, "Pointers")
    for p in nl.pointers:
        node = _el(pointers, "Pointer", region=p.region)
        _el(node, "Location", p.location)
        _el(node, "DigestSHA256", p.digest.hex())
        _el(node, "SignerCertificate", _b64cert(p.signer))
    agreements = _el(root, "Agreements")
    for ag in nl.agreements:
        node = _el(agreements, "Agreement", relying=ag.relying, issuing=ag.issuing)
        for t in sorted(ag.licence_types):
            _el(node, "Type", t)
    eqs = _el(root, "Equivalences")
    for eq in nl.equivalences:
        node = _el(eqs, "Equivalence")
        for t in sorted(eq):
            _el(node, "Type", t)
    return root


def sign_element(
    element: XmlElement,
    key: PrivateKey | Sm2PrivateKey,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """Enveloped XMLDSig over the whole document (``URI=""``, exclusive c14n, SHA-256 or SM3 for SM2)."""
    alg = Algorithm.for_key(key)
    if alg is Algorithm.SM2:  # signxml has no SM2: our strict profile (elicense.trust.xmldsig_sm2)
        assert isinstance(key, Sm2PrivateKey)
        signed_sm2 = sign_sm2(element, key, certificate, tuple(chain))
        return bytes(etree.tostring(signed_sm2, xml_declaration=True, encoding="UTF-8"))
    method = {
        Algorithm.ES256: SignatureMethod.ECDSA_SHA256,
        Algorithm.PS256: SignatureMethod.SHA256_RSA_MGF1,
    }.get(alg)
    if method is None:
        raise TrustError(f"trust lists cannot be signed with {alg.label} keys")
    signer = XMLSigner(
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (certificate, *chain)]
    signed = signer.sign(element, key=key, cert=pems)  # type: ignore[arg-type]
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


# -- hostile-safe reading and verification ---------------------------------------------------


def _parse(data: bytes) -> XmlElement:
    if len(data) > MAX_LIST_BYTES:
        raise TrustError("trust list too large", message_zh="信任列表过大")
    head = data[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data.upper():
        raise TrustSignatureInvalid(
            "trust list has a DOCTYPE/ENTITY declaration (refused: XXE / entity expansion)",
            message_zh="信任列表含有 DOCTYPE/实体声明，已拒绝",
        )
    try:
        tree = etree.fromstring(data, parser=xml_parser())
    except etree.XMLSyntaxError as exc:
        raise TrustError(f"trust list is not well-formed XML: {exc}", message_zh="信任列表不是合法的 XML") from exc
    doc = tree.getroottree()
    if doc.docinfo.doctype or doc.docinfo.internalDTD is not None:
        raise TrustSignatureInvalid("trust list has a DOCTYPE (refused)", message_zh="信任列表含有 DOCTYPE，已拒绝")
    for node in tree.iter():
        if not isinstance(node.tag, str):  # comments, PIs, entity references
            raise TrustSignatureInvalid(
                "trust list contains comments or processing instructions (refused: comment injection)",
                message_zh="信任列表含有注释或处理指令，已拒绝",
            )
    return tree


@functools.cache
def _schema() -> XmlElement:
    with open(schema_path(), "rb") as fh:
        return etree.XMLSchema(etree.fromstring(fh.read(), parser=xml_parser()))


def schema_path() -> str:
    """``trust-list.xsd``: packaged (``elicense/_specs``) or the source checkout's ``specs/``."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    packaged = os.path.join(here, "_specs", "trust-list.xsd")
    if os.path.exists(packaged):
        return packaged
    return os.path.join(os.path.dirname(os.path.dirname(here)), "specs", "trust-list.xsd")


def keyinfo_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates in the (unverified) ``ds:KeyInfo``: candidates, trusted only after chaining."""
    tree = _parse(data)
    sigs = tree.findall(f"{{{DS_NS}}}Signature")
    if len(sigs) != 1:
        raise TrustSignatureInvalid("trust list must carry exactly one enveloped signature")
    return [_cert(n.text) for n in sigs[0].iter(f"{{{DS_NS}}}X509Certificate")]


_XML_METHODS = {
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": "ES256",
    "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1": "PS256",
    "urn:elicense:xmldsig:sm2-sm3": "SM2",
}


def signature_algorithm(signature: XmlElement) -> str:
    """The allow-list label of a ``ds:Signature``'s declared method (unknown methods are refused)."""
    method = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}SignatureMethod")
    label = _XML_METHODS.get(method.get("Algorithm", "") if method is not None else "")
    if label is None:
        raise TrustSignatureInvalid(
            "trust list signature method is not supported", message_zh="信任列表签名算法不受支持"
        )
    return label


def verify_xml(
    data: bytes, *, certificate: x509.Certificate, root_tag: str, algorithms: AlgorithmPolicy | None = None
) -> XmlElement:
    """Verify the enveloped signature with ``certificate``; return ONLY the signed element.

    ``algorithms``: the verifier's allow-list (default :meth:`AlgorithmPolicy.default`, no SM2);
    the declared method must be on it *and* match the certificate's key.
    """
    tree = _parse(data)
    if tree.tag != f"{{{NS}}}{root_tag}":
        raise TrustSignatureInvalid(f"expected a {root_tag} document, got {tree.tag}")
    sigs = list(tree.iter(f"{{{DS_NS}}}Signature"))
    if len(sigs) != 1 or sigs[0].getparent() is not tree:
        raise TrustSignatureInvalid(
            "trust list must carry exactly one Signature, as a child of the root element",
            message_zh="信任列表必须且只能在根元素下含有一个签名",
        )
    alg = Algorithm.from_label(signature_algorithm(sigs[0]))
    (algorithms or AlgorithmPolicy.default()).check(alg)
    if algorithm_of(certificate) is not alg:
        raise TrustSignatureInvalid(f"trust list signed with {alg.label}, but its signer's key is not {alg.label}")
    if alg is Algorithm.SM2:
        signed = verify_sm2(tree, certificate)
        if signed.tag != f"{{{NS}}}{root_tag}":
            raise TrustSignatureInvalid("the signed element is not the trust list")
        return _schema_checked(signed)
    config = SignatureConfiguration(
        require_x509=True,
        location="./",
        expect_references=1,
        signature_methods=frozenset({SignatureMethod.ECDSA_SHA256, SignatureMethod.SHA256_RSA_MGF1}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        # Time is ours to judge (list issue time vs. the validated chain), never the wall
        # clock deep inside signxml: check the key at an instant the certificate was valid.
        verification_time=certificate.not_valid_before_utc,
    )
    try:
        result = XMLVerifier().verify(data, x509_cert=certificate, expect_config=config, parser=xml_parser())
    except (InvalidSignature, InvalidInput) as exc:
        raise TrustSignatureInvalid(f"trust list signature is invalid: {exc}", message_zh="信任列表签名无效") from exc
    except Exception as exc:  # signxml raises assorted errors on crafted input
        raise TrustSignatureInvalid(f"trust list signature cannot be verified: {exc}") from exc
    signed = result.signed_xml if not isinstance(result, list) else None
    if signed is None or signed.tag != f"{{{NS}}}{root_tag}":
        raise TrustSignatureInvalid("the signed element is not the trust list")
    return _schema_checked(signed)


def _schema_checked(signed: XmlElement) -> XmlElement:
    for node in signed.iter():
        if not isinstance(node.tag, str):
            raise TrustSignatureInvalid("signed trust list contains comments or processing instructions")
    schema = _schema()
    if not schema.validate(signed):
        raise TrustError(
            f"trust list does not conform to trust-list.xsd: {schema.error_log.last_error}",
            message_zh="信任列表不符合 XML 模式",
        )
    return signed


def _text(node: XmlElement, tag: str) -> str:
    child = node.find(f"{{{NS}}}{tag}")
    if child is None:
        raise TrustError(f"trust list: missing {tag}")
    return "".join(child.itertext()).strip()


def _scheme_values(root: XmlElement) -> tuple[str, int, dt.datetime, dt.datetime, XmlElement]:
    scheme = root.find(f"{{{NS}}}Scheme")
    if scheme is None:
        raise TrustError("trust list: missing Scheme")
    issued = _parse_time(_text(scheme, "IssueTime"), "IssueTime")
    nxt = _parse_time(_text(scheme, "NextUpdate"), "NextUpdate")
    if nxt <= issued:
        raise TrustError("trust list: NextUpdate must be later than IssueTime")
    return _text(scheme, "Operator"), int(_text(scheme, "Sequence")), issued, nxt, scheme


def _certs(node: XmlElement, tag: str) -> tuple[x509.Certificate, ...]:
    holder = node.find(f"{{{NS}}}{tag}")
    return tuple(_cert(c.text) for c in holder.findall(f"{{{NS}}}Certificate")) if holder is not None else ()


def region_list_from_element(root: XmlElement) -> RegionList:
    """Read a *verified* region-list element into the model (checks the invariants)."""
    operator, seq, issued, nxt, scheme = _scheme_values(root)
    region = _text(scheme, "Region")
    authorities: list[AuthorityRecord] = []
    nodes = root.find(f"{{{NS}}}Authorities").findall(f"{{{NS}}}Authority")
    if len(nodes) > MAX_AUTHORITIES:
        raise TrustError("trust list: too many authorities")
    for node in nodes:
        area = _text(node, "AreaCode")
        if area[:2] != region[:2]:
            raise TrustError(f"trust list of {region} names an authority in area {area}")
        certs = _certs(node, "Certificates")
        if len(certs) > MAX_CERTS_PER_AUTHORITY:
            raise TrustError("trust list: too many certificates for one authority")
        history = tuple(
            StatusChange(s.get("value"), _parse_time(s.get("at", ""), "Status/@at"))
            for s in node.find(f"{{{NS}}}History").findall(f"{{{NS}}}Status")
        )
        if any(b.at < a.at for a, b in itertools.pairwise(history)):
            raise TrustError("trust list: status history must be in time order")
        authorities.append(
            AuthorityRecord(
                name=_text(node, "Name"),
                uscc=_text(node, "USCC"),
                area_code=area,
                certificates=certs,
                licence_types=tuple(
                    "".join(t.itertext()).strip() for t in node.find(f"{{{NS}}}LicenceTypes").findall(f"{{{NS}}}Type")
                ),
                history=history,
            )
        )
    return RegionList(
        region=region,
        region_name=_text(scheme, "RegionName"),
        operator=operator,
        sequence=seq,
        issued_at=issued,
        next_update=nxt,
        ca_certificates=_certs(root, "CACertificates"),
        authorities=tuple(authorities),
    )


def national_list_from_element(root: XmlElement) -> NationalList:
    """Read a *verified* national-list element into the model."""
    operator, seq, issued, nxt, _ = _scheme_values(root)
    pointers = []
    for p in root.find(f"{{{NS}}}Pointers").findall(f"{{{NS}}}Pointer"):
        try:
            dig = bytes.fromhex(_text(p, "DigestSHA256"))
        except ValueError as exc:
            raise TrustError("trust list: bad DigestSHA256") from exc
        pointers.append(RegionPointer(p.get("region"), _text(p, "Location"), dig, _cert(_text(p, "SignerCertificate"))))
    if len({p.region for p in pointers}) != len(pointers):
        raise TrustError("national list points at a region twice")
    agreements = tuple(
        Agreement(
            a.get("relying"),
            a.get("issuing"),
            frozenset("".join(t.itertext()).strip() for t in a.findall(f"{{{NS}}}Type")),
        )
        for a in root.find(f"{{{NS}}}Agreements").findall(f"{{{NS}}}Agreement")
    )
    eq_holder = root.find(f"{{{NS}}}Equivalences")
    equivalences = tuple(
        frozenset("".join(t.itertext()).strip() for t in e.findall(f"{{{NS}}}Type"))
        for e in (eq_holder.findall(f"{{{NS}}}Equivalence") if eq_holder is not None else [])
    )
    return NationalList(operator, seq, issued, nxt, tuple(pointers), agreements, equivalences)


def read_national_list(
    data: bytes, *, roots: Sequence[x509.Certificate], algorithms: AlgorithmPolicy | None = None
) -> tuple[NationalList, VerifiedList]:
    """Verify a national list: signer from KeyInfo, issued **directly** by a root, EKU trust-list."""
    candidates = keyinfo_certificates(data)
    if not candidates:
        raise TrustSignatureInvalid("national list signature carries no certificate")
    chain = validate_list_signer(candidates[0], roots=roots, intermediates=candidates[1:])
    if len(chain.chain) != 2:
        raise TrustSignatureInvalid(
            "the national list must be signed by a certificate issued directly by the national root",
            message_zh="国家级列表必须由国家根直接签发的证书签名",
        )
    signed = verify_xml(data, certificate=candidates[0], root_tag="ListOfLists", algorithms=algorithms)
    nl = national_list_from_element(signed)
    if not chain.valid_at(nl.issued_at):
        raise TrustSignatureInvalid("national list was issued outside its signer certificate's validity")
    return nl, VerifiedList(chain, data)


def read_region_list(
    data: bytes,
    *,
    pointer: RegionPointer,
    roots: Sequence[x509.Certificate],
    algorithms: AlgorithmPolicy | None = None,
) -> tuple[RegionList, VerifiedList]:
    """Verify a region list against its pointer (digest and pinned signer) and the roots."""
    if digest(data) != pointer.digest:
        raise TrustSignatureInvalid(
            f"region list {pointer.region} does not match the digest in the national list",
            message_zh=f"地区 {pointer.region} 的信任列表与国家级列表中的摘要不符",
        )
    # The pinned signer may chain through the region's CA, which the list itself carries:
    # take the CA certificates from the (unverified) list only as path-building candidates.
    tree = _parse(data)
    intermediates = _certs(tree, "CACertificates")
    chain = validate_list_signer(pointer.signer, roots=roots, intermediates=intermediates)
    signed = verify_xml(data, certificate=pointer.signer, root_tag="TrustList", algorithms=algorithms)
    rl = region_list_from_element(signed)
    if rl.region != pointer.region:
        raise TrustSignatureInvalid(f"pointer for {pointer.region} leads to the list of {rl.region}")
    if not chain.valid_at(rl.issued_at):
        raise TrustSignatureInvalid("region list was issued outside its signer certificate's validity")
    if not any(ca in rl.ca_certificates for ca in chain.chain[1:-1]):
        # the CA the national list pins (through the signer) is the region's CA: its authorities chain to it
        raise TrustSignatureInvalid(
            f"the list of region {rl.region} names CAs that did not issue its pinned signer",
            message_zh=f"地区 {rl.region} 的信任列表所列 CA 不是其签名证书的签发者",
        )
    return rl, VerifiedList(chain, data)
