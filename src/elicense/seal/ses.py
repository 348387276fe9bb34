"""Electronic seals (电子印章) and seal signatures (电子签章) as real producers make them.

Versions read: GM/T 0031-2014 (v1), GB/T 38540-2020 (v4) and the GM/T 0031-2025-era v5
(the v4 shape with header version 5 and an optional ``[0] EXPLICIT`` time stamp on the seal,
as ofdrw 2.4 reads and writes it). Version written: v4, exactly as the standard's text and
the deployed producers do:

* the seal maker signs **DER(SES_SealInfo)**; the signer signs **DER(TBS_Sign)**;
* ``TBS_Sign.extDatas`` is ``[0] EXPLICIT``; ``SES_Signature.timeStamp`` is ``[0] EXPLICIT``;
* v1 (read only): the maker signs ``SEQUENCE{sealInfo, cert, signatureAlgorithm}`` and the
  signer signs DER(TBS_Sign), whose v1 form holds the signer's certificate and algorithm.

Parsing walks the input with :mod:`elicense.seal.der`, so every signature is checked over
the bytes **as they are in the file**, and every departure from the standard that is still
unambiguous (lower-case picture type, raw ``r‖s`` signature values, SM3 named by a sub-arc,
a certificate ``cryptography`` refuses, ...) becomes a :class:`Deviation` — reported as a
``WARNING`` check, never silently accepted, never allowed to make a bad signature good.

Verification (:func:`elicense.seal.verify.verify_ses`) follows GB/T 38540 §8 and the 验章 steps of GB/T 33841:
signature value → seal maker's signature → seal validity at the signing time → signer in the
seal's certificate list → both certificate chains → revocation → time stamp → data hash.
``specs/seal.md`` is normative.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from asn1crypto import core
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from elicense.crypto.pki import ARC
from elicense.crypto.sm2 import (
    N,
    Sm2PublicKey,
    certificate_der,
    parse_der_signature,
    raw_to_der,
    sm3,
    verify_with_user_id,
)
from elicense.errors import CryptoError, ElicenseError, InputError
from elicense.model import require_utc
from elicense.seal import der as d
from elicense.seal.certs import CertView, cert_of
from elicense.verdict import reasons as r
from elicense.verdict.reasons import (
    CheckOutcome,
    Status,
)
from elicense.verdict.result import Check, Reason, VerificationResult

if TYPE_CHECKING:
    from typing import TypeAlias

    from cryptography import x509

    from elicense.crypto.sm2 import Sm2PrivateKey

    CertLike: TypeAlias = x509.Certificate | bytes
    """A certificate: ``x509.Certificate`` or DER bytes."""

SES_ID = "ES"
SES_VERSION = 4
SUPPORTED_VERSIONS = (1, 4, 5)
DEFAULT_VID = "ELICENSE"
DEFAULT_USER_ID = b"1234567812345678"
OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"
OID_SM2_SIGN = "1.2.156.10197.1.301.1"
OID_SM3 = "1.2.156.10197.1.401"
OID_EKU_SEAL_MAKING = f"{ARC}.2.38540"
"""Extended key usage of a seal maker's (制章者) certificate in elicense's own PKI."""
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
CHINA_STANDARD_TIME = dt.timezone(dt.timedelta(hours=8))
SES_MAGIC_PREFIX = b"\x30"


class SesFormatError(InputError):
    """An SES structure is malformed or outside every version this module reads."""

    code = "ses_format"


class SesVersionUnsupported(SesFormatError):
    """The header names a seal version this module does not read."""

    code = "ses_version_unsupported"


# -- deviations from the standard -------------------------------------------------------------


@dataclass(frozen=True)
class Deviation:
    """One way an input departs from its standard while staying unambiguous."""

    code: str
    """Stable code (``ses_dev_*`` / ``sd_dev_*``); also the check name ``deviation.<code>``."""
    where: str
    """Which field (``seal.picture.type``, ``signature.value``, ...)."""
    detail: str = ""
    """What was found."""

    @property
    def message_en(self) -> str:
        """English description."""
        return DEVIATIONS[self.code][0]

    @property
    def message_zh(self) -> str:
        """Chinese description."""
        return DEVIATIONS[self.code][1]

    def check(self) -> Check:
        """The WARNING check that reports this deviation."""
        text = f"{self.where}: {self.detail}" if self.detail else self.where
        return Check(f"deviation.{self.code}", CheckOutcome.WARNING, text)


DEVIATIONS: dict[str, tuple[str, str]] = {
    "ses_dev_not_der": ("Not DER: non-minimal length octets", "非 DER 编码：长度字段非最短形式"),
    "ses_dev_picture_type_case": ("Picture type not in upper case", "印章图片类型不是大写"),
    "ses_dev_picture_type_unknown": ("Picture type outside GIF/JPG/PNG/SVG/OFD", "印章图片类型不在标准列举之内"),
    "ses_dev_signature_raw": (
        "Signature value is raw r‖s (64 bytes), not DER SEQUENCE{r,s}",
        "签名值为 64 字节 r‖s，而非 DER 编码",
    ),
    "ses_dev_algorithm_oid": ("SM2-with-SM3 named by another SM2 identifier", "SM2-with-SM3 算法使用了其他 SM2 标识"),
    "ses_dev_signature_not_der": (
        "Signature value SEQUENCE{r,s} with non-canonical INTEGERs",
        "签名值 SEQUENCE{r,s} 的整数编码不规范",
    ),
    "ses_dev_signed_bytes": (
        "The signature covers a different byte layout than the standard's",
        "签名所覆盖的数据与标准规定的结构不同",
    ),
    "ses_dev_sm3_name": ("SM3 named other than by the standard's identifier", "SM3 算法标识不是标准形式"),
    "ses_dev_certificate_encoding": (
        "A certificate is not strictly encoded (read with a second parser; its chain is still validated)",
        "证书编码不严格（已用第二个解析器读取，仍完整验证证书链）",
    ),
    "ses_dev_critical_extension": (
        "A certificate carries a vendor's critical extension",
        "证书含有厂商自定义的关键扩展",
    ),
    "ses_dev_critical_ext_data": (
        "A vendor's critical ExtData this verifier does not understand",
        "含有本验证方不理解的厂商关键扩展数据",
    ),
    "ses_dev_cert_unwrapped": (
        "A certificate stored as a bare Certificate, not in an OCTET STRING",
        "证书未按标准封装在 OCTET STRING 中",
    ),
    "ses_dev_version_mismatch": (
        "TBS_Sign version differs from the seal's version",
        "TBS_Sign 版本号与电子印章版本号不一致",
    ),
    "ses_dev_ext_datas_untagged": ("TBS_Sign.extDatas without its [0] tag", "TBS_Sign.extDatas 缺少 [0] 标签"),
    "ses_dev_time_stamp_implicit": ("timeStamp tagged [0] IMPLICIT", "timeStamp 使用了 [0] 隐式标签"),
    "ses_dev_octet_string": ("BIT STRING field encoded as OCTET STRING", "BIT STRING 字段被编码为 OCTET STRING"),
    "ses_dev_time_text": (
        "Signing time is free text (read as China Standard Time, UTC+8)",
        "签章时间为文本（按北京时间 UTC+8 解读）",
    ),
    "ses_dev_user_id": ("SM2 signature with a non-default user id", "SM2 签名使用了非默认用户标识"),
    "ses_dev_cert_digest_type": ("Certificate digest type not named SM3", "证书杂凑算法名称不是 SM3"),
    "ses_dev_string_type": (
        "A text field uses another string type than the standard's",
        "文本字段的字符串类型与标准不同",
    ),
    "ses_dev_time_type": (
        "A date uses UTCTime where the version has GeneralizedTime (or the reverse)",
        "日期类型与该版本标准不同（UTCTime 与 GeneralizedTime）",
    ),
    "sd_dev_outer_oid": (
        "SignedData labelled with the PKCS #7 identifier, not GB/T 35275's",
        "SignedData 使用了 PKCS#7 标识而非 GB/T 35275 标识",
    ),
    "sd_dev_content_type": (
        "SignedData content type differs from GB/T 35275 data / its contentType attribute",
        "SignedData 内容类型与 GB/T 35275 数据类型或 contentType 属性不一致",
    ),
    "sd_dev_signature_alg": (
        "SignerInfo signature algorithm is SM2-with-SM3, not sm2-1",
        "SignerInfo 签名算法为 SM2-with-SM3 而非 sm2-1",
    ),
}


# -- parsed, frozen views --------------------------------------------------------------------


@dataclass(frozen=True)
class SignedPart:
    """Which bytes one signature covers: pieces of the file, optionally wrapped in a SEQUENCE."""

    layout: str
    """``DER(SES_SealInfo)``, ``DER(TBS_Sign)``, ``DER(SEQUENCE{sealInfo, cert, signAlgID})``, ..."""
    ranges: tuple[tuple[int, int], ...]
    """``(start, end)`` offsets into the file of the pieces, in order."""
    wrapped: bool
    """Whether the pieces are wrapped in a new SEQUENCE header (not bytes of the file)."""
    data: bytes = field(repr=False)
    """The exact signed bytes."""


@dataclass(frozen=True)
class Seal:
    """A parsed seal (``SESeal``) of version 1, 4 or 5; signatures not yet checked."""

    der: bytes = field(repr=False)
    """The seal's bytes, as in the input."""
    version: int
    """Header version (1, 4, 5)."""
    vid: str
    """Producer (vendor) id of the header."""
    es_id: str
    """Seal identifier (印章标识)."""
    seal_type: int
    """1 organisation seal, 2 personal seal (v1/v4); v5 producers use more values."""
    name: str
    """Seal name (印章名称)."""
    cert_list_type: int
    """1: certificates, 2: certificate digests (v1 seals: always 1)."""
    certs: tuple[bytes, ...] = field(repr=False)
    """DER certificates (list type 1)."""
    cert_digests: tuple[tuple[str, bytes], ...] = field(repr=False)
    """(digest algorithm, digest) pairs (list type 2)."""
    created: dt.datetime
    """createDate."""
    valid_start: dt.datetime
    """validStart."""
    valid_end: dt.datetime
    """validEnd."""
    picture_type: str
    """Picture type as written (``PNG``, ``ofd``, ...)."""
    picture: bytes = field(repr=False)
    """The seal picture (or, for type OFD, a small OFD document)."""
    width_mm: int
    """Picture width (mm)."""
    height_mm: int
    """Picture height (mm)."""
    maker_cert: bytes = field(repr=False)
    """DER certificate of the seal maker (制章者)."""
    sign_alg: str
    """Dotted OID of the maker's signature algorithm."""
    signed_value: bytes = field(repr=False)
    """The maker's signature value as in the file."""
    covers: SignedPart
    """What the maker's signature covers according to the version's standard."""
    alternative: SignedPart | None = field(repr=False)
    """The other layout real producers use (checked only if ``covers`` fails; a deviation then)."""
    ext_datas: tuple[tuple[str, bool, bytes], ...] = field(repr=False)
    """(OID, critical, value) of ``SES_SealInfo.extDatas``."""
    time_stamp: bytes | None = field(repr=False)
    """v5: time stamp over the maker's signature, if any."""
    deviations: tuple[Deviation, ...]
    """How this seal departs from its standard."""

    @property
    def tbs(self) -> bytes:
        """The bytes the maker signed (per the standard)."""
        return self.covers.data


