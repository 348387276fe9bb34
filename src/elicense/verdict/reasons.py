"""Verification outcomes and every reason code (zh/en), declared once in one table.

Three outcomes, as ETSI EN 319 102-1 and pyHanko: VALID, INVALID, INDETERMINATE.
Every reason code knows its outcome; a result's status is the worst of its
reasons (INVALID > INDETERMINATE > VALID). Reason codes are a public, stable
contract (scripts match on them): add, never rename. The whole catalogue is
here, so it exists as soon as this module is imported (``specs/reason-codes.md``
is its published copy, and a test holds the two equal).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


class Status(enum.StrEnum):
    """Overall outcome."""

    VALID = "VALID"
    INVALID = "INVALID"
    INDETERMINATE = "INDETERMINATE"

    @property
    def severity(self) -> int:
        """Ordering for "worst of": VALID < INDETERMINATE < INVALID."""
        return _SEVERITY[self]

    @property
    def exit_code(self) -> int:
        """CLI exit code: 0 valid, 1 invalid, 2 indeterminate."""
        return _EXIT[self]

    def label(self, lang: str = "en") -> str:
        """Human label (有效 / 无效 / 无法确认)."""
        return _LABELS[self][0 if lang == "zh" else 1]


_SEVERITY = {Status.VALID: 0, Status.INDETERMINATE: 1, Status.INVALID: 2}
_EXIT = {Status.VALID: 0, Status.INVALID: 1, Status.INDETERMINATE: 2}
_LABELS = {
    Status.VALID: ("有效", "valid"),
    Status.INVALID: ("无效", "invalid"),
    Status.INDETERMINATE: ("无法确认", "indeterminate"),
}


class CheckOutcome(enum.StrEnum):
    """Outcome of one check (pyHanko style)."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    INDETERMINATE = "INDETERMINATE"
    SKIPPED = "SKIPPED"
    WARNING = "WARNING"
    """Passed, with a deviation from the standard worth reporting (seal formats, #17)."""


@dataclass(frozen=True)
class ReasonCode:
    """One row of the reason table: its stable code, the outcome it implies, and messages."""

    code: str
    """Stable machine-readable code."""
    status: Status
    """Outcome this reason implies."""
    en: str
    """English message."""
    zh: str
    """Chinese message."""


_TABLE: list[ReasonCode] = []


def _code(code: str, status: Status, en: str, zh: str) -> ReasonCode:
    """One row of the table (module import time only); codes are unique."""
    if any(row.code == code for row in _TABLE):
        raise ValueError(f"reason code {code!r} declared twice")
    row = ReasonCode(code, status, en, zh)
    _TABLE.append(row)
    return row


INV, IND = Status.INVALID, Status.INDETERMINATE

