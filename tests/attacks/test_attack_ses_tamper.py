"""Tampering with seals and seal signatures: one byte in each signed part, re-signing, swapping.

For elicense's own signatures and for real ones (the corpus: ofdrw, v1/v4/v5, GB/T 35275),
every primitive element of every part a signature covers is altered by one byte; the result
must never pass the cryptographic checks. Attackers holding one key (a genuine signer who
edits the seal and re-signs, a rogue seal-making system) are refused with the named reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

pytest.importorskip("tongsuopy")

import ses_support as sx
from elicense.crypto import keys, sm2
from elicense.seal import api, ses
from elicense.seal import der as d

CRYPTO = ("signature", "seal_signature", "signer_in_seal", "document_digest")
XML = b"<ofd:Signature>signed content</ofd:Signature>"


def _leaves(node: d.Node, shift: int = 0) -> list[tuple[int, int]]:
    """(absolute offset, length) of every primitive value, descending into OCTET STRINGs holding DER
    (certificates, CRLs) so that their inner fields are probed one by one too."""
    if node.constructed:
        return [leaf for child in node.children() for leaf in _leaves(child, shift)]
    start, size = shift + node.start + node.header, node.end - node.start - node.header
    if node.tag == d.OCTET_STRING and size > 2:
        try:
            inner = d.parse(node.value)
        except d.DerError:
            pass
        else:
            return _leaves(inner, start)
    return [(start, size)] if size else []


def _flips(data: bytes) -> list[tuple[int, bytes]]:
    """One altered copy per primitive element: the middle byte of its value, XOR 0x01."""
    out = []
    for start, size in _leaves(d.parse(data)):
        i = start + size // 2
        out.append((i, data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]))
    return out


def _crypto_ok(res: api.SesVerification) -> bool:
    checks = {c.name: str(c.outcome) for c in res.checks}
    return all(checks.get(name) == "PASSED" for name in CRYPTO)


def _own() -> tuple[bytes, ses.SesTrust]:
    p = sx.pki()
    seal = ses.make_seal(
        es_id="33010000000002", name="篡改测试章", certificates=[p.signer], picture_png=b"\x89PNG\r\n\x1a\n" + b"1" * 64,
        width_mm=40, height_mm=40, valid_start=sx.NOW - sx.YEAR, valid_end=sx.NOW + sx.YEAR, maker_cert=p.maker,
        maker_key=p.maker_key, created=sx.NOW - sx.YEAR,
    )  # fmt: skip
    signer = keys.Sm2Signer(p.signer_key, p.signer, (p.ca,))
    der = api.sign_ses(sm2.sm3(XML), "/Doc_0/Signs/Sign_0/Signature.xml", seal, signer, sx.SIGNED, crls=p.crls)
    return der, ses.SesTrust(roots=(p.root,), intermediates=(p.ca,), crls=p.crls)


def test_attack_ses_one_byte_in_each_signed_part_of_an_elicense_signature() -> None:
    der, trust = _own()
    assert api.verify_ses(der, data_hash=sm2.sm3(XML), trust=trust, at=sx.NOW).valid
    flips = _flips(der)
    assert len(flips) > 50
    for offset, tampered in flips:
        res = api.verify_ses(tampered, data_hash=sm2.sm3(XML), trust=trust, at=sx.NOW)
        assert not res.valid and not _crypto_ok(res), offset


def _real_signatures() -> list[tuple[str, bytes, bytes]]:
    c = sx.corpus()
    out = []
    for name in ("sign__allprotected.ofd", "made_with_tool/tool__spjy_v5.ofd", "made_with_tool/tool__jsz_v1.ofd",
                 "sign__v4signed.ofd"):  # fmt: skip
        ((_, data, xml),) = sx.ofd_signatures(c / "ofd" / name)
        out.append((name, data, xml))
    return out


def test_attack_ses_one_byte_in_each_signed_part_of_real_signatures() -> None:
    """v4 (ofdrw, a tax bureau), v5, v1: every single-byte change breaks a cryptographic check."""
    trust = ses.SesTrust(roots=())
    at = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    for name, data, xml in _real_signatures():
        digest = sm2.sm3(xml)
        assert _crypto_ok(api.verify_ses(data, data_hash=digest, trust=trust, at=at)), name
        # the seal picture is a single element of ~15 KiB: probe it at several places too
        for offset, tampered in _flips(data):
            res = api.verify_ses(tampered, data_hash=digest, trust=trust, at=at)
            assert not _crypto_ok(res), (name, offset)


def test_attack_signed_data_one_byte_in_each_signed_part() -> None:
    """GB/T 35275: the signed attributes, the signature value, the signer's key, the content."""
    (_, data, xml), _ = sx.ofd_signatures(sx.corpus() / "ofd" / "converter__testImageNotFound.ofd")
    trust = ses.SesTrust(roots=())
    at = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)

    def ok(blob: bytes, content: bytes = xml) -> bool:
        res = api.verify_signed_data(blob, content=content, trust=trust, at=at)
        checks = {c.name: str(c.outcome) for c in res.checks}
        return checks.get("signature") == "PASSED" and checks.get("document_digest") == "PASSED"

    assert ok(data)
    parsed = api.parse_signed_data(data)
    assert parsed.signer_cert is not None
    ((start, end),) = parsed.covers.ranges
    value_at = data.rfind(parsed.signature)
    point = parsed.signer_cert.find(b"\x03\x42\x00\x04") + 10
    positions = [*range(start, end), value_at + 4, value_at + 40, data.find(parsed.signer_cert) + point]
    for offset in positions:
        assert not ok(data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]), offset
    assert not ok(data, xml.replace(b"Signature", b"Signaturf", 1))