@dataclass(frozen=True)
class SealSignature:
    """A parsed ``SES_Signature`` (v1, v4, v5); signatures not yet checked."""

    der: bytes = field(repr=False)
    """The bytes as in the input."""
    version: int
    """TBS_Sign version."""
    seal: Seal
    """The embedded seal."""
    time_info: dt.datetime
    """Signing time claimed by the signer (UTC)."""
    data_hash: bytes
    """Digest of the signed data (SM3 of ``Signature.xml`` in an OFD)."""
    property_info: str
    """What was signed (an OFD path such as ``/Doc_0/Signs/Sign_0/Signature.xml``, or a file name)."""
    crls: tuple[bytes, ...] = field(repr=False)
    """DER CRLs embedded as revocation evidence."""
    ext_datas: tuple[tuple[str, bool, bytes], ...] = field(repr=False)
    """(OID, critical, value) of ``TBS_Sign.extDatas``."""
    signer_cert: bytes = field(repr=False)
    """DER certificate of the signer."""
    signature_alg: str
    """Dotted OID of the signature algorithm."""
    signature: bytes = field(repr=False)
    """The signer's signature value as in the file."""
    time_stamp: bytes | None = field(repr=False)
    """Time stamp over the signature value, if any."""
    covers: SignedPart
    """What the signer's signature covers per the standard."""
    alternative: SignedPart | None = field(repr=False)
    """The other layout (checked only if ``covers`` fails; a deviation then)."""
    deviations: tuple[Deviation, ...]
    """How this signature (seal included) departs from its standard."""

    @property
    def tbs(self) -> bytes:
        """The bytes the signer signed (per the standard)."""
        return self.covers.data