# the signed payload: decode, signature, issuer, catalogue, validity
PAYLOAD_MALFORMED = _code("payload_malformed", INV, "The payload is malformed", "载荷格式错误")
PAYLOAD_TOO_LARGE = _code("payload_too_large", INV, "The payload exceeds a size limit", "载荷超出大小限制")
CRITICAL_HEADER_UNSUPPORTED = _code(
    "critical_header_unsupported",
    INV,
    "The signature marks a header parameter critical that is not supported",
    "签名含有不支持的关键头参数（crit）",
)
PAYLOAD_NOT_CANONICAL = _code(
    "payload_not_canonical", INV, "The payload is not in its one canonical encoding", "载荷不是唯一的规范编码"
)
ALGORITHM_NOT_ALLOWED = _code(
    "algorithm_not_allowed", INV, "The signature algorithm is not allowed", "签名算法不被允许"
)
UNKNOWN_KEY = _code(
    "unknown_key", IND, "No trusted signing certificate matches the key id", "未找到与密钥标识对应的可信签名证书"
)
SIGNATURE_INVALID = _code("signature_invalid", INV, "The signature is invalid", "签名无效")
CERTIFICATE_EXPIRED = _code(
    "certificate_expired",
    INV,
    "The signing certificate had expired when the licence was signed",
    "签名时签名证书已过期",
)
CERTIFICATE_NOT_YET_VALID = _code(
    "certificate_not_yet_valid",
    INV,
    "The signing certificate was not yet valid when the licence was signed",
    "签名时签名证书尚未生效",
)
SIGNED_IN_FUTURE = _code("signed_in_future", INV, "The signing time lies in the future", "签名时间晚于当前时间")
ISSUER_MISMATCH = _code(
    "issuer_mismatch", INV, "The licence names an issuer other than the signer", "证照所载发证机关与签名者不一致"
)
TYPE_NOT_AUTHORISED = _code(
    "type_not_authorised", INV, "The issuer is not authorised to issue this licence type", "发证机关无权签发该类证照"
)
AUTHORITY_NOT_YET_AUTHORISED = _code(
    "authority_not_yet_authorised",
    INV,
    "The issuer was not yet authorised when the licence was signed",
    "签发时发证机关尚未获得授权",
)
AUTHORITY_WITHDRAWN = _code(
    "authority_withdrawn",
    INV,
    "The issuer's authorisation had been withdrawn when the licence was signed",
    "签发时发证机关的授权已被撤销",
)
UNKNOWN_LICENCE_TYPE = _code(
    "unknown_licence_type", IND, "The licence type is not in the catalogue", "证照类型不在目录中"
)
CATALOGUE_VIOLATION = _code(
    "catalogue_violation", INV, "The licence does not conform to its catalogue entry", "证照内容不符合目录规范"
)
LICENCE_NOT_YET_VALID = _code("licence_not_yet_valid", INV, "The licence is not yet valid", "证照尚未生效")
LICENCE_EXPIRED = _code("licence_expired", INV, "The licence has expired", "证照已过期")
TRUST_STALE = _code("trust_stale", IND, "The trust data is out of date", "信任数据已过期，需更新")
PRESENTATION_EXPIRED = _code(
    "presentation_expired",
    INV,
    "The presentation QR has expired: ask the holder to show a fresh one",
    "亮证二维码已过期，请持证人刷新后重新出示",
)
PRESENTATION_NOT_YET_VALID = _code(
    "presentation_not_yet_valid",
    INV,
    "The presentation was made in the future (check the clocks)",
    "亮证时间晚于当前时间（请检查时钟）",
)
PRESENTATION_LIFETIME_INVALID = _code(
    "presentation_lifetime_invalid", INV, "The presentation's lifetime is not allowed", "亮证有效时长不被允许"
)
PRESENTATION_REPLAYED = _code(
    "presentation_replayed", INV, "This presentation has already been used (replay)", "该亮证二维码已被使用过（重放）"
)
PRESENTATION_REPLAY_UNCHECKED = _code(
    "presentation_replay_unchecked",
    IND,
    "Replay protection is saturated: cannot check this presentation",
    "防重放记录已满，无法确认该亮证",
)
PRESENTATION_DEVICE_SIGNATURE_INVALID = _code(
    "presentation_device_signature_invalid", INV, "The holder device's signature is invalid", "持证人设备签名无效"
)
PRESENTATION_FIELD_DIGEST_MISMATCH = _code(
    "presentation_field_digest_mismatch",
    INV,
    "A disclosed field does not match the issuer-signed licence",
    "出示的字段与发证机关签名的证照不一致",
)
VERIFICATION_ERROR = _code(
    "verification_error",
    IND,
    "The verifier could not complete its checks on this input",
    "校验程序无法完成对该输入的检查",
)
STATUS_INDEX_MISSING = _code(
    "status_index_missing",
    IND,
    "The licence has no status-list index: its revocation cannot be checked",
    "证照未分配状态列表索引，无法确认其是否已被吊销",
)
PRESENTATION_REPLAY_QUOTA = _code(
    "presentation_replay_quota",
    IND,
    "This holder device has too many live presentations here: cannot check this one for replay",
    "该持证设备在本终端的有效亮证过多，无法确认该亮证是否被重放",
)

# relying-party policies (verify/verifier.py)
NOT_ACCEPTED_REGION = _code(
    "region_not_accepted", INV, "Licences from this region are not accepted here", "本地不接受该地区签发的证照"
)

# trust lists and mutual recognition (specs/trust-list.md)
NOT_RECOGNISED = _code(
    "not_recognised",
    INV,
    "This licence type from the issuing region is not recognised in the relying region",
    "本地区不认可该地区签发的此类证照",
)
UNKNOWN_ISSUER = _code(
    "unknown_issuer", IND, "The issuing authority is not in any trust list", "发证机关不在任何信任列表中"
)
TRUST_SIGNATURE_INVALID = _code(
    "trust_signature_invalid", IND, "The trust data's signature is invalid", "信任数据签名无效"
)

