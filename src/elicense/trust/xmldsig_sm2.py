"""Enveloped XML-DSig with SM2/SM3 for trust lists: one strict, minimal profile.

Why not signxml: neither signxml nor xmlsec1 implements SM2, and no XML-DSig URI
for SM2 or SM3 is registered (IANA "XML Security URIs", RFC 9231). This module
produces and checks exactly one shape of signature and refuses every other:

* a single ``ds:Signature``, the **last child of the document element**;
* ``SignedInfo``: exclusive c14n, :data:`SIGNATURE_METHOD`, exactly one
  ``Reference`` with ``URI=""`` (the whole document) and exactly the transforms
  enveloped-signature then exclusive c14n (no ``InclusiveNamespaces``, no XPath,
  no other references, no ``Id``/``Type`` attributes, no ``Object``);
* ``DigestMethod`` :data:`DIGEST_METHOD` (SM3), ``SignatureValue`` the SM2 signature
  as fixed-length ``r‖s`` (64 bytes, as XML-DSig 1.1 encodes ECDSA), user id default;
* ``KeyInfo/X509Data/X509Certificate`` carries the signer and its chain — only as
  path-building candidates: the caller names the certificate that must verify.

Canonicalisation is libxml2's exclusive c14n (through lxml), the same primitive
signxml uses. Verification returns a **fresh parse of the exact canonical bytes
whose SM3 digest was signed** — never a node of the input tree — so signature
wrapping cannot make the caller read unsigned data.
"""

from __future__ import annotations

import base64
import copy
import hmac

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from elicense.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey, der_to_raw, raw_to_der, sm3
from elicense.errors import CryptoError, TrustError
from elicense.trust.common import TrustSignatureInvalid
from elicense.trust.xml import XmlElement, xml_parser

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNATURE_METHOD = "urn:elicense:xmldsig:sm2-sm3"
"""SM2 signature over SM3(Z ‖ c14n(SignedInfo)), GB/T 32918.2 with the default user id."""
DIGEST_METHOD = "urn:elicense:xmldsig:sm3"
"""SM3 (GB/T 32905)."""
MAX_CHAIN = 4


def _ds(tag: str) -> str:
    return f"{{{DS_NS}}}{tag}"


def _c14n(element: XmlElement) -> bytes:
    return bytes(etree.tostring(element, method="c14n", exclusive=True, with_comments=False))


def _without_signature(root: XmlElement) -> XmlElement:
    """The enveloped-signature transform: a copy of the document without its Signature."""
    clone = copy.deepcopy(root)
    for sig in clone.findall(_ds("Signature")):
        _remove_keep_tail(sig)
    return clone


def _remove_keep_tail(node: XmlElement) -> None:
    parent = node.getparent()
    tail = node.tail
    prev = node.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(node)


