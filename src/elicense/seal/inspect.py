"""``elicense seal inspect``: what a seal, seal signature or SignedData is, and how it departs from its standard.

For the question users of OFD libraries ask when one reader accepts a file and another refuses
it: which version, which producer, which bytes each signature covers (as offsets into the
file), whether each signature verifies over them (cryptography only; no trust decision), and
every deviation from the standard.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

from elicense.errors import CryptoError, InputError
from elicense.seal import ses
from elicense.seal.certs import CertView, cert_of
from elicense.seal.signeddata import parse_signed_data
from elicense.seal.timestamp import parse_time_stamp

STANDARDS = {1: "GM/T 0031-2014", 4: "GB/T 38540-2020", 5: "GM/T 0031-2025 (v5)"}
SEAL_TYPES = {1: ("organisation seal", "单位印章"), 2: ("personal seal", "个人印章")}
PICTURE_MAGIC = ((b"\x89PNG", "PNG"), (b"GIF8", "GIF"), (b"\xff\xd8\xff", "JPG"), (b"PK\x03\x04", "OFD (zip)"),
                 (b"<svg", "SVG"), (b"<?xml", "SVG/XML"))  # fmt: skip
MAX_INSPECT_BYTES = ses.MAX_SES_BYTES


class SealInspectError(InputError):
    """The input is none of: seal, SES_Signature, GB/T 35275 SignedData."""

    code = "seal_unreadable"


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def _cert(der: bytes, ctx: ses.SesContext, where: str) -> dict[str, Any]:
    try:
        c = cert_of(der)
    except CryptoError as exc:
        return {"error": exc.message, "bytes": len(der)}
    ses.cert_devs(c, ctx, where)
    return {
        "subject": c.subject, "issuer": c.issuer, "serial": f"{c.serial:x}", "not_before": _iso(c.not_before),
        "not_after": _iso(c.not_after), "signature_algorithm": c.signature_alg,
        "strict_parser": "ok" if c.strict_error is None else f"refused: {c.strict_error}",
        "unknown_critical_extensions": list(c.unknown_critical),
    }  # fmt: skip


def _now_state(start: dt.datetime, end: dt.datetime) -> str:
    """``current``, ``expired`` or ``not-yet-valid`` at inspection time (shown, not judged)."""
    now = dt.datetime.now(dt.UTC)
    return "not-yet-valid" if now < start else "expired" if now > end else "current"


def _part(part: ses.SignedPart) -> dict[str, Any]:
    return {"layout": part.layout, "ranges": [list(x) for x in part.ranges], "wrapped": part.wrapped,
            "bytes": len(part.data)}  # fmt: skip


def _verify(cert_der: bytes, value: bytes, part: ses.SignedPart, alt: ses.SignedPart | None,
            ctx: ses.SesContext, where: str) -> dict[str, Any]:  # fmt: skip
    try:
        cert: CertView = cert_of(cert_der)
    except CryptoError as exc:
        return {"verifies": False, "covers": _part(part), "error": exc.message}
    ok = ses.sm2_verify(cert, value, part, alt, ctx, where)
    out: dict[str, Any] = {"verifies": ok is not None, "covers": _part(ok or part), "value_bytes": len(value)}
    if ok is not None and ok is not part:
        out["standard_layout"] = part.layout
    return out


def _seal(seal: ses.Seal, ctx: ses.SesContext) -> dict[str, Any]:
    kind = next((name for magic, name in PICTURE_MAGIC if seal.picture.startswith(magic)), "unknown")
    names = SEAL_TYPES.get(seal.seal_type, ("other", "其他"))
    return {
        "version": seal.version, "standard": STANDARDS.get(seal.version), "vid": seal.vid, "es_id": seal.es_id,
        "name": seal.name, "type": seal.seal_type, "type_en": names[0], "type_zh": names[1],
        "created": _iso(seal.created), "valid_start": _iso(seal.valid_start), "valid_end": _iso(seal.valid_end),
        "validity_now": _now_state(seal.valid_start, seal.valid_end),
        "picture": {"type": seal.picture_type, "bytes": len(seal.picture), "width_mm": seal.width_mm,
                    "height_mm": seal.height_mm, "content": kind},
        "cert_list_type": seal.cert_list_type,
        "certificates": [_cert(c, ctx, "seal certificate list") for c in seal.certs],
        "certificate_digests": [{"type": k, "value": v.hex()} for k, v in seal.cert_digests],
        "maker": _cert(seal.maker_cert, ctx, "seal maker certificate"),
        "maker_signature": {"algorithm": seal.sign_alg,
                            **_verify(seal.maker_cert, seal.signed_value, seal.covers, seal.alternative, ctx,
                                      "seal signature")},
        "ext_datas": [{"oid": o, "critical": c, "bytes": len(v)} for o, c, v in seal.ext_datas],
        "time_stamp": _stamp(seal.time_stamp, seal.signed_value),
    }  # fmt: skip


def _stamp(token: bytes | None, value: bytes) -> dict[str, Any] | None:
    """What a time stamp says (no trust decision): its time, TSA and whether it stamps ``value``."""
    if token is None:
        return None

    try:
        ts = parse_time_stamp(token)
    except ses.SesFormatError as exc:
        return {"error": exc.message, "bytes": len(token)}
    digest = ses.sm3_digest(value) if ses.sm3_name(ts.imprint_alg, ses.SesContext(), "") else None
    tsa = None
    if ts.tsa_cert is not None:
        try:
            tsa = cert_of(ts.tsa_cert).subject
        except CryptoError:
            tsa = None
    return {"gen_time": _iso(ts.gen_time), "imprint_algorithm": ts.imprint_alg, "tsa": tsa,
            "stamps_the_signature_value": None if digest is None else digest == ts.imprint}  # fmt: skip


def inspect_bytes(data: bytes) -> dict[str, Any]:
    """The report (JSON-ready). :class:`SealInspectError` when the input is none of the known kinds."""
    if not isinstance(data, bytes) or not data or len(data) > MAX_INSPECT_BYTES:
        raise SealInspectError("input empty or larger than 4 MiB", message_zh="输入为空或超过 4 MiB")
    kind = ses.kind_of(data)
    ctx = ses.SesContext()
    try:
        if kind == "seal":
            seal = ses.parse_seal(data)
            ctx.devs.extend(seal.deviations)
            out: dict[str, Any] = {"kind": "seal", "version": seal.version, "seal": _seal(seal, ctx)}
        elif kind == "signature":
            sig = ses.parse_signature(data)
            ctx.devs.extend(sig.deviations)
            out = {
                "kind": "signature", "version": sig.version, "standard": STANDARDS.get(sig.version),
                "signature": {
                    "signer": _cert(sig.signer_cert, ctx, "signer certificate"), "algorithm": sig.signature_alg,
                    "time_info": _iso(sig.time_info),
                    "property_info": sig.property_info, "data_hash": sig.data_hash.hex(),
                    "time_stamp": _stamp(sig.time_stamp, sig.signature), "embedded_crls": len(sig.crls),
                    "ext_datas": [{"oid": o, "critical": c, "bytes": len(v)} for o, c, v in sig.ext_datas],
                    "signer_in_seal": ses.cert_in_seal(sig.seal, sig.signer_cert),
                    **_verify(sig.signer_cert, sig.signature, sig.covers, sig.alternative, ctx, "signature"),
                },
                "seal": _seal(sig.seal, ctx),
            }  # fmt: skip
        elif kind == "signed_data":
            sd = parse_signed_data(data)
            ctx.devs.extend(sd.deviations)
            signed: dict[str, Any] = {"verifies": None, "covers": _part(sd.covers)}
            if sd.signer_cert is not None and sd.message_digest is not None:
                signed = _verify(sd.signer_cert, sd.signature, sd.covers, None, ctx, "SignerInfo.encryptedDigest")
            out = {
                "kind": "signed_data", "standard": "GB/T 35275",
                "signer": None if sd.signer_cert is None else _cert(sd.signer_cert, ctx, "signer certificate"),
                "certificates": len(sd.certificates), "digest_algorithm": sd.digest_alg,
                "signature_algorithm": sd.signature_alg, "signing_time": _iso(sd.signing_time),
                "message_digest": None if sd.message_digest is None else sd.message_digest.hex(),
                "detached": sd.content is None, "signature": signed,
            }  # fmt: skip
        elif kind == "raw_signature":
            out = {"kind": "raw_signature", "note": "bare SM2 SEQUENCE{r,s}: no certificate, no seal; "
                                                     "not verifiable without the signer's key out of band"}  # fmt: skip
        else:
            raise SealInspectError(
                "not a seal, SES_Signature or GB/T 35275 SignedData",
                message_zh="不是电子印章、电子签章数据或 SignedData",
            )
    except ses.SesFormatError as exc:
        raise SealInspectError(exc.message, message_zh=exc.message_zh or "电子签章数据格式错误") from exc
    out["der"] = "canonical" if not any(x.code == "ses_dev_not_der" for x in ctx.devs) else "not DER"
    out["deviations"] = [
        {"code": x.code, "where": x.where, "detail": x.detail, "message_en": x.message_en, "message_zh": x.message_zh}
        for x in ctx.devs
    ]  # fmt: skip
    return out


MAX_OFD_ENTRIES = 10_000
MAX_OFD_MEMBERS = 64
MAX_OFD_BYTES = 16 * 1024 * 1024


def ofd_members(path: Path) -> list[tuple[str, bytes]]:
    """The seals and signatures inside an OFD package (zip): every ``*.esl`` and ``SignedValue.dat``.

    Bounded: at most 10,000 entries, 64 members read, 4 MiB each and 16 MiB in all (read with a
    limit, so a member whose header lies about its size cannot exhaust memory).
    """

    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > MAX_OFD_ENTRIES:
                raise SealInspectError("OFD package has too many entries", message_zh="OFD 包条目过多")
            wanted = [i for i in infos if i.filename.endswith(("/SignedValue.dat", ".esl")) and not i.is_dir()]
            out = []
            budget = MAX_OFD_BYTES
            for info in wanted[:MAX_OFD_MEMBERS]:
                with z.open(info) as fh:
                    data = fh.read(min(MAX_INSPECT_BYTES, budget) + 1)
                budget -= len(data)
                if budget < 0:
                    raise SealInspectError("seals and signatures in this OFD exceed 16 MiB",
                                           message_zh="该 OFD 中的印章与签章数据超过 16 MiB")  # fmt: skip
                out.append((info.filename, data))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise SealInspectError(f"unreadable OFD package: {exc}"[:200], message_zh="无法读取 OFD 包") from exc
    if not out:
        raise SealInspectError("no seal or signature in this OFD package", message_zh="该 OFD 包中没有电子印章或签章")
    return out


def signatures_ok(report: dict[str, Any]) -> bool:
    """Whether no signature in the report fails over its bytes."""
    checks = []
    if "seal" in report:
        checks.append(report["seal"]["maker_signature"]["verifies"])
    if report["kind"] == "signature":
        checks.append(report["signature"]["verifies"])
    if report["kind"] == "signed_data":
        checks.append(report["signature"]["verifies"])
    return all(x is not False for x in checks)  # None: cannot be checked without the content


_LABELS = {
    "kind": ("kind", "类型"), "version": ("version", "版本"), "vid": ("producer (Vid)", "厂商标识"),
    "es_id": ("seal id", "印章标识"), "name": ("seal name", "印章名称"), "type": ("seal type", "印章类型"),
    "validity": ("validity", "有效期"), "picture": ("picture", "印章图片"), "certs": ("certificates", "证书列表"),
    "maker": ("seal maker", "制章者"), "maker_sig": ("maker signature", "制章者签名"), "signer": ("signer", "签章者"),
    "signer_sig": ("signer signature", "签章者签名"), "time": ("signing time", "签章时间"),
    "property": ("propertyInfo", "原文属性"), "data_hash": ("dataHash", "原文杂凑"), "covers": ("covers", "签名覆盖"),
    "deviations": ("deviations from the standard", "与标准不符之处"), "none": ("none", "无"),
    "valid": ("VALID", "有效"), "invalid": ("INVALID", "无效"), "der": ("encoding", "编码"),
    "in_seal": ("signer in seal's certificate list", "签章者证书在印章证书列表中"),
    "yes": ("yes", "是"), "no": ("no", "否"),
    "digest": ("messageDigest", "消息摘要"),
}  # fmt: skip
KIND_NAMES = {"seal": ("seal (SESeal)", "电子印章"), "signature": ("seal signature (SES_Signature)", "电子签章数据"),
              "signed_data": ("GB/T 35275 SignedData", "GB/T 35275 数字签名"),
              "raw_signature": ("raw SM2 signature", "裸 SM2 签名值")}  # fmt: skip


def render_text(report: dict[str, Any], lang: str = "zh") -> str:
    """Human-readable report in ``lang`` (``zh`` or ``en``)."""
    i = 1 if lang == "zh" else 0

    def lab(key: str) -> str:
        return _LABELS[key][i]

    def sig(entry: dict[str, Any]) -> str:
        state = lab("valid") if entry.get("verifies") else lab("invalid")
        cov = entry["covers"]
        ranges = " + ".join(f"[{a}..{b})" for a, b in cov["ranges"])
        wrap = " (+ new outer header)" if cov["wrapped"] else ""
        return f"{state}; {lab('covers')} {cov['layout']}, bytes {ranges}{wrap}"

    lines = [f"{lab('kind')}: {KIND_NAMES[report['kind']][i]}" + (
        f" v{report['version']}" if "version" in report else "")]  # fmt: skip
    if report["kind"] == "signature":
        s = report["signature"]
        lines += [
            f"{lab('signer')}: {s['signer'].get('subject')} (serial {s['signer'].get('serial')})",
            f"{lab('time')}: {s['time_info']}", f"{lab('property')}: {s['property_info']}",
            f"{lab('data_hash')}: {s['data_hash']}", f"{lab('signer_sig')}: {sig(s)}",
            f"{lab('in_seal')}: {lab('yes') if s['signer_in_seal'] else lab('no')}",
        ]  # fmt: skip
    if report["kind"] == "signed_data":
        lines += [f"{lab('signer')}: {(report['signer'] or {}).get('subject')}",
                  f"{lab('time')}: {report['signing_time']}",
                  f"{lab('digest')}: {report['message_digest']}"]  # fmt: skip
        if report["signature"].get("verifies") is not None:
            lines.append(f"{lab('signer_sig')}: {sig(report['signature'])}")
    if "seal" in report:
        s = report["seal"]
        p = s["picture"]
        lines += [
            f"{lab('version')}: v{s['version']} {s['standard']}", f"{lab('vid')}: {s['vid']}",
            f"{lab('es_id')}: {s['es_id']}", f"{lab('name')}: {s['name']}",
            f"{lab('type')}: {s['type']} ({s['type_zh'] if i else s['type_en']})",
            f"{lab('validity')}: {s['valid_start']} .. {s['valid_end']} ({s['validity_now']})",
            f"{lab('picture')}: {p['type']}, {p['bytes']} B, {p['width_mm']}×{p['height_mm']} mm ({p['content']})",
            f"{lab('certs')}: " + "; ".join(f"{c.get('subject')} (serial {c.get('serial')})" for c in s["certificates"])
            + "; ".join(f"{d['type']}:{d['value'][:16]}…" for d in s["certificate_digests"]),
            f"{lab('maker')}: {s['maker'].get('subject')} (serial {s['maker'].get('serial')})",
            f"{lab('maker_sig')}: {sig(s['maker_signature'])}",
        ]  # fmt: skip
    lines.append(f"{lab('der')}: {report['der']}")
    devs = report["deviations"]
    lines.append(f"{lab('deviations')}: " + ("" if devs else lab("none")))
    for dev in devs:
        msg = dev["message_zh"] if i else dev["message_en"]
        lines.append(f"  - [{dev['code']}] {msg} — {dev['where']}" + (f": {dev['detail']}" if dev["detail"] else ""))
    return "\n".join(lines)


__all__ = ["SealInspectError", "inspect_bytes", "render_text", "signatures_ok"]
