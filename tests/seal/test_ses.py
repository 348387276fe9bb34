"""GB/T 38540 seals and seal signatures: round trips and one tamper case per verification step."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tongsuopy")

from cryptography.x509.oid import ObjectIdentifier

from elicense.crypto import sm2
from elicense.crypto.algorithms import AlgorithmPolicy
from elicense.errors import CryptoError
from elicense.seal import ses
from elicense.seal import verify as seal_verify

NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
SIGNED = NOW - dt.timedelta(days=10)
DAY = dt.timedelta(days=1)
YEAR = 365 * DAY
DOC = b"EL2:example-document-bytes\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SM2_ONLY = AlgorithmPolicy.of(["SM2"])


@dataclass(frozen=True)
class World:
    root: Any
    root_key: Any
    ca: Any
    ca_key: Any
    signer: Any
    signer_key: Any
    maker: Any
    maker_key: Any
    crls: tuple[bytes, ...]
    trust: ses.SesTrust


@pytest.fixture(scope="module")
def w() -> World:
    root_key, ca_key, signer_key, maker_key = (sm2.Sm2PrivateKey.generate() for _ in range(4))
    root = sm2.make_sm2_root(root_key, "测试根", not_before=NOW - 3 * YEAR, not_after=NOW + 10 * YEAR)
    ca = sm2.make_sm2_regional_ca(
        ca_key, "测试 CA", province="山东省", issuer_cert=root, issuer_key=root_key,
        not_before=NOW - 3 * YEAR, not_after=NOW + 5 * YEAR,
    )  # fmt: skip
    signer = sm2.make_sm2_end_entity(
        signer_key.public_key(), "济南市行政审批服务局", uscc=None, province="山东省", issuer_cert=ca,
        issuer_key=ca_key, not_before=NOW - YEAR, not_after=NOW + YEAR,
    )  # fmt: skip
    maker = sm2.make_sm2_end_entity(
        maker_key.public_key(), "印章制作系统", uscc=None, province="山东省", issuer_cert=ca, issuer_key=ca_key,
        not_before=NOW - 2 * YEAR, not_after=NOW + 2 * YEAR, eku=ObjectIdentifier(ses.OID_EKU_SEAL_MAKING),
    )  # fmt: skip
    crls = (
        sm2.make_sm2_crl(ca, ca_key, this_update=SIGNED - DAY, next_update=SIGNED + 7 * DAY),
        sm2.make_sm2_crl(root, root_key, this_update=SIGNED - DAY, next_update=SIGNED + 90 * DAY),
    )
    return World(root, root_key, ca, ca_key, signer, signer_key, maker, maker_key, crls,
                 ses.SesTrust(roots=(root,), intermediates=(ca,)))  # fmt: skip


def _seal(w: World, **kw: Any) -> bytes:
    args: dict[str, Any] = {
        "es_id": "37010000123456", "name": "行政审批专用章", "certificates": [w.signer], "picture_png": PNG,
        "width_mm": 42, "height_mm": 42, "valid_start": NOW - YEAR, "valid_end": NOW + YEAR,
        "maker_cert": w.maker, "maker_key": w.maker_key, "created": NOW - YEAR,
    }  # fmt: skip
    args.update(kw)
    return ses.make_seal(**args)


def _sign(w: World, seal: bytes | None = None, **kw: Any) -> bytes:
    args: dict[str, Any] = {
        "seal": seal if seal is not None else _seal(w), "signer_cert": w.signer, "signer_key": w.signer_key,
        "at": SIGNED, "property_info": "licence.qr.txt", "crls": w.crls,
    }  # fmt: skip
    args.update(kw)
    return ses.sign_document(DOC, **args)


def _verify(w: World, data: bytes, document: bytes | None = DOC, **kw: Any) -> Any:
    args: dict[str, Any] = {"trust": w.trust, "at": NOW, "algorithms": SM2_ONLY}
    args.update(kw)
    return seal_verify.verify_signature(data, document=document, **args)


# -- structures ------------------------------------------------------------------------------


def test_seal_round_trip_both_list_types(w: World) -> None:
    seal = ses.parse_seal(_seal(w))
    assert (seal.es_id, seal.name, seal.seal_type, seal.cert_list_type) == ("37010000123456", "行政审批专用章", 1, 1)
    assert seal.certs == (sm2.certificate_der(w.signer),)
    assert seal.picture == PNG and seal.picture_type == "PNG" and seal.width_mm == 42
    assert seal.valid_start == NOW - YEAR
    digest = ses.parse_seal(_seal(w, cert_list_type=ses.CERT_LIST_DIGESTS))
    assert digest.cert_list_type == 2
    assert digest.cert_digests == (("SM3", sm2.sm3(sm2.certificate_der(w.signer))),)


def test_signature_round_trip_and_reencoding(w: World) -> None:
    der = _sign(w, time_stamp=b"\x30\x03\x02\x01\x01")
    sig = ses.parse_signature(der)
    assert sig.version == 4 and sig.time_info == SIGNED and sig.property_info == "licence.qr.txt"
    assert sig.data_hash == sm2.sm3(DOC) and len(sig.crls) == 2 and sig.time_stamp == b"\x30\x03\x02\x01\x01"
    from elicense.seal import der as d

    assert d.all_minimal(d.parse(der)) and not sig.deviations  # DER, and nothing off-standard
    assert ses.looks_like_ses_signature(der)
    assert not ses.looks_like_ses_signature(b"EL2:ABC")


def test_real_seal_picture_is_embedded(w: World) -> None:
    from elicense.seal import SealSpec, render_seal_png

    png = render_seal_png(SealSpec(authority_name="济南市行政审批服务局", seal_name="行政审批专用章", dpi=72))
    assert ses.parse_seal(_seal(w, picture_png=png)).picture == png


def test_builder_refuses_signer_outside_the_seal(w: World) -> None:
    with pytest.raises(CryptoError):
        _sign(w, seal=_seal(w, certificates=[w.maker]))


# -- verification, step by step ----------------------------------------------------------------


def test_valid_signature_in_standard_order(w: World) -> None:
    result = _verify(w, _sign(w))
    assert result.valid, result.to_dict()
    names = [c.name for c in result.checks]
    assert names == ["format", "algorithm", "signature", "seal_signature", "seal_validity", "signer_in_seal",
                     "signer_certificate", "seal_maker_certificate", "revocation", "timestamp",
                     "document_digest"]  # fmt: skip
    assert result.kind == "ses"


def test_valid_with_digest_cert_list(w: World) -> None:
    assert _verify(w, _sign(w, seal=_seal(w, cert_list_type=ses.CERT_LIST_DIGESTS))).valid


def test_1_malformed(w: World) -> None:
    der = _sign(w)
    assert _verify(w, der[:-5]).has_reason("ses_malformed")
    assert _verify(w, der + b"\x00").has_reason("ses_malformed")


def test_algorithm_must_be_allowed(w: World) -> None:
    res = _verify(w, _sign(w), algorithms=AlgorithmPolicy.default())
    assert res.has_reason("algorithm_not_allowed")


def test_2_signature_over_tbs(w: World) -> None:
    der = bytearray(_sign(w))
    i = der.find(b"licence.qr.txt")
    der[i] ^= 0x01  # still a valid IA5String: the structure parses, the signature does not verify
    assert _verify(w, bytes(der)).has_reason("signature_invalid")


def test_3_signer_not_in_seal(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ses, "cert_in_seal", lambda *_a: True)
    der = _sign(w, seal=_seal(w, certificates=[w.maker]))
    monkeypatch.undo()
    assert _verify(w, der).has_reason("ses_signer_not_in_seal")


def test_4_seal_maker_signature(w: World) -> None:
    seal = bytearray(_seal(w))
    i = seal.find(PNG)
    seal[i + len(PNG) - 1] ^= 0x01  # alter the picture after the maker signed
    res = _verify(w, _sign(w, seal=bytes(seal)))
    assert res.has_reason("ses_seal_signature_invalid")


def test_5_seal_validity_window(w: World) -> None:
    expired = _seal(w, valid_start=NOW - YEAR, valid_end=SIGNED - DAY)
    assert _verify(w, _sign(w, seal=expired)).has_reason("ses_seal_expired")
    early = _seal(w, valid_start=SIGNED + DAY, valid_end=NOW + YEAR)
    assert _verify(w, _sign(w, seal=early)).has_reason("ses_seal_not_yet_valid")


def test_6_certificate_validity_at_signing_time(w: World) -> None:
    res = _verify(w, _sign(w, at=NOW - 2 * YEAR))  # before the signer certificate's notBefore
    assert res.has_reason("certificate_not_yet_valid")


def test_6_certificate_revoked(w: World) -> None:
    crl = sm2.make_sm2_crl(
        w.ca, w.ca_key, this_update=SIGNED - DAY, next_update=SIGNED + 7 * DAY,
        revoked=[(w.signer.serial_number, SIGNED - 2 * DAY)],
    )  # fmt: skip
    res = _verify(w, _sign(w, crls=(crl, w.crls[1])))
    assert res.has_reason("ses_certificate_revoked")


def test_6_revocation_unknown_and_forged_crl(w: World) -> None:
    assert _verify(w, _sign(w, crls=())).has_reason("ses_revocation_unknown")
    forged = sm2.make_sm2_crl(w.ca, w.signer_key, this_update=SIGNED - DAY, next_update=SIGNED + DAY)
    assert _verify(w, _sign(w, crls=(forged, w.crls[1]))).has_reason("ses_revocation_unknown")
    stale = sm2.make_sm2_crl(w.ca, w.ca_key, this_update=SIGNED - 30 * DAY, next_update=SIGNED - 20 * DAY)
    assert _verify(w, _sign(w, crls=(stale, w.crls[1]))).has_reason("ses_revocation_unknown")
    # the verifier's own CRLs count too
    res = _verify(w, _sign(w, crls=()), trust=replace(w.trust, crls=w.crls))
    assert res.valid, res.to_dict()


def test_6_untrusted_chain_is_indeterminate(w: World) -> None:
    other = sm2.Sm2PrivateKey.generate()
    other_root = sm2.make_sm2_root(other, "他人根", not_before=NOW - YEAR, not_after=NOW + YEAR)
    res = _verify(w, _sign(w), trust=ses.SesTrust(roots=(other_root,), intermediates=(w.ca,)))
    assert res.has_reason("ses_certificate_untrusted")
    assert res.status.value == "INDETERMINATE"


def test_8_document_digest(w: World) -> None:
    der = _sign(w)
    assert _verify(w, der, document=DOC + b" ").has_reason("ses_document_mismatch")
    missing = _verify(w, der, document=None)
    assert missing.has_reason("ses_document_missing") and missing.status.value == "INDETERMINATE"


def test_signed_in_future(w: World) -> None:
    assert _verify(w, _sign(w, at=NOW + DAY)).has_reason("signed_in_future")


# -- elicense verify -------------------------------------------------------------------------


def test_verify_bytes_finds_the_sibling_document(tmp_path: Path) -> None:
    from elicense.cli.sm2 import build_sm2_demo
    from elicense.verify import Verifier
    from elicense.verify.inputs import verify_bytes

    demo = build_sm2_demo(tmp_path, now=NOW, images=False)
    verifier = Verifier.from_trust_file(demo.trust_file, algorithms=["ES256", "SM2"])
    data = demo.signature_file.read_bytes()
    (res,) = verify_bytes(verifier, data, at=NOW, source=demo.signature_file)
    assert res.valid, res.to_dict()
    assert res.licence is not None and res.issuer is not None  # the sealed payload verified too
    assert any(c.name == "licence.signature" for c in res.checks)
    # no source: the document cannot be found
    (res,) = verify_bytes(verifier, data, at=NOW)
    assert res.has_reason("ses_document_missing")
    # the document changed after sealing
    demo.payload_file.write_bytes(demo.payload_file.read_bytes() + b"\n")
    (res,) = verify_bytes(verifier, data, at=NOW, source=demo.signature_file)
    assert res.has_reason("ses_document_mismatch")
    # SM2 is off by default
    (res,) = verify_bytes(Verifier.from_trust_file(demo.trust_file), data, at=NOW, source=demo.signature_file)
    assert res.has_reason("algorithm_not_allowed")


def test_property_info_cannot_escape_the_directory(w: World, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_bytes(DOC)
    sub = tmp_path / "in"
    sub.mkdir()
    der = _sign(w, property_info="../secret.txt")
    assert not seal_verify._safe_name("../secret.txt") and not seal_verify._safe_name("/etc/passwd")

    class _V:
        trust = type("T", (), {"roots": (w.root,), "keys": {}})()
        algorithms = SM2_ONLY

        @staticmethod
        def clock() -> dt.datetime:
            return NOW

    res = seal_verify.verify_ses_input(_V(), der, at=NOW, source=sub / "x.ses")
    assert res.has_reason("ses_document_missing")


def test_cli_sm2_demo_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from elicense.cli import run

    out = tmp_path / "w"
    assert run(["sm2", "demo", str(out), "--at", "2026-06-01T08:00:00+00:00"]) == 0
    assert run(["sm2", "demo", str(out)]) == 3  # not empty, no --force
    lic = out / "licences"
    files = [str(lic / "business-licence-sm2.qr.txt"), str(lic / "business-licence-sm2.qr.txt.ses")]
    opts = ["--trust", str(out / "trust-bundle.json"), "--at", "2026-06-01T08:00:00+00:00", "--json"]
    capsys.readouterr()
    assert run(["sm2", "verify", *files, *opts]) == 0
    text = capsys.readouterr().out
    assert text.count('"status": "VALID"') == 2 and '"kind": "ses"' in text
    assert run(["verify", *files, *opts]) == 1  # plain `elicense verify`: SM2 is not on the default allow-list
    assert "algorithm_not_allowed" in capsys.readouterr().out


def test_detached_seal_over_pdf_bytes(w: World, tmp_path: Path) -> None:
    """Any document works (a licence PDF here): the seal covers its SM3 digest, found by file name."""
    pdf = b"%PDF-1.7\n% licence\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
    (tmp_path / "licence.pdf").write_bytes(pdf)
    der = ses.sign_document(pdf, seal=_seal(w), signer_cert=w.signer, signer_key=w.signer_key, at=SIGNED,
                            property_info="licence.pdf", crls=w.crls)  # fmt: skip
    (tmp_path / "licence.pdf.ses").write_bytes(der)

    class _V:
        trust = type("T", (), {"roots": (w.root,), "keys": {}})()
        algorithms = SM2_ONLY

        @staticmethod
        def clock() -> dt.datetime:
            return NOW

    from elicense.verify.inputs import verify_bytes

    (res,) = verify_bytes(_V(), der, at=NOW, source=tmp_path / "licence.pdf.ses")  # type: ignore[arg-type]
    assert res.has_reason("ses_certificate_untrusted")  # the CA is not an intermediate of this bare trust
    res = seal_verify.verify_signature(der, document=pdf, trust=w.trust, at=NOW, algorithms=SM2_ONLY)
    assert res.valid
    (tmp_path / "licence.pdf").write_bytes(pdf.replace(b"licence", b"LICENCE"))
    res = seal_verify.verify_ses_input(_V(), der, at=NOW, source=tmp_path / "licence.pdf.ses")
    assert res.has_reason("ses_document_mismatch")
