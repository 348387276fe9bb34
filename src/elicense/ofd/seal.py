"""Seal a licence OFD: one GB/T 38540 electronic seal, laid out as ofdrw and real licence files do.

::

    OFD.xml                          … <ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures>
    Doc_0/Signs/Signatures.xml       MaxSignId, Signature ID Type="Seal" BaseLoc=/Doc_0/Signs/Sign_0/Signature.xml
    Doc_0/Signs/Sign_0/Signature.xml SignedInfo: Provider, SignatureMethod 1.2.156.10197.1.501, SignatureDateTime,
                                     References CheckMethod=1.2.156.10197.1.401 (SM3, base64) over every other file
                                     of the package (Signatures.xml and Seal.esl included), StampAnnot (the seal
                                     over the date), Seal/BaseLoc; SignedValue
    Doc_0/Signs/Sign_0/Seal.esl      the authority's SES_Seal
    Doc_0/Signs/Sign_0/SignedValue.dat  SES_Signature (v4) whose dataHash is SM3(Signature.xml) and propertyInfo
                                     /Doc_0/Signs/Sign_0/Signature.xml

Because ``Signatures.xml`` is among the references, no later signature can be added without breaking this
one (ofdrw's ``WholeProtected``). The SES itself is made by :func:`elicense.seal.api.sign_ses`.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from elicense import __version__
from elicense.basics import require_utc
from elicense.ofd.package import write_package
from elicense.ofd.verify import sm3
from elicense.ofd.write import LicenceOfd
from elicense.seal.api import sign_ses

if TYPE_CHECKING:
    from elicense.crypto.keys import Sm2Signer

__all__ = ["SIGNATURES_PATH", "SIGNATURE_PATH", "seal_licence_ofd"]

SIGNATURES_PATH = "Doc_0/Signs/Signatures.xml"
SIGNATURE_PATH = "Doc_0/Signs/Sign_0/Signature.xml"
SEAL_PATH = "Doc_0/Signs/Sign_0/Seal.esl"
VALUE_PATH = "Doc_0/Signs/Sign_0/SignedValue.dat"
OID_SM3 = "1.2.156.10197.1.401"
OID_SM2_SM3 = "1.2.156.10197.1.501"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def seal_licence_ofd(
    doc: LicenceOfd,
    *,
    seal: bytes,
    signer: Sm2Signer,
    at: dt.datetime,
    crls: Sequence[bytes] = (),
) -> bytes:
    """The licence OFD sealed with ``seal`` (an ``SES_Seal`` listing ``signer``'s certificate), at ``at``."""
    when = require_utc(at, "at").replace(microsecond=0)
    sign_id = doc.max_id + 1
    stamp_id = doc.max_id + 2
    ofd_xml = doc.ofd_xml("/" + SIGNATURES_PATH)
    signatures = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016">'
        f'<ofd:MaxSignId>{stamp_id}</ofd:MaxSignId><ofd:Signature ID="{sign_id}" Type="Seal" '
        f'BaseLoc="/{SIGNATURE_PATH}"/></ofd:Signatures>'
    ).encode()
    files = [("OFD.xml", ofd_xml), *doc.files, (SIGNATURES_PATH, signatures), (SEAL_PATH, seal)]
    references = "".join(
        f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>{base64.b64encode(sm3(content)).decode()}'
        "</ofd:CheckValue></ofd:Reference>"
        for name, content in files
    )
    x, y, w, h = doc.seal_box
    signature_xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature xmlns:ofd="http://www.ofdspec.org/2016">'
        f'<ofd:SignedInfo><ofd:Provider ProviderName="elicense" Company="elicense" Version="{__version__}"/>'
        f"<ofd:SignatureMethod>{OID_SM2_SM3}</ofd:SignatureMethod>"
        f"<ofd:SignatureDateTime>{when.strftime('%Y%m%d%H%M%SZ')}</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="{OID_SM3}">{references}</ofd:References>'
        f'<ofd:StampAnnot ID="{stamp_id}" PageRef="{doc.seal_page}" '
        f'Boundary="{_num(x)} {_num(y)} {_num(w)} {_num(h)}"/>'
        f"<ofd:Seal><ofd:BaseLoc>/{SEAL_PATH}</ofd:BaseLoc></ofd:Seal></ofd:SignedInfo>"
        f"<ofd:SignedValue>/{VALUE_PATH}</ofd:SignedValue></ofd:Signature>"
    ).encode()
    value = sign_ses(sm3(signature_xml), "/" + SIGNATURE_PATH, seal, signer, when, crls=crls)
    return write_package([*files, (SIGNATURE_PATH, signature_xml), (VALUE_PATH, value)], when=doc.signed_at)