# -- parsing -----------------------------------------------------------------------------------


class SesContext:
    """Collects deviations while parsing one input."""

    def __init__(self) -> None:
        self.devs: list[Deviation] = []

    def dev(self, code: str, where: str, detail: str = "") -> None:
        if code not in DEVIATIONS:
            raise AssertionError(code)
        item = Deviation(code, where, detail)
        if item not in self.devs and len(self.devs) < 64:
            self.devs.append(item)


def _fail(what: str, exc: Exception | None = None) -> SesFormatError:
    msg = f"malformed SES data: {what}" if exc is None else f"malformed SES data: {what}: {exc}"
    return SesFormatError(msg[:300], message_zh="电子签章数据格式错误")


def _ext_datas(node: d.Node, ctx: SesContext, where: str) -> tuple[tuple[str, bool, bytes], ...]:
    out: list[tuple[str, bool, bytes]] = []
    for item in d.expect(node, d.SEQUENCE, what=where).children():
        parts = d.expect(item, d.SEQUENCE, what=where).children()
        if len(parts) == 2:
            oid_node, value_node = parts
            critical = False
        elif len(parts) == 3:
            oid_node, crit_node, value_node = parts
            d.expect(crit_node, 0x01, what=where)
            critical = crit_node.value != b"\x00"
        else:
            raise _fail(f"{where}: ExtData has {len(parts)} fields")
        out.append((d.oid(oid_node, where), critical, d.octets(value_node, where)))
        if len(out) > MAX_EXT_DATAS:
            raise _fail(f"{where}: too many ExtData items")
    return tuple(out)


def _cert_field(node: d.Node, ctx: SesContext, where: str) -> bytes:
    """A certificate field (OCTET STRING holding DER); a bare Certificate SEQUENCE is read and reported."""
    if node.tag == d.SEQUENCE:
        ctx.dev("ses_dev_cert_unwrapped", where)
        return node.raw
    return d.octets(node, where)


def _critical_ext(ext: Sequence[tuple[str, bool, bytes]], ctx: SesContext, where: str, known: Sequence[str]) -> None:
    """Critical ExtData this module does not understand: reported (and refused by a strict verifier)."""
    for oid, critical, _ in ext:
        if critical and oid not in known:
            ctx.dev("ses_dev_critical_ext_data", where, oid)


def _bit_or_octets(node: d.Node, ctx: SesContext, where: str) -> bytes:
    if node.tag == d.OCTET_STRING:
        ctx.dev("ses_dev_octet_string", where)
        return node.value
    return d.bits(node, where)


def _text(node: d.Node, ctx: SesContext, where: str, tag: int = d.IA5_STRING) -> str:
    """A string field; another string type than the standard's is read and reported."""
    if node.tag != tag:
        ctx.dev("ses_dev_string_type", where, f"tag 0x{node.tag:02x} instead of 0x{tag:02x}")
    return d.text(node, where)


def _time(node: d.Node, ctx: SesContext, where: str, version: int) -> dt.datetime:
    """A date: UTCTime in v1, GeneralizedTime in v4/v5; the other one is read and reported."""
    want = d.UTC_TIME if version == 1 else d.GENERALIZED_TIME
    if node.tag != want:
        ctx.dev("ses_dev_time_type", where, "UTCTime" if node.tag == d.UTC_TIME else "GeneralizedTime")
    return d.time(node, where)


def sm3_name(name: str, ctx: SesContext, where: str) -> bool:
    """Whether ``name`` names SM3 (recording non-standard spellings)."""
    if name == "SM3" or name == OID_SM3:
        return True
    if name.upper() == "SM3" or name.startswith(OID_SM3 + "."):
        ctx.dev("ses_dev_sm3_name", where, name)
        return True
    return False