# licence status lists and CRLs (specs/status-list.md)
STATUS_UNKNOWN = _code(
    "status_unknown",
    IND,
    "No authentic status list of the issuer is available",
    "缺少发证机关的有效状态列表，无法确认证照状态",
)
STATUS_STALE = _code("status_stale", IND, "The issuer's status list is out of date", "发证机关的状态列表已过期，需更新")
STATUS_INDEX_INVALID = _code(
    "status_index_out_of_range",
    IND,
    "The licence's status index is not in the issuer's status list",
    "证照状态索引超出状态列表范围",
)
LICENCE_REVOKED = _code("licence_revoked", INV, "The licence has been revoked", "证照已被吊销")
LICENCE_CANCELLED = _code("licence_cancelled", INV, "The licence has been cancelled", "证照已被注销")
LICENCE_ANNULLED = _code("licence_annulled", INV, "The licence has been annulled", "证照已被撤销")
LICENCE_SUSPENDED = _code("licence_suspended", INV, "The licence is suspended", "证照已被暂扣")
LICENCE_SUPERSEDED = _code(
    "licence_superseded", INV, "The licence has been superseded by a newer one", "证照已变更或换发，请使用新证照"
)
SIGNING_KEY_REVOKED = _code(
    "signing_key_revoked",
    INV,
    "The signing certificate was revoked before the licence was signed",
    "签名证书在签发前已被吊销",
)
STATUS_ROLLED_BACK = _code(
    "status_list_rolled_back",
    IND,
    "The issuer's status list is older than one this verifier has already seen (rollback or equivocation)",
    "发证机关的状态列表早于本机已见过的版本（回滚或内容不一致），无法确认证照状态",
)
REVOCATION_UNKNOWN = _code(
    "revocation_unknown",
    IND,
    "No CRL is available for the signing certificate's chain",
    "缺少签名证书链的证书吊销列表，无法确认证书状态",
)
REVOCATION_STALE = _code(
    "revocation_stale",
    IND,
    "A CRL for the signing certificate's chain is out of date",
    "签名证书链的证书吊销列表已过期",
)

# GB/T 38540 electronic seals and signatures (specs/seal.md)
SES_MALFORMED = _code("ses_malformed", INV, "The electronic signature data is malformed", "电子签章数据格式错误")
SES_VERSION_UNSUPPORTED = _code(
    "ses_version_unsupported", IND, "The seal or signature version is not supported", "不支持该版本的电子印章或签章数据"
)
SES_UNKNOWN_CRITICAL = _code(
    "ses_unknown_critical_extension",
    INV,
    "A critical extension this verifier does not understand",
    "含有本验证方不理解的关键扩展",
)
SES_SIGNER_NOT_IN_SEAL = _code(
    "ses_signer_not_in_seal",
    INV,
    "The signer's certificate is not one the seal was made for",
    "签章者证书与电子印章不匹配",
)
SES_SEAL_SIGNATURE_INVALID = _code(
    "ses_seal_signature_invalid", INV, "The seal maker's signature on the seal is invalid", "电子印章的制章者签名无效"
)
SES_SEAL_EXPIRED = _code(
    "ses_seal_expired", INV, "The seal had expired at the signing time", "签章时电子印章已过有效期"
)
SES_SEAL_NOT_YET_VALID = _code(
    "ses_seal_not_yet_valid", INV, "The seal was not yet valid at the signing time", "签章时电子印章尚未生效"
)
SES_CERTIFICATE_UNTRUSTED = _code(
    "ses_certificate_untrusted",
    IND,
    "A certificate does not chain to a trusted SM2 anchor",
    "证书无法链接到可信的 SM2 根",
)
SES_SEAL_MAKER_UNTRUSTED = _code(
    "ses_seal_maker_untrusted",
    IND,
    "The seal-making system is not one this verifier trusts",
    "制章系统不在本验证方的信任范围内",
)
SES_CERTIFICATE_UNREADABLE = _code(
    "ses_certificate_unreadable", INV, "A certificate in the seal data cannot be read", "电子签章中的证书无法解析"
)
SES_CERTIFICATE_REVOKED = _code(
    "ses_certificate_revoked", INV, "A certificate had been revoked at the signing time", "签章时证书已被吊销"
)
SES_REVOCATION_UNKNOWN = _code(
    "ses_revocation_unknown",
    IND,
    "No valid revocation data covers a certificate at the signing time",
    "缺少覆盖签章时间的有效吊销信息",
)
SES_DOCUMENT_MISMATCH = _code(
    "ses_document_mismatch", INV, "The document does not match the signed digest", "原文杂凑值与签章不符"
)
SES_DOCUMENT_MISSING = _code("ses_document_missing", IND, "The signed document was not supplied", "未提供被签章的原文")
SES_TIMESTAMP_UNVERIFIED = _code(
    "ses_timestamp_unverified",
    IND,
    "The time stamp could not be verified (TSA not trusted or not supported)",
    "无法验证时间戳（时间戳服务不受信任或不受支持）",
)