def sign_sm2(
    element: XmlElement, key: Sm2PrivateKey, certificate: x509.Certificate, chain: tuple[x509.Certificate, ...] = ()
) -> XmlElement:
    """Append an enveloped SM2/SM3 ``ds:Signature`` to ``element`` (modified and returned)."""
    if Sm2PublicKey.from_certificate(certificate) != key.public_key():
        raise CryptoError("private key does not match the trust-list signer certificate")
    if element.find(_ds("Signature")) is not None:
        raise TrustError("element is already signed")
    digest = sm3(_c14n(element))
    sig = etree.SubElement(element, _ds("Signature"), nsmap={"ds": DS_NS})
    info = etree.SubElement(sig, _ds("SignedInfo"))
    etree.SubElement(info, _ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(info, _ds("SignatureMethod"), Algorithm=SIGNATURE_METHOD)
    ref = etree.SubElement(info, _ds("Reference"), URI="")
    transforms = etree.SubElement(ref, _ds("Transforms"))
    etree.SubElement(transforms, _ds("Transform"), Algorithm=ENVELOPED)
    etree.SubElement(transforms, _ds("Transform"), Algorithm=EXC_C14N)
    etree.SubElement(ref, _ds("DigestMethod"), Algorithm=DIGEST_METHOD)
    etree.SubElement(ref, _ds("DigestValue")).text = base64.b64encode(digest).decode("ascii")
    value = etree.SubElement(sig, _ds("SignatureValue"))
    x509_data = etree.SubElement(etree.SubElement(sig, _ds("KeyInfo")), _ds("X509Data"))
    for cert in (certificate, *chain):
        der = cert.public_bytes(serialization.Encoding.DER)
        etree.SubElement(x509_data, _ds("X509Certificate")).text = base64.b64encode(der).decode("ascii")
    value.text = base64.b64encode(der_to_raw(key.sign(_c14n(info)))).decode("ascii")
    return element


def _fail(why: str) -> TrustError:
    return TrustSignatureInvalid(f"SM2 trust list signature: {why}", message_zh="信任列表 SM2 签名无效")


def _children(node: XmlElement, expected: list[str], what: str) -> list[XmlElement]:
    kids = list(node)
    if [k.tag for k in kids] != [_ds(t) for t in expected]:
        raise _fail(f"{what} must hold exactly {', '.join(expected)}")
    if node.text and node.text.strip():
        raise _fail(f"{what} has text content")
    for k in kids:
        if k.tail and k.tail.strip():
            raise _fail(f"{what} has text content")
    return kids


def _attrs(node: XmlElement, allowed: dict[str, str], what: str) -> None:
    if dict(node.attrib) != allowed:
        raise _fail(f"{what} attributes must be exactly {allowed}")


def _leaf(node: XmlElement, what: str) -> None:
    if len(node) or (node.text and node.text.strip()):
        raise _fail(f"{what} must be empty")


def _b64(node: XmlElement, what: str, limit: int) -> bytes:
    text = "".join((node.text or "").split())
    if len(text) > limit:
        raise _fail(f"{what} too long")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise _fail(f"{what} is not base64") from exc


def verify_sm2(tree: XmlElement, certificate: x509.Certificate) -> XmlElement:
    """Check the profile and the SM2 signature of ``certificate``; return the signed document.

    ``tree`` is the document element, already parsed with the hostile-input rules of
    :mod:`elicense.trust.lists` (no DTD, entities, comments or PIs).
    """
    sigs = list(tree.iter(_ds("Signature")))
    if len(sigs) != 1 or sigs[0].getparent() is not tree or tree[-1] is not sigs[0]:
        raise _fail("exactly one Signature, the last child of the document element")
    sig = sigs[0]
    _attrs(sig, {}, "Signature")
    info, value, key_info = _children(sig, ["SignedInfo", "SignatureValue", "KeyInfo"], "Signature")
    _attrs(info, {}, "SignedInfo")
    c14n_method, method, ref = _children(info, ["CanonicalizationMethod", "SignatureMethod", "Reference"], "SignedInfo")
    _attrs(c14n_method, {"Algorithm": EXC_C14N}, "CanonicalizationMethod")
    _leaf(c14n_method, "CanonicalizationMethod")
    _attrs(method, {"Algorithm": SIGNATURE_METHOD}, "SignatureMethod")
    _leaf(method, "SignatureMethod")
    _attrs(ref, {"URI": ""}, "Reference")
    transforms, digest_method, digest_value = _children(ref, ["Transforms", "DigestMethod", "DigestValue"], "Reference")
    _attrs(transforms, {}, "Transforms")
    steps = _children(transforms, ["Transform", "Transform"], "Transforms")
    for step, uri in zip(steps, (ENVELOPED, EXC_C14N), strict=True):
        _attrs(step, {"Algorithm": uri}, "Transform")
        _leaf(step, "Transform")
    _attrs(digest_method, {"Algorithm": DIGEST_METHOD}, "DigestMethod")
    _leaf(digest_method, "DigestMethod")
    _attrs(value, {}, "SignatureValue")
    _attrs(key_info, {}, "KeyInfo")
    if len(digest_value) or len(value):
        raise _fail("DigestValue and SignatureValue hold text only")
    expected_digest = _b64(digest_value, "DigestValue", 64)
    raw = _b64(value, "SignatureValue", 128)
    if len(raw) != 64:
        raise _fail("SignatureValue must be r‖s, 64 bytes")
    try:
        der = raw_to_der(raw)
        key = Sm2PublicKey.from_certificate(certificate)
    except CryptoError as exc:
        raise _fail(exc.message) from exc
    if not key.verify(der, _c14n(info)):
        raise _fail("the signature over SignedInfo does not verify")
    signed_bytes = _c14n(_without_signature(tree))
    if not hmac.compare_digest(sm3(signed_bytes), expected_digest):
        raise _fail("the document digest does not match (the list was changed after signing)")
    # What was hashed is what the caller reads: a new tree from exactly those bytes.
    return etree.fromstring(signed_bytes, parser=xml_parser())