def _seal_at(node: d.Node, ctx: SesContext, prefix: str = "seal") -> Seal:
    parts = d.expect(node, d.SEQUENCE, what=prefix).children()
    if len(parts) < 2:
        raise _fail(f"{prefix}: too few fields")
    info = d.expect(parts[0], d.SEQUENCE, what=f"{prefix}.eSealInfo")
    fields = info.children()
    if len(fields) not in (4, 5):
        raise _fail(f"{prefix}.eSealInfo has {len(fields)} fields")
    header = d.expect(fields[0], d.SEQUENCE, what="header").children()
    if len(header) != 3:
        raise _fail("SES_Header must have 3 fields")
    if d.text(header[0], "header.ID") != SES_ID:
        raise _fail("header ID is not ES")
    version = d.integer(header[1], "header.version")
    vid = _text(header[2], ctx, "seal.header.Vid")
    if version not in SUPPORTED_VERSIONS:
        raise SesVersionUnsupported(
            f"seal version {version} is not supported (reads v1 GM/T 0031-2014, v4 GB/T 38540-2020, v5)",
            message_zh=f"不支持第 {version} 版电子印章（支持 GM/T 0031-2014 v1、GB/T 38540-2020 v4 与 v5）",
        )
    es_id = _text(fields[1], ctx, "seal.esID")
    prop = d.expect(fields[2], d.SEQUENCE, what="property").children()
    if len(prop) == 6:  # v1: type, name, certList, createDate, validStart, validEnd
        seal_type, name_node, list_node = prop[0], prop[1], prop[2]
        list_type = CERT_LIST_CERTS
        dates = prop[3:6]
    elif len(prop) == 7:
        seal_type, name_node, list_node = prop[0], prop[1], prop[3]
        list_type = d.integer(prop[2], "certListType")
        dates = prop[4:7]
    else:
        raise _fail(f"property has {len(prop)} fields")
    certs: tuple[bytes, ...] = ()
    digests: list[tuple[str, bytes]] = []
    items = d.expect(list_node, d.SEQUENCE, what="certList").children()
    if list_type == CERT_LIST_CERTS:
        certs = tuple(_cert_field(c, ctx, "seal.certList") for c in items)
        count = len(certs)
    elif list_type == CERT_LIST_DIGESTS:
        for item in items:
            kind_node, value_node = d.expect(item, d.SEQUENCE, what="CertDigestObj").children()
            kind = _text(kind_node, ctx, "seal.certList.type", d.PRINTABLE_STRING)
            if not sm3_name(kind, ctx, "seal.certList.type"):
                ctx.dev("ses_dev_cert_digest_type", "seal.certList.type", kind[:40])
            digests.append((kind, d.octets(value_node, "CertDigestObj.value")))
        count = len(digests)
    else:
        raise _fail(f"unknown certListType {list_type}")
    if not 1 <= count <= MAX_CERTS:
        raise _fail("seal certificate list is empty or too long")
    created, start, end = (_time(n, ctx, f"seal.property.{w}", version)
                           for n, w in zip(dates, ("createDate", "validStart", "validEnd"), strict=True))  # fmt: skip
    pic = d.expect(fields[3], d.SEQUENCE, what="picture").children()
    if len(pic) != 4:
        raise _fail("picture must have 4 fields")
    pic_type = _text(pic[0], ctx, "seal.picture.type")
    picture = d.octets(pic[1], "picture.data")
    if len(picture) > MAX_PICTURE_BYTES:
        raise _fail("seal picture too large")
    if pic_type not in PICTURE_TYPES:
        if pic_type.upper() in PICTURE_TYPES:
            ctx.dev("ses_dev_picture_type_case", "seal.picture.type", pic_type)
        else:
            ctx.dev("ses_dev_picture_type_unknown", "seal.picture.type", pic_type[:20])
    ext: tuple[tuple[str, bool, bytes], ...] = ()
    if len(fields) == 5:
        ext_node = fields[4]
        if ext_node.tag == d.CONTEXT_0:  # tagged by some producers; the standard has it untagged here
            (ext_node,) = ext_node.children()
        ext = _ext_datas(ext_node, ctx, "seal.extDatas")
        _critical_ext(ext, ctx, "seal.extDatas", known=())
    # the maker's part
    time_stamp: bytes | None = None
    if len(parts) == 2:  # v1: SESeal { sealInfo, signInfo { cert, signatureAlgorithm, signData } }
        sign_info = d.expect(parts[1], d.SEQUENCE, what="signInfo").children()
        if len(sign_info) < 3:
            raise _fail("signInfo has too few fields")
        cert_node, alg_node, value_node = sign_info[0], sign_info[1], sign_info[2]
    elif len(parts) in (4, 5):
        cert_node, alg_node, value_node = parts[1], parts[2], parts[3]
        if len(parts) == 5:
            time_stamp = _time_stamp(parts[4], ctx, "seal.timeStamp")
    else:
        raise _fail(f"{prefix} has {len(parts)} fields")
    maker_cert = _cert_field(cert_node, ctx, "seal.cert")
    sign_alg = d.oid(alg_node, "seal.signAlgID")
    signed_value = _bit_or_octets(value_node, ctx, "seal.signedValue")
    alone = SignedPart("DER(SES_SealInfo)", ((info.start, info.end),), False, info.raw)
    pieces = (info, cert_node, alg_node)
    wrapped = SignedPart(
        "DER(SEQUENCE{SES_SealInfo, cert, signatureAlgorithm})",
        tuple((p.start, p.end) for p in pieces), True, d.sequence(b"".join(p.raw for p in pieces)),
    )  # fmt: skip
    covers, alternative = (wrapped, alone) if version == 1 else (alone, wrapped)
    return Seal(
        der=node.raw, version=version, vid=vid, es_id=es_id, seal_type=d.integer(seal_type, "type"),
        name=_text(name_node, ctx, "seal.property.name", d.UTF8_STRING), cert_list_type=list_type, certs=certs,
        cert_digests=tuple(digests),
        created=created, valid_start=start, valid_end=end, picture_type=pic_type, picture=picture,
        width_mm=d.integer(pic[2], "width"), height_mm=d.integer(pic[3], "height"), maker_cert=maker_cert,
        sign_alg=sign_alg, signed_value=signed_value, covers=covers, alternative=alternative, ext_datas=ext,
        time_stamp=time_stamp, deviations=(),
    )  # fmt: skip


def _time_stamp(node: d.Node, ctx: SesContext, where: str) -> bytes:
    if node.tag == d.CONTEXT_0:
        (inner,) = node.children()
        return _bit_or_octets(inner, ctx, where)
    if node.tag == 0x80:
        ctx.dev("ses_dev_time_stamp_implicit", where)
        if not node.value or node.value[0] != 0:
            raise _fail(f"{where}: bad BIT STRING")
        return node.value[1:]
    raise _fail(f"{where}: unexpected tag 0x{node.tag:02x}")


def _with_devs(seal: Seal, ctx: SesContext) -> Seal:
    return replace(seal, deviations=tuple(ctx.devs))