# GB/T 35275 SignedData (specs/seal.md)
SD_MALFORMED = _code("sd_malformed", INV, "The SignedData signature is malformed", "SignedData 签名数据格式错误")
SD_DIGEST_MISMATCH = _code(
    "sd_digest_mismatch", INV, "The signed content does not match the messageDigest", "原文与 messageDigest 不符"
)
SD_SIGNER_MISSING = _code(
    "sd_signer_certificate_missing",
    INV,
    "The signer's certificate is not in the SignedData",
    "SignedData 中没有签名者证书",
)

# RFC 3161 time-stamps in seals (specs/seal.md)
SES_TIMESTAMP_INVALID = _code(
    "ses_timestamp_invalid",
    INV,
    "The time stamp does not match the signature or is forged",
    "时间戳与签名值不符或被伪造",
)

# sealed licence PDFs (pdf/verify.py)
PDF_MALFORMED = _code("pdf_malformed", INV, "The PDF is malformed or unreadable", "PDF 文件格式错误或无法读取")
PDF_TOO_LARGE = _code("pdf_too_large", INV, "The PDF exceeds a size limit", "PDF 文件超出大小限制")
PDF_TOO_COMPLEX = _code(
    "pdf_too_complex",
    INV,
    "The PDF has too many revisions, xref sections or objects",
    "PDF 文件的修订版本、交叉引用表或对象过多",
)
PDF_UNSIGNED = _code("pdf_unsigned", INV, "The PDF carries no issuer signature", "PDF 未经发证机关签名")
PDF_NOT_CERTIFIED = _code(
    "pdf_not_certified",
    INV,
    "The PDF signature is not a no-changes certification (DocMDP P=1)",
    "PDF 签名不是禁止修改的认证签名（DocMDP P=1）",
)
PDF_EXTRA_SIGNATURE = _code(
    "pdf_extra_signature", INV, "The PDF carries more than the issuer's signature", "PDF 含有发证机关以外的签名"
)
PDF_SIGNATURE_INVALID = _code(
    "pdf_signature_invalid",
    INV,
    "The PDF signature is broken (the signed bytes were changed)",
    "PDF 签名无效（已签名内容被改动）",
)
PDF_MODIFIED = _code("pdf_modified", INV, "The PDF was modified after it was signed", "PDF 在签名后被修改")
PDF_SIGNER_UNTRUSTED = _code(
    "pdf_signer_untrusted",
    IND,
    "The PDF signer is not a trusted issuing authority key",
    "PDF 签名者不是可信的发证机关密钥",
)
PDF_SIGNER_MISMATCH = _code(
    "pdf_signer_mismatch",
    INV,
    "The PDF was signed by a key other than the licence's",
    "PDF 签名密钥与证照签名密钥不一致",
)
PDF_TIMESTAMP_INVALID = _code("pdf_timestamp_invalid", INV, "A timestamp in the PDF is invalid", "PDF 中的时间戳无效")
PDF_ATTACHMENT_MISSING = _code(
    "pdf_attachment_missing", INV, "The signed licence record is missing from the PDF", "PDF 缺少已签名的证照数据附件"
)
PDF_ATTACHMENT_MISMATCH = _code(
    "pdf_attachment_mismatch",
    INV,
    "The embedded licence record does not match the licence",
    "PDF 附带的证照数据与证照不一致",
)
PDF_QR_MISSING = _code(
    "pdf_qr_missing", INV, "No licence QR code was found on the signed page", "签名页面上未找到证照二维码"
)
PDF_QR_MISMATCH = _code(
    "pdf_qr_mismatch", INV, "The QR code on the page belongs to another licence", "页面上的二维码属于其他证照"
)

