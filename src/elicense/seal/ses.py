"""GB/T 38540-2020 electronic seals (电子印章) and seal signatures (电子签章), version 4.

One module holds the ASN.1 schemas (asn1crypto), the builders, the parser and
the verification in the order of the standard:

1. data format (``SES_Signature`` / ``SESeal`` structure, header ``ES`` v4);
2. the signer's signature over ``TBS_Sign`` + signer certificate + algorithm;
3. the signer certificate is in the seal's certificate list (list type 1: the
   certificates; type 2: their SM3 digests);
4. the seal maker's signature over the seal;
5. the seal's validity window contains the signing time ``timeInfo``;
6. certificate validity at ``timeInfo``, chain to the verifier's trust
   anchors, and revocation (SM2 CRLs: given by the caller, or embedded in
   ``TBS_Sign.extDatas`` at signing time);
7. the time stamp, when present (carried, not verified: no TSA trust yet);
8. the digest of the signed document (detached, the way OFD signatures
   reference their document).

``SES_CertList`` is a CHOICE of two untagged ``SEQUENCE OF`` types, which BER
cannot tell apart: it is decoded according to ``certListType``, as the
standard's implementations do. Which bytes each signature covers is stated in
``specs/sm2.md``. Verification returns a
:class:`~elicense.verify.result.VerificationResult` (``kind="ses"``) and never
raises for a failed check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import core

from elicense.crypto.pki import ARC
from elicense.errors import CryptoError, ElicenseError, InputError, TrustError
from elicense.model import require_utc
from elicense.verify import result as r
from elicense.verify.result import Check, CheckOutcome, Reason, Status, VerificationResult

if TYPE_CHECKING:
    from cryptography import x509

    from elicense.crypto.algorithms import AlgorithmPolicy
    from elicense.crypto.sm2 import Sm2PrivateKey

SES_ID = "ES"
SES_VERSION = 4
DEFAULT_VID = "ELICENSE"
OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"
OID_EKU_SEAL_MAKING = f"{ARC}.2.38540"
"""Extended key usage of a seal maker's (制章者) certificate."""
OID_EXT_CRL = f"{ARC}.5.1"
"""``ExtData`` holding one DER CRL (revocation evidence gathered at signing time)."""
SEAL_TYPE_ORGANISATION = 1
SEAL_TYPE_PERSONAL = 2
CERT_LIST_CERTS = 1
CERT_LIST_DIGESTS = 2
PICTURE_TYPES = frozenset({"GIF", "JPG", "PNG", "SVG", "OFD"})
MAX_SES_BYTES = 4 * 1024 * 1024
MAX_PICTURE_BYTES = 2 * 1024 * 1024
MAX_CERTS = 16
MAX_EXT_DATAS = 16
MAX_PROPERTY_INFO = 1024
CLOCK_SKEW = dt.timedelta(minutes=5)
SES_MAGIC_PREFIX = b"\x30"


# -- schemas ---------------------------------------------------------------------------------


class SESHeader(core.Sequence):  # type: ignore[misc]
    """``SES_Header ::= SEQUENCE { ID IA5String, version INTEGER, Vid IA5String }``."""

    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]  # noqa: RUF012


class CertDigestObj(core.Sequence):  # type: ignore[misc]
    """``CertDigestObj ::= SEQUENCE { type PrintableString, value OCTET STRING }``."""

    _fields = [("type", core.PrintableString), ("value", core.OctetString)]  # noqa: RUF012


class CertInfoList(core.SequenceOf):  # type: ignore[misc]
    """``CertInfoList ::= SEQUENCE OF OCTET STRING`` (DER certificates)."""

    _child_spec = core.OctetString


class CertDigestList(core.SequenceOf):  # type: ignore[misc]
    """``CertDigestList ::= SEQUENCE OF CertDigestObj``."""

    _child_spec = CertDigestObj


class SESESPropertyInfo(core.Sequence):  # type: ignore[misc]
    """``SES_ESPropertyInfo``: type, name, certListType, certList, createDate, validStart, validEnd."""

    _fields = [  # noqa: RUF012
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", core.Any),
        ("create_date", core.GeneralizedTime),
        ("valid_start", core.GeneralizedTime),
        ("valid_end", core.GeneralizedTime),
    ]