def _check_der(node: d.Node, ctx: SesContext) -> None:
    if not d.all_minimal(node):
        ctx.dev("ses_dev_not_der", "encoding", "non-minimal lengths; signatures are checked over the bytes as given")


def parse_seal(data: bytes) -> Seal:
    """Parse a seal (v1, v4, v5), bounded; :class:`SesFormatError` on anything unreadable."""
    if not isinstance(data, bytes) or len(data) > MAX_SES_BYTES:
        raise SesFormatError("SES seal too large or not bytes")
    ctx = SesContext()
    try:
        node = d.parse(data, what="seal")
        _check_der(node, ctx)
        seal = _seal_at(node, ctx)
    except SesFormatError:
        raise
    except (d.DerError, ValueError, TypeError) as exc:
        raise _fail("seal", exc) from exc
    return _with_devs(seal, ctx)


def _v1_time(node: d.Node, ctx: SesContext) -> dt.datetime:
    """v1 timeInfo: a BIT STRING holding a time (DER, or text as real producers write it)."""
    if node.tag in (d.UTC_TIME, d.GENERALIZED_TIME):  # a plain time where v1 wraps it
        ctx.dev("ses_dev_time_type", "signature.timeInfo", "a time, not v1's BIT STRING")
        return d.time(node, "timeInfo")
    content = _bit_or_octets(node, ctx, "signature.timeInfo")
    try:
        inner = d.parse(content, what="timeInfo")
        return d.time(inner, "timeInfo")
    except d.DerError:
        pass
    try:
        raw = content.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise _fail("timeInfo is neither a time nor text") from exc
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%SZ", "%Y%m%d%H%M%S", "%Y-%m-%dT%H:%M:%SZ", "%y%m%d%H%M%SZ"):
        try:
            when = dt.datetime.strptime(raw, fmt)
        except ValueError:
            continue
        if fmt.endswith("Z"):
            return when.replace(tzinfo=dt.UTC)
        ctx.dev("ses_dev_time_text", "signature.timeInfo", raw[:40])
        return when.replace(tzinfo=CHINA_STANDARD_TIME).astimezone(dt.UTC)
    raise _fail(f"timeInfo text {raw[:40]!r} is not a time")


def parse_signature(data: bytes) -> SealSignature:
    """Parse an ``SES_Signature`` (v1, v4, v5), bounded; :class:`SesFormatError` on anything odd."""
    if not isinstance(data, bytes) or len(data) > MAX_SES_BYTES:
        raise SesFormatError("SES signature too large or not bytes")
    ctx = SesContext()
    try:
        node = d.parse(data, what="signature")
        _check_der(node, ctx)
        return _signature_at(node, ctx)
    except SesFormatError:
        raise
    except (d.DerError, ValueError, TypeError) as exc:
        raise _fail("signature", exc) from exc


def _signature_at(node: d.Node, ctx: SesContext) -> SealSignature:
    parts = d.expect(node, d.SEQUENCE, what="SES_Signature").children()
    if not parts:
        raise _fail("empty SES_Signature")
    tbs = d.expect(parts[0], d.SEQUENCE, what="TBS_Sign")
    fields = tbs.children()
    if len(fields) < 5:
        raise _fail("TBS_Sign has too few fields")
    version = d.integer(fields[0], "TBS_Sign.version")
    if version not in SUPPORTED_VERSIONS:
        raise SesVersionUnsupported(
            f"SES_Signature version {version} is not supported", message_zh=f"不支持第 {version} 版电子签章数据"
        )
    seal_ctx = SesContext()
    seal = _with_devs(_seal_at(fields[1], seal_ctx), seal_ctx)
    ctx.devs.extend(seal.deviations)
    ext: tuple[tuple[str, bool, bytes], ...] = ()
    time_stamp: bytes | None = None
    if version == 1 or len(parts) == 2:
        # v1: TBS_Sign { version, eseal, timeInfo, dataHash, propertyInfo, cert, signatureAlgorithm };
        # SES_Signature { toSign, signature }
        if len(fields) < 7 or len(parts) != 2:
            raise _fail("v1 SES_Signature must be {TBS_Sign(7 fields), signature}")
        time_info = _v1_time(fields[2], ctx)
        data_hash = _bit_or_octets(fields[3], ctx, "signature.dataHash")
        info_node = fields[4]
        cert_node, alg_node = fields[5], fields[6]
        if len(fields) > 7:
            ext = _ext_datas(fields[7].children()[0] if fields[7].tag == d.CONTEXT_0 else fields[7], ctx, "extDatas")
        value_node = parts[1]
        covers = SignedPart("DER(TBS_Sign)", ((tbs.start, tbs.end),), False, tbs.raw)
        alternative = None
    else:
        if len(parts) not in (4, 5) or len(fields) not in (5, 6):
            raise _fail(f"SES_Signature v{version} has {len(parts)} fields, TBS_Sign {len(fields)}")
        if fields[2].tag in (d.BIT_STRING, d.OCTET_STRING):  # v1's form in a v4/v5 signature
            ctx.dev("ses_dev_time_type", "signature.timeInfo", "BIT STRING (v1 form)")
            time_info = _v1_time(fields[2], ctx)
        else:
            time_info = _time(fields[2], ctx, "signature.timeInfo", version)
        data_hash = _bit_or_octets(fields[3], ctx, "signature.dataHash")
        info_node = fields[4]
        if len(fields) == 6:
            ext_node = fields[5]
            if ext_node.tag == d.CONTEXT_0:
                (ext_node,) = ext_node.children()
            else:
                ctx.dev("ses_dev_ext_datas_untagged", "signature.toSign.extDatas")
            ext = _ext_datas(ext_node, ctx, "TBS_Sign.extDatas")
        cert_node, alg_node, value_node = parts[1], parts[2], parts[3]
        if len(parts) == 5:
            time_stamp = _time_stamp(parts[4], ctx, "signature.timeStamp")
        covers = SignedPart("DER(TBS_Sign)", ((tbs.start, tbs.end),), False, tbs.raw)
        pieces = (tbs, cert_node, alg_node)
        alternative = SignedPart(
            "DER(SEQUENCE{TBS_Sign, cert, signatureAlgID})", tuple((p.start, p.end) for p in pieces), True,
            d.sequence(b"".join(p.raw for p in pieces)),
        )  # fmt: skip
    property_info = _text(info_node, ctx, "signature.propertyInfo")
    if len(property_info) > MAX_PROPERTY_INFO:
        raise _fail("propertyInfo too long")
    crls = tuple(value for oid, _critical, value in ext if oid == OID_EXT_CRL)
    _critical_ext(ext, ctx, "signature.extDatas", known=(OID_EXT_CRL,))
    if version != seal.version:
        ctx.dev("ses_dev_version_mismatch", "signature.toSign.version", f"TBS_Sign v{version}, seal v{seal.version}")
    signer_cert = _cert_field(cert_node, ctx, "signature.cert")
    value = _bit_or_octets(value_node, ctx, "signature")
    return SealSignature(
        der=node.raw, version=version, seal=seal, time_info=time_info, data_hash=data_hash,
        property_info=property_info, crls=crls, ext_datas=ext, signer_cert=signer_cert,
        signature_alg=d.oid(alg_node, "signatureAlgID"), signature=value, time_stamp=time_stamp, covers=covers,
        alternative=alternative, deviations=tuple(ctx.devs),
    )  # fmt: skip


