"""Real-world encodings of seals and signatures: accepted where unambiguous, each reported as a deviation.

Every variant is built here with real SM2 keys, the way some producer in the field writes it
(lower-case picture types, raw r‖s values, SM3 named by a sub-arc, certificates that
``cryptography`` refuses, vendor critical extensions, another SM2 user id, ...). Each one must
verify with its own ``deviation.*`` WARNING check — and the same variant with a broken
signature must not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("tongsuopy")

import ses_support as sx
from elicense.crypto import keys, sm2
from elicense.seal import der as d
from elicense.seal import ses
from elicense.seal import verify as seal_verify

OID = ses.OID_SM2_WITH_SM3
HASH = sm2.sm3(b"<ofd:Signature/>")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def _seq(*parts: bytes) -> bytes:
    return d.sequence(b"".join(parts))


def _sign(key: Any, data: bytes, raw: bool) -> bytes:
    sig: bytes = key.sign(data)
    return sm2.der_to_raw(sig) if raw else sig


@dataclasses.dataclass
class Spec:
    """One variant: every knob a producer in the field turns."""

    version: int = 4
    picture_type: str = "PNG"
    digest_type: str | None = None  # certListType 2 with this type name; None: certificates
    maker_layout: str = "info"  # or "sequence"
    signer_layout: str = "tbs"  # or "sequence"
    maker_raw: bool = False
    signer_raw: bool = False
    ext_tag: str = "explicit"  # "explicit", "untagged", "none"
    time_stamp: str = "none"  # "none", "explicit", "implicit"
    data_hash_octets: bool = False
    signer_cert: bytes | None = None
    maker_sign: Callable[[bytes], bytes] | None = None


def build(spec: Spec, p: sx.Pki | None = None) -> bytes:
    """An SES_Signature made exactly as ``spec`` says (with ``p``'s keys; default the shared test PKI)."""
    p = p or sx.pki()
    signer = spec.signer_cert or sm2.certificate_der(p.signer)
    maker = sm2.certificate_der(p.maker)
    if spec.digest_type is None:
        cert_list, list_type = _seq(ses.der_octets(signer)), 1
    else:
        kind = d.header(d.PRINTABLE_STRING, len(spec.digest_type)) + spec.digest_type.encode()
        cert_list, list_type = _seq(_seq(kind + ses.der_octets(sm2.sm3(signer)))), 2
    header = _seq(ses._ia5("ES"), ses.der_int(spec.version), ses._ia5("VARIANT"))
    prop = _seq(ses.der_int(1), ses._utf8("变体测试章"), ses.der_int(list_type), cert_list,
                *(ses._gt(t) for t in (sx.NOW - sx.YEAR, sx.NOW - sx.YEAR, sx.NOW + sx.YEAR)))  # fmt: skip
    info = _seq(header, ses._ia5("VAR-1"), prop, _seq(ses._ia5(spec.picture_type), ses.der_octets(PNG),
                                                      ses.der_int(40), ses.der_int(40)))  # fmt: skip
    maker_tbs = info if spec.maker_layout == "info" else _seq(info, ses.der_octets(maker), ses.der_oid(OID))
    maker_sig = spec.maker_sign(maker_tbs) if spec.maker_sign else _sign(p.maker_key, maker_tbs, spec.maker_raw)
    seal = _seq(info, ses.der_octets(maker), ses.der_oid(OID), ses._bits(maker_sig))
    data_hash = ses.der_octets(HASH) if spec.data_hash_octets else ses._bits(HASH)
    body = (
        ses.der_int(spec.version)
        + seal
        + ses._gt(sx.SIGNED)
        + data_hash
        + ses._ia5("/Doc_0/Signs/Sign_0/Signature.xml")
    )
    ext = ses._ext_datas_der([(ses.OID_EXT_CRL, c) for c in p.crls])
    if spec.ext_tag == "explicit":
        body += d.header(d.CONTEXT_0, len(ext)) + ext
    elif spec.ext_tag == "untagged":
        body += ext
    tbs = d.sequence(body)
    signed = tbs if spec.signer_layout == "tbs" else _seq(tbs, ses.der_octets(signer), ses.der_oid(OID))
    out = tbs + ses.der_octets(signer) + ses.der_oid(OID) + ses._bits(_sign(p.signer_key, signed, spec.signer_raw))
    if spec.time_stamp == "explicit":
        out += d.header(d.CONTEXT_0, 5) + ses._bits(b"\x30\x00")
    elif spec.time_stamp == "implicit":
        out += b"\x80\x03\x00\x30\x00"
    return d.sequence(out)


def trust(**kw: Any) -> ses.SesTrust:
    p = sx.pki()
    return dataclasses.replace(ses.SesTrust(roots=(p.root,), intermediates=(p.ca,), crls=p.crls), **kw)


def verify(data: bytes, **kw: Any) -> ses.SesVerification:
    return seal_verify.verify_ses(data, data_hash=HASH, trust=trust(**kw), at=sx.NOW)


def warnings(res: ses.SesVerification) -> list[str]:
    return [c.name for c in res.checks if str(c.outcome) == "WARNING"]


def break_last_signature(data: bytes) -> bytes:
    """Flip one bit inside the signer's signature value (the last BIT STRING before any time stamp)."""
    sig = ses.parse_signature(data)
    value = sig.signature
    i = data.rfind(value)
    return data[:i] + bytes([value[0] ^ 0x01]) + data[i + 1 :]


def test_standard_form_has_no_deviation() -> None:
    res = verify(build(Spec()))
    assert res.valid and warnings(res) == [] and res.deviations == ()


CASES: dict[str, tuple[Spec, str]] = {
    "picture type png": (Spec(picture_type="png"), "ses_dev_picture_type_case"),
    "picture type ofd": (Spec(picture_type="ofd"), "ses_dev_picture_type_case"),
    "picture type BMP": (Spec(picture_type="BMP"), "ses_dev_picture_type_unknown"),
    "raw r||s maker value": (Spec(maker_raw=True), "ses_dev_signature_raw"),
    "raw r||s signer value": (Spec(signer_raw=True), "ses_dev_signature_raw"),
    "cert digest named sm3": (Spec(digest_type="sm3"), "ses_dev_sm3_name"),
    "cert digest named by an SM3 sub-arc": (Spec(digest_type="1.2.156.10197.1.401.1"), "ses_dev_sm3_name"),
    "v4 maker over SEQUENCE{info,cert,alg}": (Spec(maker_layout="sequence"), "ses_dev_signed_bytes"),
    "v4 signer over SEQUENCE{tbs,cert,alg}": (Spec(signer_layout="sequence"), "ses_dev_signed_bytes"),
    "untagged TBS_Sign.extDatas": (Spec(ext_tag="untagged"), "ses_dev_ext_datas_untagged"),
    "dataHash as OCTET STRING": (Spec(data_hash_octets=True), "ses_dev_octet_string"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_variant_is_accepted_and_reported(case: str) -> None:
    spec, code = CASES[case]
    data = build(spec)
    res = verify(data)
    assert res.valid, res.result.to_dict()
    assert f"deviation.{code}" in warnings(res)
    assert code in [dev.code for dev in ses.parse_signature(data).deviations] or code in (
        "ses_dev_signature_raw", "ses_dev_signed_bytes")  # found while verifying, not while parsing  # fmt: skip
    broken = verify(break_last_signature(data))
    assert not broken.valid and broken.has_reason("signature_invalid")


def test_sm3_by_its_exact_oid_is_standard_and_other_digests_are_not_accepted() -> None:
    assert verify(build(Spec(digest_type="1.2.156.10197.1.401"))).deviations == ()
    res = verify(build(Spec(digest_type="SHA256")))
    assert res.has_reason("ses_signer_not_in_seal") and "deviation.ses_dev_cert_digest_type" in warnings(res)


def test_time_stamps_explicit_and_implicit_are_reported_not_trusted() -> None:
    explicit = verify(build(Spec(time_stamp="explicit")))
    assert explicit.has_reason("ses_timestamp_invalid") and warnings(explicit) == []  # b"0\x00" is no token
    implicit = verify(build(Spec(time_stamp="implicit")))
    assert "deviation.ses_dev_time_stamp_implicit" in warnings(implicit)


@pytest.mark.parametrize("version", [2, 3, 6])
def test_unknown_versions_are_unsupported_not_guessed(version: int) -> None:
    res = verify(build(Spec(version=version)))
    assert res.has_reason("ses_version_unsupported") and res.status.value == "INDETERMINATE"


def test_non_minimal_lengths_are_not_der_and_signatures_cover_the_bytes_as_given() -> None:
    data = build(Spec())
    node = d.parse(data)
    tbs = node.children()[0]
    prop = tbs.children()[4]  # propertyInfo: re-encode its length in long form (non-minimal)
    longer = bytes([prop.tag, 0x81, len(prop.value)]) + prop.value
    body = tbs.value[: prop.start - tbs.start - tbs.header] + longer + tbs.value[prop.end - tbs.start - tbs.header :]
    p = sx.pki()
    new_tbs = d.sequence(body)
    rest = b"".join(c.raw for c in node.children()[1:3])
    resigned = d.sequence(new_tbs + rest + ses._bits(p.signer_key.sign(new_tbs)))
    res = verify(resigned)
    assert res.valid and "deviation.ses_dev_not_der" in warnings(res)


def test_vendor_critical_ext_data_is_reported_and_refused_by_a_strict_verifier() -> None:
    p = sx.pki()
    seal = ses.parse_seal(ses.make_seal(
        es_id="X1", name="章", certificates=[p.signer], picture_png=PNG, width_mm=40, height_mm=40,
        valid_start=sx.NOW - sx.YEAR, valid_end=sx.NOW + sx.YEAR, maker_cert=p.maker, maker_key=p.maker_key,
        created=sx.NOW - sx.YEAR))  # fmt: skip
    info = d.parse(seal.der).children()[0]
    crit = _seq(_seq(ses.der_oid("1.2.156.112562.9.9"), b"\x01\x01\xff", ses.der_octets(b"vendor")))
    info2 = d.sequence(info.value + crit)
    vendor_seal = _seq(info2, ses.der_octets(seal.maker_cert), ses.der_oid(OID), ses._bits(p.maker_key.sign(info2)))
    assert [x.code for x in ses.parse_seal(vendor_seal).deviations] == ["ses_dev_critical_ext_data"]
    signer = keys.Sm2Signer(p.signer_key, p.signer, (p.ca,))
    from elicense.seal import api

    der = api.sign_ses(HASH, "/Doc_0/Signs/Sign_0/Signature.xml", vendor_seal, signer, sx.SIGNED, crls=p.crls)
    res = verify(der)
    assert res.valid and "deviation.ses_dev_critical_ext_data" in warnings(res)
    strict = verify(der, refuse_unknown_critical=True)
    assert strict.has_reason("ses_unknown_critical_extension") and not strict.valid


def test_bare_certificates_and_v1_time_in_v4_and_version_mismatch_are_reported() -> None:
    p = sx.pki()
    data = build(Spec())
    node = d.parse(data)
    tbs, cert, alg, value = node.children()
    fields = tbs.children()
    text_time = ses._bits((sx.SIGNED + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S").encode())
    new_tbs = d.sequence(ses.der_int(5) + fields[1].raw + text_time + b"".join(f.raw for f in fields[3:]))
    bare_cert = d.parse(cert.value).raw  # the Certificate SEQUENCE itself, not wrapped in an OCTET STRING
    forged = d.sequence(new_tbs + bare_cert + alg.raw + ses._bits(p.signer_key.sign(new_tbs)))
    res = verify(forged)
    assert res.valid, res.result.to_dict()
    assert {"deviation.ses_dev_cert_unwrapped", "deviation.ses_dev_time_type", "deviation.ses_dev_time_text",
            "deviation.ses_dev_version_mismatch"} <= set(warnings(res))  # fmt: skip
    assert res.signature is not None and res.signature.time_info == sx.SIGNED
    del value


# -- certificates ``cryptography`` refuses, vendor extensions ---------------------------------------


def _rewrite(node: d.Node, old: bytes, new: bytes) -> bytes:
    if node.raw == old:
        return new
    if not node.constructed:
        return node.raw
    inner = b"".join(_rewrite(c, old, new) for c in node.children())
    return d.header(node.tag, len(inner)) + inner


def recertify(cert_der: bytes, old: bytes, new: bytes, key: Any) -> bytes:
    """``cert_der`` with one element of its TBSCertificate replaced, re-signed by ``key``."""
    tbs, alg, _ = d.parse(cert_der).children()
    new_tbs = _rewrite(tbs, old, new)
    assert new_tbs != tbs.raw
    return _seq(new_tbs, alg.raw, ses._bits(key.sign(new_tbs)))


BC_EMPTY = ses.der_octets(b"\x30\x00")  # basicConstraints {} (cA absent: FALSE)
BC_DEFAULT = ses.der_octets(b"\x30\x03\x01\x01\x00")  # cA FALSE written out: DEFAULT encoded, not DER


def test_certificate_refused_by_cryptography_is_read_and_chain_validated() -> None:
    from cryptography import x509

    p = sx.pki()
    odd = recertify(sm2.certificate_der(p.signer), BC_EMPTY, BC_DEFAULT, p.ca_key)
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(odd).extensions  # noqa: B018  (cryptography refuses it)
    res = verify(build(Spec(signer_cert=odd)))
    assert res.valid, res.result.to_dict()
    assert "deviation.ses_dev_certificate_encoding" in warnings(res)
    # the same certificate, but not issued by the CA: leniency never reaches the trust decision
    forged = recertify(sm2.certificate_der(p.signer), BC_EMPTY, BC_DEFAULT, p.signer_key)
    res = verify(build(Spec(signer_cert=forged)))
    assert res.has_reason("ses_certificate_untrusted") and not res.valid


def test_vendor_critical_extension_is_reported_and_chain_still_validated() -> None:
    p = sx.pki()
    der = sm2.certificate_der(p.signer)
    bc = next(c for c in _walk(d.parse(der)) if c.tag == d.SEQUENCE and c.raw.startswith(b"\x30")
              and c.children()[0].raw == ses.der_oid("2.5.29.19"))  # fmt: skip
    vendor = _seq(ses.der_oid("1.2.156.112562.2.1.1.1"), b"\x01\x01\xff", ses.der_octets(b"\x0c\x03abc"))
    odd = recertify(der, bc.raw, bc.raw + vendor, p.ca_key)
    res = verify(build(Spec(signer_cert=odd)))
    assert res.valid and "deviation.ses_dev_critical_extension" in warnings(res)
    assert any("1.2.156.112562.2.1.1.1" in (c.detail or "") for c in res.checks)


def _walk(node: d.Node) -> list[d.Node]:
    out = [node]
    if node.constructed:
        for child in node.children():
            out += _walk(child)
    return out


# -- another SM2 user id -------------------------------------------------------------------------


def test_non_default_user_id_only_where_configured() -> None:
    gmalglib = pytest.importorskip("gmalglib")
    p = sx.pki()
    uid = b"SEAL-MAKER-01"
    value = 0x1F2E3D4C5B6A79880123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
    maker_key = sm2.Sm2PrivateKey.from_private_value(value)
    point = maker_key.public_key().point
    other = gmalglib.sm2.SM2(sk=value.to_bytes(32, "big"), pk=point, uid=uid)

    def uid_sign(data: bytes) -> bytes:
        return sm2.raw_to_der(bytes(other.sign(data)))

    # the seal maker in this test is the PKI's maker certificate re-issued for that key
    maker_cert = sm2.make_sm2_end_entity(
        maker_key.public_key(), "某厂商制章系统", uscc=None, province="浙江省", issuer_cert=p.ca, issuer_key=p.ca_key,
        not_before=sx.NOW - 2 * sx.YEAR, not_after=sx.NOW + 2 * sx.YEAR,
    )  # fmt: skip
    data = build(Spec(maker_sign=uid_sign), dataclasses.replace(p, maker=maker_cert, maker_key=maker_key))
    maker_der = sm2.certificate_der(maker_cert)
    assert not verify(data).valid and verify(data).has_reason("ses_seal_signature_invalid")
    entry = ses.SealMaker("vendor", maker_der, "maker", frozenset({"VARIANT"}), uid)
    res = verify(data, seal_makers=(entry,))
    assert res.valid, res.result.to_dict()
    assert "deviation.ses_dev_user_id" in warnings(res)
    other_vid = ses.SealMaker("vendor", maker_der, "maker", frozenset({"OTHER"}), uid)
    assert verify(data, seal_makers=(other_vid,)).has_reason("ses_seal_signature_invalid")


def test_other_string_and_time_types_are_reported() -> None:
    """esID as UTF8String and timeInfo as UTCTime: read, and each reported."""
    p = sx.pki()
    data = build(Spec())
    node = d.parse(data)
    tbs = node.children()[0]
    fields = tbs.children()
    seal = fields[1]  # fields[2], timeInfo, is replaced by a UTCTime below
    utc = b"\x17\x0d" + sx.SIGNED.strftime("%y%m%d%H%M%SZ").encode()
    info_fields = seal.children()[0].children()  # esID (index 1) as UTF8String
    new_info_body = b"".join(c.raw if i != 1 else b"\x0c" + c.raw[1:] for i, c in enumerate(info_fields))
    new_info = d.sequence(new_info_body)
    new_seal = d.sequence(new_info + b"".join(c.raw for c in seal.children()[1:3])
                          + ses._bits(p.maker_key.sign(new_info)))  # fmt: skip
    body = fields[0].raw + new_seal + utc + b"".join(f.raw for f in fields[3:])
    new_tbs = d.sequence(body)
    rest = b"".join(c.raw for c in node.children()[1:3])
    res = verify(d.sequence(new_tbs + rest + ses._bits(p.signer_key.sign(new_tbs))))
    assert res.valid, res.result.to_dict()
    assert {"deviation.ses_dev_string_type", "deviation.ses_dev_time_type"} <= set(warnings(res)), warnings(res)


def test_unreadable_trust_entries_trust_nothing_and_never_raise() -> None:
    p = sx.pki()
    garbage = ses.SealMaker("broken", b"\x30\x03\x02\x01\x01", "ca")
    res = seal_verify.verify_ses(build(Spec()), data_hash=HASH, trust=ses.SesTrust(roots=(b"junk",), seal_makers=(garbage,)),
                         at=sx.NOW)  # fmt: skip
    assert res.has_reason("ses_certificate_untrusted") and res.has_reason("ses_seal_maker_untrusted")
    seal_der = ses.parse_signature(build(Spec())).seal.der
    assert seal_verify.verify_ses(seal_der, data_hash=HASH, trust=trust(), at=sx.NOW).reasons[0].detail == (
        "this is a seal (SESeal), not an SES_Signature"
    )
    assert seal_verify.verify_seal(seal_der, trust=trust(), at=sx.SIGNED).valid  # CRLs cover SIGNED, not NOW
    del p


def test_signature_value_with_non_canonical_integers_is_reported() -> None:
    """Some encoders drop the 0x00 sign octet of r or s (a "negative" INTEGER): the values are unambiguous."""
    p = sx.pki()
    node = d.parse(build(Spec()))
    tbs, cert, alg, _ = node.children()
    for _ in range(64):
        r_, s_ = sm2.parse_der_signature(p.signer_key.sign(tbs.raw))
        if r_ >> 255:
            break
    else:
        pytest.fail("no signature with the top bit of r set")
    raw_r = b"\x02\x20" + r_.to_bytes(32, "big")  # no 0x00 sign octet: not DER
    s_bytes = s_.to_bytes(33, "big").lstrip(b"\x00")
    s_int = b"\x02" + bytes([len(s_bytes) + (s_bytes[0] >> 7)]) + (b"\x00" if s_bytes[0] >> 7 else b"") + s_bytes
    value = d.sequence(raw_r + s_int)
    res = verify(d.sequence(tbs.raw + cert.raw + alg.raw + ses._bits(value)))
    assert res.valid and "deviation.ses_dev_signature_not_der" in warnings(res), res.result.to_dict()
    broken = value[:-1] + bytes([value[-1] ^ 1])
    assert verify(d.sequence(tbs.raw + cert.raw + alg.raw + ses._bits(broken))).has_reason("signature_invalid")


@pytest.mark.parametrize("oid", ["1.2.156.10197.1.301.1", "1.2.156.10197.1.301"])
def test_sm2_named_by_another_sm2_oid_is_reported_and_others_refused(oid: str) -> None:
    node = d.parse(build(Spec()))
    tbs, cert, _, value = node.children()
    res = verify(d.sequence(tbs.raw + cert.raw + ses.der_oid(oid) + value.raw))
    assert res.valid and "deviation.ses_dev_algorithm_oid" in warnings(res), res.result.to_dict()
    ecdsa = verify(d.sequence(tbs.raw + cert.raw + ses.der_oid("1.2.840.10045.4.3.2") + value.raw))
    assert ecdsa.has_reason("algorithm_not_allowed")