class SESESPictrueInfo(core.Sequence):  # type: ignore[misc]
    """``SES_ESPictrueInfo`` (sic): type, data, width, height (mm)."""

    _fields = [  # noqa: RUF012
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class ExtData(core.Sequence):  # type: ignore[misc]
    """``ExtData ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }``."""

    _fields = [  # noqa: RUF012
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):  # type: ignore[misc]
    """``ExtensionDatas ::= SEQUENCE OF ExtData``."""

    _child_spec = ExtData


class SESSealInfo(core.Sequence):  # type: ignore[misc]
    """``SES_SealInfo``: header, esID, property, picture, extDatas OPTIONAL."""

    _fields = [  # noqa: RUF012
        ("header", SESHeader),
        ("es_id", core.IA5String),
        ("property", SESESPropertyInfo),
        ("picture", SESESPictrueInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class TBSSeal(core.Sequence):  # type: ignore[misc]
    """What the seal maker signs: ``SEQUENCE { eSealInfo, cert, signAlgID }``."""

    _fields = [  # noqa: RUF012
        ("e_seal_info", SESSealInfo),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
    ]


class SESeal(core.Sequence):  # type: ignore[misc]
    """``SESeal ::= SEQUENCE { eSealInfo, cert, signAlgID, signedValue BIT STRING }``."""

    _fields = [  # noqa: RUF012
        ("e_seal_info", SESSealInfo),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class TBSSign(core.Sequence):  # type: ignore[misc]
    """``TBS_Sign``: version, eseal, timeInfo, dataHash, propertyInfo, extDatas OPTIONAL."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("eseal", SESeal),
        ("time_info", core.GeneralizedTime),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class TBSSignature(core.Sequence):  # type: ignore[misc]
    """What the signer signs: ``SEQUENCE { toSign, cert, signatureAlgID }``."""

    _fields = [  # noqa: RUF012
        ("to_sign", TBSSign),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
    ]


class SESSignature(core.Sequence):  # type: ignore[misc]
    """``SES_Signature``: toSign, cert, signatureAlgID, signature, timeStamp [0] OPTIONAL."""

    _fields = [  # noqa: RUF012
        ("to_sign", TBSSign),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("time_stamp", core.OctetBitString, {"implicit": 0, "optional": True}),
    ]


# -- parsed, frozen views --------------------------------------------------------------------


class SesFormatError(InputError):
    """An SES structure is malformed or outside this profile."""

    code = "ses_format"


@dataclass(frozen=True)
class Seal:
    """A parsed ``SESeal`` (signature not yet checked)."""

    der: bytes = field(repr=False)
    """The DER bytes."""
    es_id: str
    """Seal identifier (印章标识)."""
    vid: str
    """Vendor id of the header."""
    seal_type: int
    """1 organisation seal, 2 personal seal."""
    name: str
    """Seal name (印章名称)."""
    cert_list_type: int
    """1: certificates, 2: certificate digests."""
    certs: tuple[bytes, ...]
    """DER certificates (list type 1)."""
    cert_digests: tuple[tuple[str, bytes], ...]
    """(digest algorithm, digest) pairs (list type 2)."""
    created: dt.datetime
    """createDate."""
    valid_start: dt.datetime
    """validStart."""
    valid_end: dt.datetime
    """validEnd."""
    picture_type: str
    """``PNG`` etc."""
    picture: bytes = field(repr=False)
    """The seal picture."""
    width_mm: int
    """Picture width (mm)."""
    height_mm: int
    """Picture height (mm)."""
    maker_cert: bytes = field(repr=False)
    """DER certificate of the seal maker (制章者)."""
    sign_alg: str
    """Dotted OID of the maker's signature algorithm."""
    signed_value: bytes = field(repr=False)
    """The maker's DER signature."""
    tbs: bytes = field(repr=False)
    """The bytes the maker signed."""


@dataclass(frozen=True)
class SealSignature:
    """A parsed ``SES_Signature`` (signature not yet checked)."""

    der: bytes = field(repr=False)
    """The DER bytes."""
    version: int
    """TBS_Sign version (4)."""
    seal: Seal
    """The embedded seal."""
    time_info: dt.datetime
    """Signing time claimed by the signer (UTC)."""
    data_hash: bytes
    """SM3 digest of the signed document."""
    property_info: str
    """Reference to the signed document (its file name, OFD style)."""
    crls: tuple[bytes, ...] = field(repr=False)
    """DER CRLs embedded as revocation evidence."""
    signer_cert: bytes = field(repr=False)
    """DER certificate of the signer."""
    signature_alg: str
    """Dotted OID of the signature algorithm."""
    signature: bytes = field(repr=False)
    """The signer's DER signature."""
    time_stamp: bytes | None = field(repr=False)
    """RFC 3161 token over the signature, if any."""
    tbs: bytes = field(repr=False)
    """The bytes the signer signed."""


def _utc(value: Any, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise SesFormatError(f"SES {what} is not a UTC time")
    return value.astimezone(dt.UTC)


def _gt(when: dt.datetime) -> core.GeneralizedTime:
    return core.GeneralizedTime(require_utc(when, "time").replace(microsecond=0))


def _ext_datas(items: Iterable[tuple[str, bytes]]) -> ExtensionDatas:
    return ExtensionDatas([{"extn_id": oid, "critical": False, "extn_value": value} for oid, value in items])


def _read_ext_datas(value: Any) -> list[tuple[str, bool, bytes]]:
    if isinstance(value, core.Void):
        return []
    out = [(e["extn_id"].dotted, bool(e["critical"].native), bytes(e["extn_value"].native)) for e in value]
    if len(out) > MAX_EXT_DATAS:
        raise SesFormatError("too many SES extension data items")
    return out


def parse_seal(der: bytes) -> Seal:
    """Parse a DER ``SESeal`` (bounded, strict DER); :class:`SesFormatError` on anything odd."""
    if not isinstance(der, bytes) or len(der) > MAX_SES_BYTES:
        raise SesFormatError("SES seal too large or not bytes")
    try:
        seal = SESeal.load(der, strict=True)
        return _seal_view(seal)
    except SesFormatError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise SesFormatError(f"malformed SES seal: {exc}", message_zh="电子印章数据格式错误") from exc


def _seal_view(seal: SESeal) -> Seal:
    info = seal["e_seal_info"]
    header = info["header"]
    if header["id"].native != SES_ID or header["version"].native != SES_VERSION:
        raise SesFormatError(
            f"unsupported seal header {header['id'].native!r} v{header['version'].native}",
            message_zh="电子印章头不是 ES 第 4 版",
        )
    prop = info["property"]
    list_type = prop["cert_list_type"].native
    raw_list = prop["cert_list"].dump()
    certs: tuple[bytes, ...] = ()
    digests: tuple[tuple[str, bytes], ...] = ()
    if list_type == CERT_LIST_CERTS:
        certs = tuple(bytes(c.native) for c in CertInfoList.load(raw_list, strict=True))
        count = len(certs)
    elif list_type == CERT_LIST_DIGESTS:
        digests = tuple(
            (str(d["type"].native), bytes(d["value"].native))
            for d in CertDigestList.load(raw_list, strict=True)
        )
        count = len(digests)
    else:
        raise SesFormatError(f"unknown certListType {list_type}")
    if not 1 <= count <= MAX_CERTS:
        raise SesFormatError("seal certificate list is empty or too long")
    picture = info["picture"]
    pic = bytes(picture["data"].native)
    if picture["type"].native not in PICTURE_TYPES or len(pic) > MAX_PICTURE_BYTES:
        raise SesFormatError("seal picture type unknown or picture too large")
    for oid, critical, _ in _read_ext_datas(info["ext_datas"]):
        if critical:
            raise SesFormatError(f"unknown critical seal extension {oid}")
    tbs = TBSSeal({"e_seal_info": info, "cert": seal["cert"], "sign_alg_id": seal["sign_alg_id"]})
    return Seal(
        der=seal.dump(),
        es_id=str(info["es_id"].native),
        vid=str(header["vid"].native),
        seal_type=int(prop["type"].native),
        name=str(prop["name"].native),
        cert_list_type=int(list_type),
        certs=certs,
        cert_digests=digests,
        created=_utc(prop["create_date"].native, "createDate"),
        valid_start=_utc(prop["valid_start"].native, "validStart"),
        valid_end=_utc(prop["valid_end"].native, "validEnd"),
        picture_type=str(picture["type"].native),
        picture=pic,
        width_mm=int(picture["width"].native),
        height_mm=int(picture["height"].native),
        maker_cert=bytes(seal["cert"].native),
        sign_alg=seal["sign_alg_id"].dotted,
        signed_value=bytes(seal["signed_value"].native),
        tbs=tbs.dump(),
    )


def parse_signature(der: bytes) -> SealSignature:
    """Parse a DER ``SES_Signature`` (bounded, strict DER)."""
    if not isinstance(der, bytes) or len(der) > MAX_SES_BYTES:
        raise SesFormatError("SES signature too large or not bytes")
    try:
        sig = SESSignature.load(der, strict=True)
        tbs = sig["to_sign"]
        if tbs["version"].native != SES_VERSION:
            raise SesFormatError(f"unsupported TBS_Sign version {tbs['version'].native}")
        seal = _seal_view(tbs["eseal"])
        info = str(tbs["property_info"].native)
        if len(info) > MAX_PROPERTY_INFO:
            raise SesFormatError("propertyInfo too long")
        crls: list[bytes] = []
        for oid, critical, value in _read_ext_datas(tbs["ext_datas"]):
            if oid == OID_EXT_CRL:
                crls.append(value)
            elif critical:
                raise SesFormatError(f"unknown critical signature extension {oid}")
        ts = sig["time_stamp"]
        signed = TBSSignature(
            {"to_sign": tbs, "cert": sig["cert"], "signature_alg_id": sig["signature_alg_id"]}
        )
        return SealSignature(
            der=der,
            version=int(tbs["version"].native),
            seal=seal,
            time_info=_utc(tbs["time_info"].native, "timeInfo"),
            data_hash=bytes(tbs["data_hash"].native),
            property_info=info,
            crls=tuple(crls),
            signer_cert=bytes(sig["cert"].native),
            signature_alg=sig["signature_alg_id"].dotted,
            signature=bytes(sig["signature"].native),
            time_stamp=None if isinstance(ts, core.Void) else bytes(ts.native),
            tbs=signed.dump(),
        )
    except SesFormatError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise SesFormatError(f"malformed SES signature: {exc}", message_zh="电子签章数据格式错误") from exc


def looks_like_ses_signature(data: bytes) -> bool:
    """Cheap sniff for :mod:`elicense.verify.inputs`: DER SEQUENCE that parses as SES_Signature."""
    if not data.startswith(SES_MAGIC_PREFIX) or len(data) > MAX_SES_BYTES:
        return False
    try:
        parse_signature(data)
    except ElicenseError:
        return False
    return True


# -- building --------------------------------------------------------------------------------


def _sm3(data: bytes) -> bytes:
    from elicense.crypto.sm2 import sm3

    return sm3(data)


def _der(cert: x509.Certificate) -> bytes:
    from elicense.crypto.sm2 import certificate_der

    return certificate_der(cert)


def make_seal(
    *,
    es_id: str,
    name: str,
    certificates: Sequence[x509.Certificate],
    picture_png: bytes,
    width_mm: int,
    height_mm: int,
    valid_start: dt.datetime,
    valid_end: dt.datetime,
    maker_cert: x509.Certificate,
    maker_key: Sm2PrivateKey,
    created: dt.datetime,
    seal_type: int = SEAL_TYPE_ORGANISATION,
    cert_list_type: int = CERT_LIST_CERTS,
    vid: str = DEFAULT_VID,
) -> bytes:
    """Make and sign a v4 ``SESeal`` (DER) for the holders of ``certificates``.

    ``cert_list_type=2`` lists SM3 digests of the certificates instead of the
    certificates themselves.
    """
    from elicense.crypto.sm2 import Sm2PublicKey

    if not es_id.isascii() or not es_id or len(es_id) > 64:
        raise CryptoError("seal id must be 1-64 ASCII characters")
    if not certificates or len(certificates) > MAX_CERTS:
        raise CryptoError(f"a seal lists 1..{MAX_CERTS} certificates")
    if valid_end <= valid_start:
        raise CryptoError("seal validEnd must be later than validStart")
    if Sm2PublicKey.from_certificate(maker_cert) != maker_key.public_key():
        raise CryptoError("seal maker key does not match its certificate")
    if cert_list_type == CERT_LIST_CERTS:
        cert_list: core.Asn1Value = CertInfoList([_der(c) for c in certificates])
    elif cert_list_type == CERT_LIST_DIGESTS:
        cert_list = CertDigestList([{"type": "SM3", "value": _sm3(_der(c))} for c in certificates])
    else:
        raise CryptoError("certListType must be 1 or 2")
    info = SESSealInfo(
        {
            "header": {"id": SES_ID, "version": SES_VERSION, "vid": vid},
            "es_id": es_id,
            "property": {
                "type": seal_type,
                "name": name,
                "cert_list_type": cert_list_type,
                "cert_list": core.Any.load(cert_list.dump()),
                "create_date": _gt(created),
                "valid_start": _gt(valid_start),
                "valid_end": _gt(valid_end),
            },
            "picture": {"type": "PNG", "data": picture_png, "width": width_mm, "height": height_mm},
        }
    )
    maker_der = _der(maker_cert)
    tbs = TBSSeal({"e_seal_info": info, "cert": maker_der, "sign_alg_id": OID_SM2_WITH_SM3})
    signature = maker_key.sign(tbs.dump())
    seal = SESeal(
        {
            "e_seal_info": SESSealInfo.load(info.dump()),
            "cert": maker_der,
            "sign_alg_id": OID_SM2_WITH_SM3,
            "signed_value": signature,
        }
    )
    der: bytes = seal.dump()
    parse_seal(der)  # what we write must parse
    return der


def sign_document(
    document: bytes,
    *,
    seal: bytes,
    signer_cert: x509.Certificate,
    signer_key: Sm2PrivateKey,
    at: dt.datetime,
    property_info: str,
    crls: Sequence[bytes] = (),
    time_stamp: bytes | None = None,
) -> bytes:
    """A detached ``SES_Signature`` (DER) over ``document`` with ``seal``.

    ``property_info`` names the signed document (its file name beside the
    signature, as an OFD signature names the file it covers). ``crls`` are
    embedded as revocation evidence gathered at signing time.
    """
    from elicense.crypto.sm2 import Sm2PublicKey

    when = require_utc(at, "at").replace(microsecond=0)
    parsed = parse_seal(seal)
    if Sm2PublicKey.from_certificate(signer_cert) != signer_key.public_key():
        raise CryptoError("signer key does not match its certificate")
    signer_der = _der(signer_cert)
    if not _cert_in_seal(parsed, signer_der):
        raise CryptoError(
            "the signer's certificate is not in the seal's certificate list",
            message_zh="签章者证书不在电子印章的证书列表中",
        )
    if not property_info.isascii() or len(property_info) > MAX_PROPERTY_INFO:
        raise CryptoError("propertyInfo must be ASCII (IA5String) and short")
    fields: dict[str, Any] = {
        "version": SES_VERSION,
        "eseal": SESeal.load(seal),
        "time_info": _gt(when),
        "data_hash": _sm3(document),
        "property_info": property_info,
    }
    if crls:
        fields["ext_datas"] = _ext_datas((OID_EXT_CRL, c) for c in crls)
    to_sign = TBSSign(fields)
    signed = TBSSignature({"to_sign": to_sign, "cert": signer_der, "signature_alg_id": OID_SM2_WITH_SM3})
    signature = signer_key.sign(signed.dump())
    out: dict[str, Any] = {
        "to_sign": TBSSign.load(to_sign.dump()),
        "cert": signer_der,
        "signature_alg_id": OID_SM2_WITH_SM3,
        "signature": signature,
    }
    if time_stamp is not None:
        out["time_stamp"] = time_stamp
    der: bytes = SESSignature(out).dump()
    parse_signature(der)
    return der


def _cert_in_seal(seal: Seal, cert_der: bytes) -> bool:
    if seal.cert_list_type == CERT_LIST_CERTS:
        return cert_der in seal.certs
    digest = _sm3(cert_der)
    return any(kind.upper() == "SM3" and value == digest for kind, value in seal.cert_digests)


# -- verification ----------------------------------------------------------------------------

I, X = Status.INVALID, Status.INDETERMINATE  # noqa: E741
SES_MALFORMED = r.register(
    "ses_malformed", I, "The electronic signature data is malformed", "电子签章数据格式错误"
)
SES_SIGNER_NOT_IN_SEAL = r.register(
    "ses_signer_not_in_seal", I, "The signer's certificate is not one the seal was made for",
    "签章者证书与电子印章不匹配",
)
SES_SEAL_SIGNATURE_INVALID = r.register(
    "ses_seal_signature_invalid", I, "The seal maker's signature on the seal is invalid", "电子印章的制章者签名无效"
)
SES_SEAL_EXPIRED = r.register(
    "ses_seal_expired", I, "The seal had expired at the signing time", "签章时电子印章已过有效期"
)
SES_SEAL_NOT_YET_VALID = r.register(
    "ses_seal_not_yet_valid", I, "The seal was not yet valid at the signing time", "签章时电子印章尚未生效"
)
SES_CERTIFICATE_UNTRUSTED = r.register(
    "ses_certificate_untrusted", X, "A certificate does not chain to a trusted SM2 anchor",
    "证书无法链接到可信的 SM2 根",
)
SES_CERTIFICATE_REVOKED = r.register(
    "ses_certificate_revoked", I, "A certificate had been revoked at the signing time", "签章时证书已被吊销"
)
SES_REVOCATION_UNKNOWN = r.register(
    "ses_revocation_unknown", X, "No valid revocation data covers a certificate at the signing time",
    "缺少覆盖签章时间的有效吊销信息",
)
SES_DOCUMENT_MISMATCH = r.register(
    "ses_document_mismatch", I, "The document does not match the signed digest", "原文杂凑值与签章不符"
)
SES_DOCUMENT_MISSING = r.register(
    "ses_document_missing", X, "The signed document was not supplied", "未提供被签章的原文"
)
del I, X

RevocationHook = Callable[["x509.Certificate", dt.datetime], "Reason | None"]


@dataclass(frozen=True)
class SesTrust:
    """What a seal verifier trusts: SM2 anchors, known intermediates, extra CRLs."""

    roots: tuple[x509.Certificate, ...]
    """Trust anchors (non-SM2 ones are ignored)."""
    intermediates: tuple[x509.Certificate, ...] = ()
    """CA certificates that may complete chains."""
    crls: tuple[bytes, ...] = ()
    """DER SM2 CRLs from the verifier's side (fresher than embedded ones)."""


def verify_signature(
    data: bytes,
    *,
    document: bytes | None,
    trust: SesTrust,
    at: dt.datetime,
    algorithms: AlgorithmPolicy | None = None,
) -> VerificationResult:
    """Verify a DER ``SES_Signature`` over ``document`` in the order of GB/T 38540.

    ``algorithms`` is the caller's allow-list: SM2 must be on it (it is not on
    :meth:`AlgorithmPolicy.default`). Never raises for a failed check.
    """
    from elicense.crypto.algorithms import Algorithm
    from elicense.crypto.pki import OID_EKU_LICENCE_SIGNING
    from elicense.crypto.sm2 import Sm2PublicKey, load_certificate
    from elicense.errors import AlgorithmNotAllowed

    when = require_utc(at, "at")
    checks: list[Check] = []
    reasons: list[Reason] = []

    def done(failed: str, found: list[Reason]) -> VerificationResult:
        worst = r.worst(x.status for x in found)
        outcome = CheckOutcome.FAILED if worst is Status.INVALID else CheckOutcome.INDETERMINATE
        checks.append(Check(failed, outcome))
        return VerificationResult(
            status=r.worst(x.status for x in [*reasons, *found]), reasons=(*reasons, *found),
            checks=tuple(checks), verified_at=when, kind="ses",
        )  # fmt: skip

    def check(name: str, found: list[Reason], detail: str | None = None) -> None:
        reasons.extend(found)
        outcome = CheckOutcome.PASSED
        if found:
            worst = r.worst(x.status for x in found)
            outcome = CheckOutcome.FAILED if worst is Status.INVALID else CheckOutcome.INDETERMINATE
        checks.append(Check(name, outcome, detail))

    # 1. format
    try:
        sig = parse_signature(data)
        signer = load_certificate(sig.signer_cert)
        maker = load_certificate(sig.seal.maker_cert)
    except (SesFormatError, CryptoError) as exc:
        return done("format", [Reason.of(SES_MALFORMED, exc.message)])
    checks.append(Check("format", CheckOutcome.PASSED, f"SES v{sig.version}, seal {sig.seal.es_id}"))

    # algorithm allow-list (both signatures)
    try:
        if sig.signature_alg != OID_SM2_WITH_SM3 or sig.seal.sign_alg != OID_SM2_WITH_SM3:
            raise AlgorithmNotAllowed(f"unsupported SES signature algorithm {sig.signature_alg}")
        if algorithms is not None:
            algorithms.check(Algorithm.SM2)
    except AlgorithmNotAllowed as exc:
        return done("algorithm", [Reason.of(r.ALGORITHM_NOT_ALLOWED, exc.message)])
    checks.append(Check("algorithm", CheckOutcome.PASSED, "SM2"))

    # 2. signer's signature over TBS_Sign
    try:
        signer_key = Sm2PublicKey.from_certificate(signer)
        ok = signer_key.verify(sig.signature, sig.tbs)
    except CryptoError:
        ok = False
    if not ok:
        return done("signature", [Reason.of(r.SIGNATURE_INVALID)])
    checks.append(Check("signature", CheckOutcome.PASSED))

    # 3. signer certificate in the seal's certificate list
    if not _cert_in_seal(sig.seal, sig.signer_cert):
        return done("signer_in_seal", [Reason.of(SES_SIGNER_NOT_IN_SEAL, f"list type {sig.seal.cert_list_type}")])
    checks.append(Check("signer_in_seal", CheckOutcome.PASSED, f"list type {sig.seal.cert_list_type}"))

    # 4. seal maker's signature over the seal
    try:
        maker_ok = Sm2PublicKey.from_certificate(maker).verify(sig.seal.signed_value, sig.seal.tbs)
    except CryptoError:
        maker_ok = False
    if not maker_ok:
        return done("seal_signature", [Reason.of(SES_SEAL_SIGNATURE_INVALID)])
    checks.append(Check("seal_signature", CheckOutcome.PASSED))

    # 5. seal validity window against the signing time
    found: list[Reason] = []
    signed_at = sig.time_info
    if signed_at > when + CLOCK_SKEW:
        found.append(Reason.of(r.SIGNED_IN_FUTURE, signed_at.isoformat()))
    if signed_at < sig.seal.valid_start:
        found.append(Reason.of(SES_SEAL_NOT_YET_VALID, sig.seal.valid_start.isoformat()))
    elif signed_at > sig.seal.valid_end:
        found.append(Reason.of(SES_SEAL_EXPIRED, sig.seal.valid_end.isoformat()))
    check("seal_validity", found)

    # 6. certificates: chain, validity at signing time, revocation
    crls = _load_crls([*trust.crls, *sig.crls])
    for role, cert, eku in (
        ("signer_certificate", signer, OID_EKU_LICENCE_SIGNING),
        ("seal_maker_certificate", maker, _eku(OID_EKU_SEAL_MAKING)),
    ):
        check(role, _check_certificate(cert, eku, signed_at, trust, crls))

    # 7. time stamp
    if sig.time_stamp is None:
        checks.append(Check("timestamp", CheckOutcome.SKIPPED, "none"))
    else:
        checks.append(Check("timestamp", CheckOutcome.SKIPPED, "present; no TSA trust configured"))

    # 8. document digest
    if document is None:
        check("document_digest", [Reason.of(SES_DOCUMENT_MISSING, sig.property_info or None)])
    elif _sm3(document) != sig.data_hash:
        check("document_digest", [Reason.of(SES_DOCUMENT_MISMATCH, sig.property_info or None)])
    else:
        check("document_digest", [], sig.property_info or None)

    return VerificationResult(
        status=r.worst(x.status for x in reasons),
        reasons=tuple(reasons),
        checks=tuple(checks),
        verified_at=when,
        kind="ses",
    )


def _eku(dotted: str) -> x509.ObjectIdentifier:
    from cryptography.x509.oid import ObjectIdentifier

    return ObjectIdentifier(dotted)


def _load_crls(ders: Iterable[bytes]) -> list[Any]:
    from elicense.crypto.sm2 import Sm2Crl

    out = []
    for der in ders:
        try:
            out.append(Sm2Crl.load(der))
        except CryptoError:
            continue  # unusable evidence is no evidence; it cannot make anything VALID
    return out


def _check_certificate(
    cert: x509.Certificate,
    eku: x509.ObjectIdentifier,
    signed_at: dt.datetime,
    trust: SesTrust,
    crls: Sequence[Any],
) -> list[Reason]:
    from elicense.crypto.sm2 import validate_sm2_chain

    try:
        chain = validate_sm2_chain(cert, roots=trust.roots, intermediates=trust.intermediates, eku=eku)
    except TrustError as exc:
        return [Reason.of(SES_CERTIFICATE_UNTRUSTED, exc.message)]
    if signed_at < chain.not_before:
        return [Reason.of(r.CERTIFICATE_NOT_YET_VALID, chain.not_before.isoformat())]
    if signed_at > chain.not_after:
        return [Reason.of(r.CERTIFICATE_EXPIRED, chain.not_after.isoformat())]
    # every non-anchor certificate of the chain needs a CRL from its issuer covering signed_at
    for child, issuer in zip(chain.chain[:-1], chain.chain[1:], strict=True):
        usable = [c for c in crls if c.covers(signed_at) and c.verify(issuer)]
        if not usable:
            return [Reason.of(SES_REVOCATION_UNKNOWN, f"serial {child.serial_number:x}")]
        for crl in usable:
            revoked_at = crl.revoked.get(child.serial_number)
            if revoked_at is not None and revoked_at <= signed_at:
                detail = f"serial {child.serial_number:x} at {revoked_at.isoformat()}"
                return [Reason.of(SES_CERTIFICATE_REVOKED, detail)]
    return []


def trust_from_store(store: Any, extra_crls: Sequence[bytes] = ()) -> SesTrust:
    """Seal trust from a :class:`~elicense.trust.store.TrustStore`: its roots, and the
    intermediates of its validated chains (SM2 ones are the only ones used)."""
    inter: dict[bytes, x509.Certificate] = {}
    for keys in store.keys.values():
        for key in keys:
            for cert in key.chain.chain[1:-1]:
                inter[_der(cert)] = cert
    return SesTrust(roots=tuple(store.roots), intermediates=tuple(inter.values()), crls=tuple(extra_crls))


__all__ = [
    "CERT_LIST_CERTS",
    "CERT_LIST_DIGESTS",
    "OID_EKU_SEAL_MAKING",
    "OID_EXT_CRL",
    "Seal",
    "SealSignature",
    "SesFormatError",
    "SesTrust",
    "looks_like_ses_signature",
    "make_seal",
    "parse_seal",
    "parse_signature",
    "sign_document",
    "trust_from_store",
    "verify_ses_input",
    "verify_signature",
]


MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def verify_ses_input(
    verifier: Any, data: bytes, *, at: dt.datetime | None = None, source: Path | None = None
) -> VerificationResult:
    """Glue for ``elicense verify``: trust and allow-list from ``verifier``; the document is the
    file named by ``propertyInfo`` beside ``source`` (a bare file name only, never a path)."""
    when = require_utc(at if at is not None else verifier.clock(), "at")
    document: bytes | None = None
    try:
        info = parse_signature(data).property_info
    except SesFormatError:
        info = ""
    if source is not None and info and _safe_name(info):
        candidate = source.parent / info
        if candidate.is_file():
            with candidate.open("rb") as fh:
                document = fh.read(MAX_DOCUMENT_BYTES + 1)
            if len(document) > MAX_DOCUMENT_BYTES:
                raise InputError("signed document too large", message_zh="被签章的原文过大")
    result = verify_signature(
        data, document=document, trust=trust_from_store(verifier.trust), at=when, algorithms=verifier.algorithms
    )
    if document is not None and document.lstrip()[:4] == b"EL2:" and result.status is not Status.INVALID:
        # a sealed licence payload: its own verification decides too (issuer, validity, catalogue)
        licence = verifier.verify(document.decode("ascii", "replace").strip(), at=when)
        reasons = (*result.reasons, *licence.reasons)
        return VerificationResult(
            status=r.worst(x.status for x in reasons), reasons=reasons,
            checks=(*result.checks, *(Check(f"licence.{c.name}", c.outcome, c.detail) for c in licence.checks)),
            verified_at=when, licence=licence.licence, issuer=licence.issuer,
            licence_type=licence.licence_type, fields=licence.fields, kind="ses",
        )  # fmt: skip
    return result


def _safe_name(name: str) -> bool:
    return (
        0 < len(name) <= 255 and "/" not in name and "\\" not in name and name not in (".", "..")
        and "\x00" not in name
    )  # fmt: skip