def looks_like_ses_signature(data: bytes) -> bool:
    """Cheap sniff for ``elicense verify``: does ``data`` parse as an ``SES_Signature``?"""
    if not data.startswith(SES_MAGIC_PREFIX) or len(data) > MAX_SES_BYTES:
        return False
    try:
        parse_signature(data)
    except ElicenseError:
        return False
    return True


def kind_of(data: bytes) -> Literal["seal", "signature", "signed_data", "raw_signature", "unknown"]:
    """What a DER blob is: an ``SESeal``, an ``SES_Signature``, a GB/T 35275 ``SignedData``, a bare SM2 value."""
    try:
        node = d.parse(data, what="input")
        parts = d.expect(node, d.SEQUENCE, what="input").children()
    except d.DerError:
        return "unknown"
    if len(parts) == 2 and parts[0].tag == d.INTEGER and parts[1].tag == d.INTEGER:
        return "raw_signature"
    if len(parts) >= 1 and parts[0].tag == d.OID:
        return "signed_data"
    if parts and parts[0].tag == d.SEQUENCE:
        try:
            first = parts[0].children()
        except d.DerError:
            return "unknown"
        if first and first[0].tag == d.INTEGER:
            return "signature"
        if first and first[0].tag == d.SEQUENCE:
            return "seal"
    return "unknown"


# -- building (v4, as the standard and real producers do) -------------------------------------


def sm3_digest(data: bytes) -> bytes:
    return sm3(data)


def der_certificate(cert: x509.Certificate) -> bytes:
    return certificate_der(cert)


def _ia5(value: str) -> bytes:
    if not value.isascii():
        raise CryptoError("IA5String value must be ASCII")
    return d.header(d.IA5_STRING, len(value)) + value.encode("ascii")


def der_int(value: int) -> bytes:
    out: bytes = core.Integer(value).dump()
    return out


def _utf8(value: str) -> bytes:
    raw = value.encode("utf-8")
    return d.header(d.UTF8_STRING, len(raw)) + raw


def der_octets(value: bytes) -> bytes:
    return d.header(d.OCTET_STRING, len(value)) + value


def _bits(value: bytes) -> bytes:
    return d.header(d.BIT_STRING, len(value) + 1) + b"\x00" + value


def der_oid(value: str) -> bytes:
    out: bytes = core.ObjectIdentifier(value).dump()
    return out


def _gt(when: dt.datetime) -> bytes:
    out: bytes = core.GeneralizedTime(require_utc(when, "time").replace(microsecond=0)).dump()
    return out


def _ext_datas_der(items: Iterable[tuple[str, bytes]]) -> bytes:
    """``ExtensionDatas`` with ``critical`` written out (FALSE): readers in the field (ofdrw among
    them) require the field although the standard gives it a DEFAULT."""
    return d.sequence(b"".join(d.sequence(der_oid(oid) + b"\x01\x01\x00" + der_octets(value)) for oid, value in items))


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
    picture_type: str = "PNG",
) -> bytes:
    """Make a GB/T 38540 v4 ``SESeal`` (DER); the maker signs DER(SES_SealInfo).

    ``cert_list_type=2`` lists SM3 digests of the certificates instead of the certificates.
    """

    if not es_id.isascii() or not es_id or len(es_id) > 64:
        raise CryptoError("seal id must be 1-64 ASCII characters")
    if not certificates or len(certificates) > MAX_CERTS:
        raise CryptoError(f"a seal lists 1..{MAX_CERTS} certificates")
    if valid_end <= valid_start:
        raise CryptoError("seal validEnd must be later than validStart")
    if picture_type not in PICTURE_TYPES or len(picture_png) > MAX_PICTURE_BYTES:
        raise CryptoError("seal picture type must be GIF/JPG/PNG/SVG/OFD and at most 2 MiB")
    if Sm2PublicKey.from_certificate(maker_cert) != maker_key.public_key():
        raise CryptoError("seal maker key does not match its certificate")
    if cert_list_type == CERT_LIST_CERTS:
        cert_list = d.sequence(b"".join(der_octets(der_certificate(c)) for c in certificates))
    elif cert_list_type == CERT_LIST_DIGESTS:
        digest_obj = (d.sequence(b"\x13\x03SM3" + der_octets(sm3_digest(der_certificate(c)))) for c in certificates)
        cert_list = d.sequence(b"".join(digest_obj))
    else:
        raise CryptoError("certListType must be 1 or 2")
    header = d.sequence(_ia5(SES_ID) + der_int(SES_VERSION) + _ia5(vid))
    prop = d.sequence(
        der_int(seal_type) + _utf8(name) + der_int(cert_list_type) + cert_list
        + _gt(created) + _gt(valid_start) + _gt(valid_end)
    )  # fmt: skip
    picture = d.sequence(_ia5(picture_type) + der_octets(picture_png) + der_int(width_mm) + der_int(height_mm))
    info = d.sequence(header + _ia5(es_id) + prop + picture)
    signature = maker_key.sign(info)
    der = d.sequence(info + der_octets(der_certificate(maker_cert)) + der_oid(OID_SM2_WITH_SM3) + _bits(signature))
    parse_seal(der)  # what we write must parse
    return der