def test_attack_ses_genuine_signer_edits_the_seal_and_re_signs() -> None:
    """The signer holds its own key, not the maker's: extending the seal's validity breaks the maker signature."""
    p = sx.pki()
    der, trust = _own()
    sig = ses.parse_signature(der)
    seal = d.parse(sig.seal.der)
    old_end = ses._gt(sig.seal.valid_end)
    assert sig.seal.der.count(old_end) == 1
    edited_seal = sig.seal.der.replace(old_end, ses._gt(sig.seal.valid_end + 10 * sx.YEAR))
    assert len(edited_seal) == len(seal.raw)
    edited = ses.sign_tbs(data_hash=sm2.sm3(XML), property_info="x", seal=sig.seal.der, signer_cert=p.signer,
                          signer_key=p.signer_key, at=sx.SIGNED)  # fmt: skip
    forged = edited.replace(sig.seal.der, edited_seal)
    tbs = d.parse(forged).children()[0]
    rest = d.parse(forged).children()[1:3]
    resigned = d.sequence(tbs.raw + b"".join(x.raw for x in rest) + ses._bits(p.signer_key.sign(tbs.raw)))
    res = api.verify_ses(resigned, data_hash=sm2.sm3(XML), trust=trust, at=sx.NOW)
    assert res.has_reason("ses_seal_signature_invalid") and not res.valid


def test_attack_ses_rogue_seal_maker_and_signer_outside_the_seal() -> None:
    p = sx.pki()
    rogue_key = sm2.Sm2PrivateKey.generate()
    rogue = sm2.make_sm2_end_entity(
        rogue_key.public_key(), "自建制章系统", uscc=None, province="浙江省", issuer_cert=p.ca, issuer_key=p.ca_key,
        not_before=sx.NOW - sx.YEAR, not_after=sx.NOW + sx.YEAR,
    )  # no seal-making EKU, in no seal-makers list  # fmt: skip
    common = {"es_id": "R1", "name": "伪造章", "picture_png": b"\x89PNG\r\n\x1a\n", "width_mm": 40, "height_mm": 40,
              "valid_start": sx.NOW - sx.YEAR, "valid_end": sx.NOW + sx.YEAR, "created": sx.NOW - sx.YEAR}  # fmt: skip
    seal = ses.make_seal(certificates=[p.signer], maker_cert=rogue, maker_key=rogue_key, **common)  # type: ignore[arg-type]
    signer = keys.Sm2Signer(p.signer_key, p.signer, (p.ca,))
    der = api.sign_ses(sm2.sm3(XML), "/Doc_0/Signs/Sign_0/Signature.xml", seal, signer, sx.SIGNED, crls=p.crls)
    _, trust = _own()
    res = api.verify_ses(der, data_hash=sm2.sm3(XML), trust=trust, at=sx.NOW)
    assert res.has_reason("ses_seal_maker_untrusted") and not res.valid
    # a genuine seal used by a key that is not in its certificate list (the builder refuses; build it by hand)
    genuine = ses.make_seal(certificates=[p.signer], maker_cert=p.maker, maker_key=p.maker_key, **common)  # type: ignore[arg-type]
    other_key = sm2.Sm2PrivateKey.generate()
    other = sm2.make_sm2_end_entity(
        other_key.public_key(), "冒用者", uscc=None, province="浙江省", issuer_cert=p.ca, issuer_key=p.ca_key,
        not_before=sx.NOW - sx.YEAR, not_after=sx.NOW + sx.YEAR,
    )  # fmt: skip
    body = ses.der_int(4) + genuine + ses._gt(sx.SIGNED) + ses._bits(sm2.sm3(XML)) + ses._ia5("x")
    tbs = d.sequence(body)
    forged = d.sequence(tbs + ses.der_octets(sm2.certificate_der(other)) + ses.der_oid(ses.OID_SM2_WITH_SM3)
                        + ses._bits(other_key.sign(tbs)))  # fmt: skip
    res = api.verify_ses(forged, data_hash=sm2.sm3(XML), trust=dataclasses.replace(trust), at=sx.NOW)
    assert res.has_reason("ses_signer_not_in_seal") and not res.valid