# OFD documents (specs/ofd.md)
OFD_MALFORMED = _code("ofd_malformed", INV, "The OFD document is malformed or unreadable", "OFD 文件格式错误或无法读取")
OFD_TOO_LARGE = _code("ofd_too_large", INV, "The OFD document exceeds a safety limit", "OFD 文件超出安全限制")
OFD_UNSIGNED = _code("ofd_unsigned", INV, "The OFD document carries no signature", "OFD 文件未经电子签章或签名")
OFD_FILE_MODIFIED = _code(
    "ofd_file_modified", INV, "A file of the OFD document changed after it was signed", "OFD 文件中的文件在签章后被修改"
)
OFD_FILE_MISSING = _code(
    "ofd_file_missing", INV, "A signed file is missing from the OFD document", "OFD 文件中缺少已签章的文件"
)
OFD_FILE_NOT_SIGNED = _code(
    "ofd_file_not_signed",
    INV,
    "A file of the OFD document is not covered by any signature",
    "OFD 文件中有未受任何签章保护的文件",
)
OFD_PAGE_NOT_SIGNED = _code(
    "ofd_page_not_signed",
    INV,
    "A page of the OFD document is not covered by any signature",
    "OFD 文件中有未受任何签章保护的页面",
)
OFD_DATA_HASH_MISMATCH = _code(
    "ofd_data_hash_mismatch",
    INV,
    "The signature value does not sign this Signature.xml (moved from another document?)",
    "签名值与 Signature.xml 不符（可能取自其他文件）",
)
OFD_SEAL_MISMATCH = _code(
    "ofd_seal_mismatch", INV, "Seal.esl is not the seal inside the signature", "Seal.esl 与签章中的印章不一致"
)
OFD_CHECK_METHOD_NOT_ALLOWED = _code(
    "ofd_check_method_not_allowed",
    INV,
    "A signature protects files with a digest that is not allowed",
    "签章使用了不被允许的摘要算法",
)
OFD_SIGNATURE_UNREADABLE = _code(
    "ofd_signature_unreadable", INV, "A signature value of the OFD document cannot be read", "OFD 签名值无法解析"
)
OFD_SIGNATURE_NO_CERTIFICATE = _code(
    "ofd_signature_no_certificate",
    IND,
    "A signature carries no certificate: it cannot be verified",
    "签名不含证书，无法核验",
)
OFD_SIGNATURE_NOT_VERIFIED = _code(
    "ofd_signature_not_verified", IND, "The signatures' cryptography has not been verified", "尚未核验签章的密码学签名"
)
OFD_SIGNER_MISMATCH = _code(
    "ofd_signer_mismatch",
    INV,
    "The OFD was not sealed by the licence's issuer",
    "OFD 文件的电子签章不是证照发证机关所加盖",
)
OFD_RECORD_MISMATCH = _code(
    "ofd_record_mismatch",
    INV,
    "The QR, the signed licence record and the page of the OFD do not match",
    "OFD 文件中的二维码、已签名证照数据与版面内容不一致",
)
OFD_QR_MISSING = _code(
    "ofd_qr_missing", INV, "The licence OFD has no readable licence QR code", "证照 OFD 文件中没有可识读的证照二维码"
)

del INV, IND

REASONS: Mapping[str, ReasonCode] = MappingProxyType({row.code: row for row in _TABLE})
"""Every reason code, by code: the public catalogue."""


def decode_reason(exc: Exception) -> ReasonCode:
    """The reason for a decode error: the one it names (``details["reason"]``), else ``payload_malformed``."""
    details = getattr(exc, "details", None)
    named = REASONS.get(details.get("reason", "")) if isinstance(details, dict) else None
    return named if named is not None and named.status is Status.INVALID else PAYLOAD_MALFORMED


def worst(statuses: Iterable[Status]) -> Status:
    """The worst of some statuses (VALID if none)."""
    result = Status.VALID
    for s in statuses:
        if _SEVERITY[s] > _SEVERITY[result]:
            result = s
    return result