def sign_tbs(
    *,
    data_hash: bytes,
    property_info: str,
    seal: bytes,
    signer_cert: x509.Certificate,
    signer_key: Sm2PrivateKey,
    at: dt.datetime,
    crls: Sequence[bytes] = (),
    time_stamp: bytes | None = None,
    time_stamper: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """A v4 ``SES_Signature`` (DER) over ``data_hash``; the signer signs DER(TBS_Sign).

    The seal must be v4 (the standard's rule: TBS_Sign.version equals the seal's version)
    and list the signer's certificate. ``crls`` go into ``TBS_Sign.extDatas`` ([0] EXPLICIT).
    ``time_stamper`` gets the signature value and returns a TimeStampToken over it (a TSA
    client); ``time_stamp`` embeds a token as given.
    """

    when = require_utc(at, "at").replace(microsecond=0)
    parsed = parse_seal(seal)
    if parsed.version != SES_VERSION:
        raise CryptoError(f"a v4 signature needs a v4 seal, not v{parsed.version}")
    if len(data_hash) != 32:
        raise CryptoError("dataHash must be a 32-byte SM3 digest")
    if Sm2PublicKey.from_certificate(signer_cert) != signer_key.public_key():
        raise CryptoError("signer key does not match its certificate")
    signer_der = der_certificate(signer_cert)
    if not cert_in_seal(parsed, signer_der):
        raise CryptoError(
            "the signer's certificate is not in the seal's certificate list",
            message_zh="签章者证书不在电子印章的证书列表中",
        )
    if not property_info.isascii() or len(property_info) > MAX_PROPERTY_INFO:
        raise CryptoError("propertyInfo must be ASCII (IA5String) and at most 1024 characters")
    body = der_int(SES_VERSION) + seal + _gt(when) + _bits(data_hash) + _ia5(property_info)
    if crls:
        ext = _ext_datas_der((OID_EXT_CRL, c) for c in crls)
        body += d.header(d.CONTEXT_0, len(ext)) + ext
    tbs = d.sequence(body)
    signature = signer_key.sign(tbs)
    out = tbs + der_octets(signer_der) + der_oid(OID_SM2_WITH_SM3) + _bits(signature)
    if time_stamper is not None:
        time_stamp = time_stamper(signature)
    if time_stamp is not None:
        inner = _bits(time_stamp)
        out += d.header(d.CONTEXT_0, len(inner)) + inner
    der = d.sequence(out)
    parse_signature(der)
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
    """A detached v4 ``SES_Signature`` (DER) whose dataHash is SM3(``document``)."""
    return sign_tbs(
        data_hash=sm3_digest(document), property_info=property_info, seal=seal, signer_cert=signer_cert,
        signer_key=signer_key, at=at, crls=crls, time_stamp=time_stamp,
    )  # fmt: skip


def cert_in_seal(seal: Seal, cert_der: bytes) -> bool:
    if seal.cert_list_type == CERT_LIST_CERTS:
        return cert_der in seal.certs
    digest = sm3_digest(cert_der)
    ignore = SesContext()
    return any(sm3_name(kind, ignore, "") and value == digest for kind, value in seal.cert_digests)


# -- verification ----------------------------------------------------------------------------


RevocationHook = Callable[["x509.Certificate", dt.datetime], "Reason | None"]


@dataclass(frozen=True)
class SealMaker:
    """A seal-making system (制章系统) this relying party accepts — the trust-list entry for seal makers.

    ``role="maker"`` pins the system's own certificate; ``role="ca"`` trusts every seal-making
    certificate that CA issued (a region's or vendor's seal CA). ``vids`` restricts the entry
    to seals whose header names one of these producer ids (empty: any).
    """

    name: str
    """Who this is (for reports)."""
    certificate: bytes = field(repr=False)
    """DER certificate of the maker (``maker``) or of the CA (``ca``)."""
    role: Literal["maker", "ca"] = "maker"
    """Pinned maker, or CA of makers."""
    vids: frozenset[str] = frozenset()
    """Accepted header producer ids; empty = any."""
    user_id: bytes | None = None
    """The SM2 user id this system signs with, when not the default ``1234567812345678``."""


@dataclass(frozen=True)
class SesTrust:
    """What a seal verifier trusts: SM2 anchors (signers' CAs), seal makers, intermediates, CRLs."""

    roots: tuple[CertLike, ...]
    """SM2 trust anchors for signer certificates (and for elicense seal makers, with the seal-making EKU)."""
    intermediates: tuple[CertLike, ...] = ()
    """CA certificates that may complete chains."""
    crls: tuple[bytes, ...] = ()
    """DER SM2 CRLs from the verifier's side (fresher than embedded ones)."""
    seal_makers: tuple[SealMaker, ...] = ()
    """Seal-making systems of other regions or vendors this verifier accepts."""
    require_revocation: bool = True
    """Whether missing revocation data makes the result INDETERMINATE (GB/T 38540's rule)."""
    signer_user_ids: tuple[bytes, ...] = ()
    """SM2 user ids other than the default that signers in this relying party's world use."""
    tsa_roots: tuple[CertLike, ...] = ()
    """Extra anchors for time-stamp authorities (besides ``roots``)."""
    refuse_unknown_critical: bool = False
    """Refuse (INVALID) a seal or signature carrying a critical ExtData this module does not
    understand, instead of reporting it as a deviation."""


class ResultView:
    """The verdict of a seal-format verification, read through its ``result``."""

    result: VerificationResult
    """Status, reasons and the ordered checks (deviations as WARNING checks)."""

    @property
    def status(self) -> Status:
        """Overall status."""
        return self.result.status

    @property
    def valid(self) -> bool:
        """VALID?"""
        return self.result.valid

    @property
    def checks(self) -> tuple[Check, ...]:
        """The checks, in order."""
        return self.result.checks

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Why not VALID."""
        return self.result.reasons

    def has_reason(self, code: str) -> bool:
        """Whether a reason with ``code`` is present."""
        return self.result.has_reason(code)


@dataclass(frozen=True)
class SesVerification(ResultView):
    """The frozen outcome of verifying one seal signature (or seal)."""

    result: VerificationResult
    """Status, reasons and the ordered checks (deviations as WARNING checks)."""
    signature: SealSignature | None
    """The parsed signature (None when unreadable or when a bare seal was verified)."""
    seal: Seal | None
    """The seal."""
    signer: CertView | None
    """The signer's certificate (its signature verified)."""
    maker: CertView | None
    """The seal maker's certificate."""
    deviations: tuple[Deviation, ...]
    """Every departure from the standard found."""


class SesRun:
    """Accumulates checks and reasons of one verification."""

    def __init__(self, when: dt.datetime, kind: str) -> None:
        self.when, self.kind = when, kind
        self.checks: list[Check] = []
        self.reasons: list[Reason] = []

    def check(self, name: str, found: Sequence[Reason], detail: str | None = None) -> bool:
        self.reasons.extend(found)
        outcome = CheckOutcome.PASSED
        if found:
            worst = r.worst(x.status for x in found)
            outcome = CheckOutcome.FAILED if worst is Status.INVALID else CheckOutcome.INDETERMINATE
            if detail is None:
                detail = "; ".join(x.detail for x in found if x.detail) or None
        self.checks.append(Check(name, outcome, detail))
        return not found

    def skip(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, CheckOutcome.SKIPPED, detail))

    def result(self) -> VerificationResult:
        return VerificationResult(
            status=r.worst(x.status for x in self.reasons), reasons=tuple(self.reasons), checks=tuple(self.checks),
            verified_at=self.when, kind=self.kind,
        )  # fmt: skip


def _normalise_value(value: bytes, ctx: SesContext, where: str) -> bytes | None:
    """DER ``SEQUENCE{r,s}`` from a signature value as found (raw 64-byte r‖s reported)."""

    try:
        parse_der_signature(value)
        return value
    except CryptoError:
        pass
    if len(value) == 64:
        try:
            out = raw_to_der(value)
        except CryptoError:
            return None
        ctx.dev("ses_dev_signature_raw", where)
        return out
    return _lenient_der(value, ctx, where)


def _lenient_der(value: bytes, ctx: SesContext, where: str) -> bytes | None:
    """``SEQUENCE{r,s}`` with non-canonical INTEGERs (a missing 0x00 sign octet, extra leading zeros):
    the unsigned values are unambiguous; re-encoded canonically and reported."""

    try:
        parts = d.expect(d.parse(value, what="signature value"), d.SEQUENCE, what="signature").children()
    except d.DerError:
        return None
    if len(parts) != 2 or any(p.tag != d.INTEGER or not 0 < len(p.value) <= 33 for p in parts):
        return None
    r_, s_ = (int.from_bytes(p.value, "big") for p in parts)
    if not (0 < r_ < N and 0 < s_ < N):
        return None
    ctx.dev("ses_dev_signature_not_der", where)
    out: bytes = encode_dss_signature(r_, s_)
    return out


def sm2_verify(cert: CertView, value: bytes, part: SignedPart, alternative: SignedPart | None,
               ctx: SesContext, where: str, user_ids: Sequence[bytes] = ()) -> SignedPart | None:  # fmt: skip
    """Which layout ``value`` verifies over with ``cert``'s key (the standard's first); None if neither.

    ``user_ids``: other SM2 user ids the relying party configured for this signer or seal
    maker, tried only after the default id fails (a deviation when one matches).
    """

    sig = _normalise_value(value, ctx, where)
    if sig is None:
        return None
    try:
        key = cert.public_key()
    except CryptoError:
        return None
    assert isinstance(key, Sm2PublicKey)
    if key.verify(sig, part.data):
        return part
    if alternative is not None and key.verify(sig, alternative.data):
        ctx.dev("ses_dev_signed_bytes", where, f"{alternative.layout} instead of {part.layout}")
        return alternative
    for uid in user_ids:
        if uid != DEFAULT_USER_ID and verify_with_user_id(key, sig, part.data, uid):
            ctx.dev("ses_dev_user_id", where, uid.decode("latin-1")[:64])
            return part
    return None


def cert_devs(cert: CertView, ctx: SesContext, where: str) -> None:
    if cert.strict_error is not None:
        ctx.dev("ses_dev_certificate_encoding", where, cert.strict_error[:120])
    for oid in cert.unknown_critical:
        ctx.dev("ses_dev_critical_extension", where, oid)


def cert_views(items: Iterable[CertLike]) -> list[CertView]:
    out = []
    for item in items:
        try:
            out.append(cert_of(item))
        except CryptoError:
            continue  # an unusable anchor is no anchor
    return out


__all__ = [
    "CERT_LIST_CERTS",
    "CERT_LIST_DIGESTS",
    "DEVIATIONS",
    "OID_EKU_SEAL_MAKING",
    "OID_EXT_CRL",
    "Deviation",
    "ResultView",
    "Seal",
    "SealMaker",
    "SealSignature",
    "SesFormatError",
    "SesTrust",
    "SesVerification",
    "SesVersionUnsupported",
    "SignedPart",
    "kind_of",
    "looks_like_ses_signature",
    "make_seal",
    "parse_seal",
    "parse_signature",
    "sign_document",
    "sign_tbs",
]
