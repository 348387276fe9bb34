"""Seals interoperate with real ones: the real-world corpus (oracle: its EXPECTED.md), ofdrw, gmalglib.

Every cryptographic verdict elicense gives on a corpus file (each signature, each digest) is
compared with what the two independent references recorded in ``EXPECTED.md``, and each
signature is re-checked with gmalglib over the exact bytes elicense says it covers. Where
elicense is stricter than ofdrw (expired seal or certificate, untrusted seal maker, no
revocation data) the result must name the reason. Everything elicense makes is checked by
ofdrw (``seal-info``): both signatures VALID, DER canonical.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tongsuopy")

import ses_support as sx
from elicense.crypto import keys, sm2
from elicense.seal import api, ses
from elicense.seal import verify as seal_verify
from elicense.seal.inspect import inspect_bytes

ZERO = b"\x00" * 32


def _trust(**kw: Any) -> ses.SesTrust:
    """ROOT trusted for signers, and as the CA of the ofdrw test seal-making system."""
    root = sx.root_cert()
    base = ses.SesTrust(roots=(root,), seal_makers=(ses.SealMaker("ofdrw test seal CA", root, "ca"),))
    return dataclasses.replace(base, **kw)


def _checks(v: Any) -> dict[str, str]:
    return {c.name: str(c.outcome) for c in v.checks}


# -- seals (SESeal) ----------------------------------------------------------------------------

SEALS = {
    # file: (version, name, vid, picture (type, bytes, w, h), validity, maker layout)
    "gm__UserV1.esl": (1, "OFDRW测试用印章", "OFDR&WTest", ("PNG", 15693, 40, 40),
                       ("2020-04-22T02:18:07", "2022-04-22T02:18:07"),
                       "DER(SEQUENCE{SES_SealInfo, cert, signatureAlgorithm})"),
    "ofdrw__UserV4.esl": (4, "OFD R&W 测试用印章", "OFDR&WTest", ("PNG", 15693, 40, 40),
                          ("2020-04-22T02:09:00", "2022-04-22T02:09:00"), "DER(SES_SealInfo)"),
    "gm__UserV5.esl": (5, "OFD R&W V5测试用印章", "OFDR&WTestV5", ("PNG", 15693, 40, 40),
                       ("2026-04-24T08:53:23", "2028-04-24T08:53:23"), "DER(SES_SealInfo)"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SEALS))
def test_corpus_seal_agrees_with_expected(name: str) -> None:
    version, title, vid, picture, (start, end), layout = SEALS[name]
    data = (sx.corpus() / "seals" / name).read_bytes()
    seal = ses.parse_seal(data)
    assert (seal.version, seal.name, seal.vid) == (version, title, vid)
    assert (seal.picture_type, len(seal.picture), seal.width_mm, seal.height_mm) == picture
    assert seal.valid_start.isoformat().startswith(start) and seal.valid_end.isoformat().startswith(end)
    assert seal.cert_list_type == 1 and len(seal.certs) == 1 and seal.deviations == ()
    # the maker's signature: VALID over the standard's layout, INVALID over the other one — gmalglib agrees
    assert seal.covers.layout == layout
    assert sx.gm_verify(seal.maker_cert, seal.signed_value, seal.covers.data)
    assert seal.alternative is not None and not sx.gm_verify(seal.maker_cert, seal.signed_value,
                                                             seal.alternative.data)  # fmt: skip
    res = seal_verify.verify_seal(data, trust=_trust(), at=sx.NOW)
    assert _checks(res)["seal_signature"] == "PASSED"
    assert res.checks[[c.name for c in res.checks].index("seal_signature")].detail == f"over {layout}"
    report = inspect_bytes(data)
    assert report["seal"]["maker_signature"]["verifies"] is True and report["der"] == "canonical"
    assert report["seal"]["maker_signature"]["covers"]["layout"] == layout


def test_corpus_seal_verdicts_name_what_ofdrw_does_not_check() -> None:
    seals = sx.corpus() / "seals"
    v4 = seal_verify.verify_seal((seals / "ofdrw__UserV4.esl").read_bytes(), trust=_trust(), at=sx.NOW)
    assert v4.has_reason("ses_seal_expired")  # 2022: expired (ofdrw only shows it)
    v5 = seal_verify.verify_seal((seals / "gm__UserV5.esl").read_bytes(), trust=_trust(), at=sx.NOW)
    assert not v5.has_reason("ses_seal_expired")
    assert v5.has_reason("certificate_expired")  # made in 2026 with a maker certificate that expired in 2022
    untrusted = seal_verify.verify_seal(
        (seals / "gm__UserV5.esl").read_bytes(), trust=_trust(seal_makers=()), at=sx.NOW
    )
    assert untrusted.has_reason("ses_seal_maker_untrusted")


# -- signatures (SignedValue.dat) ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "version"), [("gm__SignedValueV4.dat", 4), ("gm__SignedValueV5.dat", 5)])
def test_corpus_signature_agrees_with_expected(name: str, version: int) -> None:
    data = (sx.corpus() / "signatures" / name).read_bytes()
    sig = ses.parse_signature(data)
    assert sig.version == version and sig.data_hash == ZERO
    assert sig.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert sig.covers.layout == "DER(TBS_Sign)" and sig.time_stamp is None
    assert sx.gm_verify(sig.signer_cert, sig.signature, sig.covers.data)
    assert sig.alternative is not None and not sx.gm_verify(sig.signer_cert, sig.signature, sig.alternative.data)
    assert sx.gm_verify(sig.seal.maker_cert, sig.seal.signed_value, sig.seal.covers.data)
    v4_seal = (sx.corpus() / "seals" / "ofdrw__UserV4.esl").read_bytes()
    assert (sig.seal.der == v4_seal) is (version == 4)  # V5's embedded seal is not gm__UserV5.esl
    res = api.verify_ses(data, data_hash=ZERO, trust=_trust(), at=sx.NOW)
    checks = _checks(res)
    for name_ in ("signature", "seal_signature", "seal_validity", "signer_in_seal", "document_digest"):
        assert checks[name_] == "PASSED", (name_, res.result.to_dict())
    assert res.signer is not None and res.signer.serial == 0x1719D2DAB60
    if version == 5:  # signed 2026-04-24, after the signer certificate expired (2022-04-21)
        assert res.has_reason("certificate_expired")
    assert api.verify_ses(data, data_hash=b"\x01" * 32, trust=_trust(), at=sx.NOW).has_reason("ses_document_mismatch")


def test_raw_sm2_value_is_not_a_seal_signature() -> None:
    """``sign__DigitalSign``: a bare SEQUENCE{r,s}; valid only with the USER key given out of band."""
    data = (sx.corpus() / "signatures" / "sign__DigitalSign__Sign_0.dat").read_bytes()
    assert api.detect(data) == "raw_signature" and inspect_bytes(data)["kind"] == "raw_signature"
    res = api.verify_ses(data, data_hash=None, trust=_trust(), at=sx.NOW)
    assert res.has_reason("ses_malformed") and not res.valid
    ((_, _, xml),) = sx.ofd_signatures(sx.corpus() / "ofd" / "sign__DigitalSign.ofd")
    user = sx.p12_cert("gm__USER.p12", "777777")
    assert user == ses.parse_signature((sx.corpus() / "signatures" / "gm__SignedValueV4.dat").read_bytes()).signer_cert
    from elicense.seal.certs import cert_of

    key = cert_of(user).public_key()
    assert isinstance(key, sm2.Sm2PublicKey) and key.verify(data, xml)
    assert sx.gm_verify(user, data, xml)


# -- signed OFDs: every SignedValue.dat ----------------------------------------------------------

OFD_SIGS = {
    # file: [(kind, dataHash/messageDigest matches Signature.xml)] per Sign_N
    "sign__allprotected.ofd": [("signature", True)],
    "sign__v4signed.ofd": [("signature", True)],
    "reader__SESV4SignDoc.ofd": [("signature", True)],
    "converter__testImageNotFound.ofd": [("signed_data", True), ("signed_data", True)],
    "converter__h.ofd": [("signature", True), ("signature", True)],
    "generated_here/ofdrw-signed-here.ofd": [("signature", True)],
    "generated_here/ofdrw-written-signed.ofd": [("signature", True)],
    "made_with_tool/tool__yyzz_v4.ofd": [("signature", True)],
    "made_with_tool/tool__spjy_v5.ofd": [("signature", True)],
    "made_with_tool/tool__jsz_v1.ofd": [("signature", True)],
    "made_with_tool/tool__yyzz_v4__tampered_content.ofd": [("signature", True)],  # content.xml: a Reference, not dataHash
    "made_with_tool/tool__yyzz_v4__swapped_signedvalue.ofd": [("signature", False)],
    "generated_here/ofdrw-written.ofd": [],
    "sign__DigitalSign.ofd": [("raw_signature", True)],  # see test_raw_sm2_value_is_not_a_seal_signature
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(OFD_SIGS))
def test_corpus_ofd_signatures_agree_with_expected(name: str) -> None:
    sigs = sx.ofd_signatures(sx.corpus() / "ofd" / name)
    assert [api.detect(d) for _, d, _ in sigs] == [k for k, _ in OFD_SIGS[name]]
    res: Any
    for (entry, data, xml), (kind, digest_ok) in zip(sigs, OFD_SIGS[name], strict=True):
        if kind == "raw_signature":
            assert api.verify_ses(data, data_hash=sm2.sm3(xml), trust=_trust(), at=sx.NOW).has_reason("ses_malformed")
            continue
        if kind == "signature":
            res = api.verify_ses(data, data_hash=sm2.sm3(xml), trust=_trust(), at=dt.datetime.now(dt.UTC))
            sig = res.signature
            assert sig is not None and sig.property_info.endswith(entry.replace("SignedValue.dat", "Signature.xml"))
            assert sx.gm_verify(sig.signer_cert, sig.signature, sig.covers.data)  # gmalglib, same bytes
            assert sx.gm_verify(sig.seal.maker_cert, sig.seal.signed_value, sig.seal.covers.data)
            covered = [res.seal.covers.data] if res.seal else []
            assert covered
        else:
            res = api.verify_signed_data(data, content=xml, trust=_trust(), at=dt.datetime.now(dt.UTC))
            sd = res.signed_data
            assert sd is not None and sd.signer_cert is not None
            assert sx.gm_verify(sd.signer_cert, sd.signature, sd.covers.data)
        checks = _checks(res)
        assert checks["signature"] == "PASSED", (entry, res.result.to_dict())
        assert checks.get("seal_signature", "PASSED") == "PASSED"
        assert checks["document_digest"] == ("PASSED" if digest_ok else "FAILED")
        assert not res.valid or kind == "none"  # no corpus signature is fully trusted: each names why


def test_stricter_than_ofdrw_names_the_reason() -> None:
    ofd = sx.corpus() / "ofd"
    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)

    def verify(name: str, index: int = 0, **kw: Any) -> api.SesVerification:
        _, data, xml = sx.ofd_signatures(ofd / name)[index]
        return api.verify_ses(data, data_hash=sm2.sm3(xml), trust=_trust(**kw), at=now)

    # in period: only the missing revocation data keeps it from VALID — and a verifier may waive that
    inperiod = verify("sign__allprotected.ofd")
    assert [r.code for r in inperiod.reasons] == ["ses_revocation_unknown", "ses_revocation_unknown"]
    assert verify("sign__allprotected.ofd", require_revocation=False).valid
    # signed after the seal and the signer certificate expired: ofdrw says VALID, elicense names both
    late = verify("reader__SESV4SignDoc.ofd")
    assert late.has_reason("ses_seal_expired") and late.has_reason("certificate_expired")
    # v5: seal in period, signer certificate expired
    v5 = verify("made_with_tool/tool__spjy_v5.ofd")
    assert v5.has_reason("certificate_expired") and not v5.has_reason("ses_seal_expired")
    # a tax bureau's seal: neither its seal-making system nor its signer CA is trusted here
    tax = verify("sign__v4signed.ofd")
    assert tax.has_reason("ses_seal_maker_untrusted") and tax.has_reason("ses_certificate_untrusted")
    assert tax.seal is not None and tax.seal.picture_type == "ofd"
    assert any(d.code == "ses_dev_picture_type_case" for d in tax.deviations)
    # seal makers are trusted per entry, optionally per producer id (Vid)
    root = sx.root_cert()
    wrong_vid = (ses.SealMaker("other vendor", root, "ca", frozenset({"GOMAIN"})),)
    assert verify("sign__allprotected.ofd", seal_makers=wrong_vid).has_reason("ses_seal_maker_untrusted")
    assert verify("sign__allprotected.ofd", seal_makers=()).has_reason("ses_seal_maker_untrusted")
    builder = ses.parse_seal((sx.corpus() / "seals" / "ofdrw__UserV4.esl").read_bytes()).maker_cert  # SealBuilder
    pinned = (ses.SealMaker("ofdrw seal builder", builder, "maker", frozenset({"OFDR&WTest"})),)
    assert verify("sign__allprotected.ofd", seal_makers=pinned, require_revocation=False).valid
    # the swapped SignedValue.dat: both signatures fine, the data hash is not
    swapped = verify("made_with_tool/tool__yyzz_v4__swapped_signedvalue.ofd")
    assert swapped.has_reason("ses_document_mismatch")


def test_v1_signature_and_its_text_time() -> None:
    ((_, data, xml),) = sx.ofd_signatures(sx.corpus() / "ofd" / "made_with_tool" / "tool__jsz_v1.ofd")
    res = api.verify_ses(data, data_hash=sm2.sm3(xml), trust=_trust(), at=dt.datetime.now(dt.UTC))
    assert res.signature is not None and res.signature.version == 1 and res.seal is not None
    assert res.seal.covers.layout.startswith("DER(SEQUENCE{SES_SealInfo")
    assert [d.code for d in res.deviations] == ["ses_dev_time_text"]
    assert _checks(res)["deviation.ses_dev_time_text"] == "WARNING"
    assert res.has_reason("ses_seal_expired")


def test_signed_data_corpus_cert_refused_by_cryptography_is_still_chain_checked() -> None:
    (_, data, xml), _ = sx.ofd_signatures(sx.corpus() / "ofd" / "converter__testImageNotFound.ofd")
    res = api.verify_signed_data(data, content=xml, trust=_trust(), at=dt.datetime.now(dt.UTC))
    codes = [d.code for d in res.deviations]
    assert "ses_dev_certificate_encoding" in codes and "sd_dev_content_type" in codes
    assert res.has_reason("ses_certificate_untrusted")  # leniency never reaches the trust decision
    assert api.verify_signed_data(data, content=xml + b" ", trust=_trust(), at=sx.NOW).has_reason("sd_digest_mismatch")


# -- what elicense makes: ofdrw and gmalglib verify it -----------------------------------------


def _made() -> dict[str, bytes]:
    from elicense.seal import SealSpec, render_seal_png

    p = sx.pki()
    png = render_seal_png(SealSpec(authority_name="杭州市行政审批服务局", seal_name="行政审批专用章", dpi=72))
    common: dict[str, Any] = {
        "es_id": "33010000000001", "name": "杭州市行政审批服务局行政审批专用章", "certificates": [p.signer],
        "picture_png": png, "width_mm": 42, "height_mm": 42, "valid_start": sx.NOW - sx.YEAR,
        "valid_end": sx.NOW + sx.YEAR, "maker_cert": p.maker, "maker_key": p.maker_key, "created": sx.NOW - sx.YEAR,
    }  # fmt: skip
    seal = ses.make_seal(**common)
    digests = ses.make_seal(**{**common, "cert_list_type": ses.CERT_LIST_DIGESTS, "seal_type": 2})
    signer = keys.Sm2Signer(p.signer_key, p.signer, (p.ca,))
    xml_hash = sm2.sm3(b"<ofd:Signature/>")
    return {
        "seal.esl": seal,
        "seal_digests.esl": digests,
        "plain.dat": api.sign_ses(xml_hash, "/Doc_0/Signs/Sign_0/Signature.xml", seal, signer, sx.SIGNED),
        "with_crls.dat": api.sign_ses(
            xml_hash, "/Doc_0/Signs/Sign_0/Signature.xml", seal, signer, sx.SIGNED, crls=p.crls
        ),
        "with_timestamp.dat": api.sign_ses(
            xml_hash, "/Doc_0/Signs/Sign_1/Signature.xml", seal, signer, sx.SIGNED, time_stamp=b"\x30\x03\x02\x01\x01"
        ),
        "digest_list.dat": api.sign_ses(xml_hash, "/Doc_0/Signs/Sign_0/Signature.xml", digests, signer, sx.SIGNED),
    }


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path_factory.mktemp("made")
    files = _made()
    for name, data in files.items():
        (out / name).write_bytes(data)
    return out, files


def test_ofdrw_verifies_everything_elicense_makes(made: tuple[Path, dict[str, bytes]]) -> None:
    out, files = made
    proc = sx.run_ofdrw("seal-info", *(str(out / n) for n in sorted(files)))
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == len(files), proc.stdout + proc.stderr
    for line in lines:
        assert "der=canonical" in line, line
        if line.split(":")[0].endswith(".esl"):
            assert " SEAL v4 " in line and "maker_sig=VALID" in line and "DER(SES_SealInfo)" in line, line
        else:
            assert " SIGNATURE v4 " in line and "signer_sig=VALID" in line and "maker_sig=VALID" in line, line
            assert "signer_signed_bytes=DER(TBS_Sign)" in line, line


def test_gmalglib_verifies_what_elicense_makes(made: tuple[Path, dict[str, bytes]]) -> None:
    _, files = made
    for name, data in files.items():
        if name.endswith(".esl"):
            seal = ses.parse_seal(data)
            assert sx.gm_verify(seal.maker_cert, seal.signed_value, seal.covers.data)
            assert seal.covers.data == data[seal.covers.ranges[0][0] : seal.covers.ranges[0][1]]
            continue
        sig = ses.parse_signature(data)
        assert sig.deviations == () and sig.covers.layout == "DER(TBS_Sign)"
        assert sx.gm_verify(sig.signer_cert, sig.signature, sig.covers.data)
        assert sx.gm_verify(sig.seal.maker_cert, sig.seal.signed_value, sig.seal.covers.data)


def test_what_elicense_makes_verifies_in_order(made: tuple[Path, dict[str, bytes]]) -> None:
    _, files = made
    p = sx.pki()
    trust = ses.SesTrust(roots=(p.root,), intermediates=(p.ca,), crls=p.crls)
    res = api.verify_ses(files["with_crls.dat"], data_hash=sm2.sm3(b"<ofd:Signature/>"), trust=trust, at=sx.NOW)
    assert res.valid, res.result.to_dict()
    assert [c.name for c in res.checks] == [
        "format", "algorithm", "signature", "seal_signature", "seal_validity", "signer_in_seal",
        "signer_certificate", "seal_maker_certificate", "revocation", "timestamp", "document_digest",
    ]  # fmt: skip
    assert api.verify_ses(files["digest_list.dat"], data_hash=sm2.sm3(b"<ofd:Signature/>"), trust=trust,
                          at=sx.NOW).valid  # fmt: skip
    stamped = api.verify_ses(files["with_timestamp.dat"], data_hash=sm2.sm3(b"<ofd:Signature/>"), trust=trust,
                             at=sx.NOW)  # fmt: skip
    assert stamped.has_reason("ses_timestamp_invalid")  # not a TimeStampToken: said, not ignored


def test_demo_world_seals_pass_ofdrw(tmp_path: Path) -> None:
    """Every seal and signature of `elicense sm2 demo` passes ofdrw's seal-info."""
    from elicense.cli.sm2 import build_sm2_demo

    demo = build_sm2_demo(tmp_path, now=sx.NOW, images=False)
    proc = sx.run_ofdrw("seal-info", str(demo.seal_file), str(demo.signature_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("maker_sig=VALID") == 2 and proc.stdout.count("signer_sig=VALID") == 1


# -- GB/T 35275 SignedData made here -------------------------------------------------------------


def test_signed_data_made_here_round_trip_and_gmalglib() -> None:
    p = sx.pki()
    signer = keys.Sm2Signer(p.signer_key, p.signer, (p.ca,))
    content = b"<ofd:Signature>...</ofd:Signature>"
    der = api.sign_signed_data(content, signer, sx.SIGNED)
    parsed = api.parse_signed_data(der)
    assert parsed.deviations == () and parsed.message_digest == sm2.sm3(content)
    assert parsed.signature_alg == "1.2.156.10197.1.301.1" and parsed.signing_time == sx.SIGNED
    assert sx.gm_verify(sm2.certificate_der(p.signer), parsed.signature, parsed.covers.data)
    assert parsed.covers.data[0] == 0x31  # the attributes are signed as a SET OF
    trust = ses.SesTrust(roots=(p.root,), crls=p.crls)
    res = api.verify_signed_data(der, content=content, trust=trust, at=sx.NOW)
    assert res.valid, res.result.to_dict()
    assert api.verify_signed_data(der, content=content + b"x", trust=trust, at=sx.NOW).has_reason("sd_digest_mismatch")
    assert inspect_bytes(der)["signature"]["verifies"] is True


# -- seal inspect --------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elicense.cli", *args], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_seal_inspect_on_every_corpus_file_and_what_elicense_makes(made: tuple[Path, dict[str, bytes]],
                                                                    tmp_path: Path) -> None:  # fmt: skip
    c = sx.corpus()
    files = [*sorted((c / "seals").iterdir()), *sorted((c / "signatures").iterdir())]
    for ofd in sorted((c / "ofd").rglob("*.ofd")):
        for i, (_, data, _) in enumerate(sx.ofd_signatures(ofd)):
            files.append(tmp_path / f"{ofd.stem}__{i}.dat")
            files[-1].write_bytes(data)
    files += sorted(made[0].iterdir())
    proc = _cli("seal", "inspect", "--json", "--lang", "en", *map(str, files))
    assert proc.returncode == 0, proc.stderr
    reports = json.loads(proc.stdout)
    assert len(reports) == len(files)
    for rep in reports:
        assert rep["kind"] in ("seal", "signature", "signed_data", "raw_signature"), rep
        if "seal" in rep:
            assert rep["seal"]["maker_signature"]["verifies"] is True
            assert rep["seal"]["vid"] and rep["seal"]["picture"]["bytes"] > 0
    tax = next(r for r in reports if "sign__v4signed" in r["input"])
    assert tax["seal"]["picture"]["type"] == "ofd" and tax["seal"]["picture"]["content"] == "OFD (zip)"
    assert [d["code"] for d in tax["deviations"]] == ["ses_dev_picture_type_case"]
    zh = _cli("seal", "inspect", str(c / "seals" / "gm__UserV1.esl"))
    assert zh.returncode == 0 and "制章者签名: 有效" in zh.stdout and "GM/T 0031-2014" in zh.stdout
    en = _cli("seal", "inspect", "--lang", "en", str(c / "seals" / "gm__UserV1.esl"))
    assert "maker signature: VALID" in en.stdout and "bytes [4..16385)" in en.stdout


def test_seal_inspect_bad_input_is_typed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.esl"
    bad.write_bytes(b"\x30\x82\xff\xff garbage")
    for args in (["seal", "inspect", str(bad)], ["seal", "inspect", str(tmp_path / "missing.esl")],
                 ["seal", "inspect", "--lang", "en", str(bad)]):  # fmt: skip
        proc = _cli(*args)
        assert proc.returncode == 3 and "Traceback" not in proc.stderr and proc.stderr.strip(), proc.stderr
    proc = _cli("seal", "verify", "--json", str(bad))
    assert proc.returncode == 1 and json.loads(proc.stdout)["reasons"][0]["code"] == "ses_malformed"


def test_seal_verify_cli_with_a_seal_makers_file(tmp_path: Path) -> None:
    from elicense.seal.trustlist import SealMakerPolicy, dump_policy, load_policy

    root = sx.root_cert()
    policy = SealMakerPolicy((ses.SealMaker("ofdrw test seal CA", root, "ca", frozenset({"OFDR&WTest"})),), (root,))
    path = tmp_path / "makers.json"
    path.write_text(dump_policy(policy), encoding="utf-8")
    assert load_policy(path) == policy
    ((_, data, xml),) = sx.ofd_signatures(sx.corpus() / "ofd" / "sign__allprotected.ofd")
    (tmp_path / "sv.dat").write_bytes(data)
    (tmp_path / "Signature.xml").write_bytes(xml)
    args = ["seal", "verify", "--seal-makers", str(path), "--content", str(tmp_path / "Signature.xml"), "--json",
            "--at", "2026-12-07T00:00:00+00:00", str(tmp_path / "sv.dat")]  # fmt: skip
    out = json.loads(_cli(*args).stdout)
    assert [r["code"] for r in out["reasons"]] == ["ses_revocation_unknown", "ses_revocation_unknown"]
    proc = _cli(*args, "--no-revocation")
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "VALID"


def _rezip(src: Path, dst: Path, replace: dict[str, bytes]) -> None:
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))


def test_ofdrw_verify_accepts_elicense_signatures_inside_real_ofds(tmp_path: Path) -> None:
    """End to end in ofdrw's own OFD validator: an elicense SES v4 signature (with an elicense seal) and an
    elicense GB/T 35275 SignedData replace the real ones of two corpus OFDs."""
    import base64
    import re
    import zipfile

    p = sx.pki()
    signer = keys.Sm2Signer(p.signer_key, p.signer, (p.ca,))
    files = _made()
    # SES: new Seal.esl (its protected digest updated in Signature.xml), new SignedValue.dat over that Signature.xml
    src = sx.corpus() / "ofd" / "made_with_tool" / "tool__yyzz_v4.ofd"
    with zipfile.ZipFile(src) as z:
        xml = z.read("Doc_0/Signs/Sign_0/Signature.xml").decode("utf-8")
    seal = files["seal.esl"]
    new_check = base64.b64encode(sm2.sm3(seal)).decode()
    xml2, count = re.subn(r'(FileRef="/Doc_0/Signs/Sign_0/Seal.esl"><ofd:CheckValue>)[^<]+', rf"\g<1>{new_check}", xml)
    assert count == 1
    xml_bytes = xml2.encode("utf-8")
    sv = api.sign_ses(sm2.sm3(xml_bytes), "/Doc_0/Signs/Sign_0/Signature.xml", seal, signer, sx.SIGNED)
    ses_ofd = tmp_path / "elicense-ses.ofd"
    _rezip(src, ses_ofd, {"Doc_0/Signs/Sign_0/Seal.esl": seal, "Doc_0/Signs/Sign_0/Signature.xml": xml_bytes,
                          "Doc_0/Signs/Sign_0/SignedValue.dat": sv})  # fmt: skip
    # GB/T 35275: the last signature (nothing protects its SignedValue.dat) re-signed by elicense
    src2 = sx.corpus() / "ofd" / "converter__testImageNotFound.ofd"
    with zipfile.ZipFile(src2) as z:
        xml_1 = z.read("Doc_0/Signs/Sign_1/Signature.xml")
    sd_ofd = tmp_path / "elicense-signeddata.ofd"
    _rezip(src2, sd_ofd, {"Doc_0/Signs/Sign_1/SignedValue.dat": api.sign_signed_data(xml_1, signer, sx.SIGNED)})
    proc = sx.run_ofdrw("verify", str(ses_ofd), str(sd_ofd))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{ses_ofd}: VALID SESV4" in proc.stdout and f"{sd_ofd}: VALID GBT35275" in proc.stdout, proc.stdout
    # and a tampered one is refused by ofdrw too (the data hash no longer matches)
    bad = tmp_path / "elicense-ses-bad.ofd"
    _rezip(ses_ofd, bad, {"Doc_0/Signs/Sign_0/Signature.xml": xml_bytes.replace(b"Sign_0", b"Sign_0 ", 1)})
    assert sx.run_ofdrw("verify", str(bad)).returncode == 1


REFERENCE_MISMATCHES = {  # EXPECTED.md: the only Reference digests that do not match
    "converter__h.ofd": {("Doc_0/Signs/Sign_0/Signature.xml", "/Doc_0/Signs/Signatures.xml")},
    "made_with_tool/tool__yyzz_v4__tampered_content.ofd": {
        ("Doc_0/Signs/Sign_0/Signature.xml", "/Doc_0/Pages/Page_0/Content.xml")},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(OFD_SIGS))
def test_corpus_reference_digests_agree_with_expected(name: str) -> None:
    """The other digests of a signed OFD (each protected file's CheckValue, SM3) — read here only to show the
    corpus verdicts: the OFD carrier implements them. Every mismatch is the one EXPECTED.md names."""
    import base64
    import re
    import zipfile

    found = set()
    with zipfile.ZipFile(sx.corpus() / "ofd" / name) as z:
        for entry in sorted(n for n in z.namelist() if n.endswith("/Signature.xml")):
            xml = z.read(entry).decode("utf-8")
            method = re.search(r'CheckMethod="([^"]*)"', xml)
            assert method is None or method.group(1) in ("1.2.156.10197.1.401", "SM3"), method
            refs = re.findall(r'FileRef="([^"]+)"\s*>\s*<ofd:CheckValue>([^<]+)<', xml)
            assert refs, entry
            for path, value in refs:
                if sm2.sm3(z.read(path.lstrip("/"))) != base64.b64decode(value):
                    found.add((entry, path))
    assert found == REFERENCE_MISMATCHES.get(name, set())


def test_seal_inspect_opens_ofd_packages(tmp_path: Path) -> None:
    ofd = sx.corpus() / "ofd"
    proc = _cli("seal", "inspect", "--json", str(ofd / "converter__testImageNotFound.ofd"),
                str(ofd / "made_with_tool" / "tool__jsz_v1.ofd"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    reports = json.loads(proc.stdout)
    assert sorted((Path(r["input"].split("!")[0]).name, r["input"].split("!")[1], r["kind"])
                  for r in reports) == [  # (package, member, kind)
        ("converter__testImageNotFound.ofd", "Doc_0/Signs/Sign_0/SignedValue.dat", "signed_data"),
        ("converter__testImageNotFound.ofd", "Doc_0/Signs/Sign_1/SignedValue.dat", "signed_data"),
        ("tool__jsz_v1.ofd", "Doc_0/Signs/Sign_0/Seal.esl", "seal"),
        ("tool__jsz_v1.ofd", "Doc_0/Signs/Sign_0/SignedValue.dat", "signature"),
    ]  # fmt: skip
    unsigned = _cli("seal", "inspect", str(ofd / "generated_here" / "ofdrw-written.ofd"))
    assert unsigned.returncode == 3 and unsigned.stderr.count("\n") == 1 and "Traceback" not in unsigned.stderr
    bad = tmp_path / "bad.ofd"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    proc = _cli("seal", "inspect", str(bad))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr


def test_bundle_seal_makers_section_lets_every_relying_party_trust_another_vendor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``elicense bundle --seal-makers FILE`` signs a seal-makers policy into the offline bundle: a kiosk that
    only has the bundle then trusts that vendor's seal-making system (here ofdrw's, pinned for its Vid) and
    signer root, without any local file; without the section the same OFD names the untrusted maker."""
    import base64

    from elicense.cli import run
    from elicense.crypto.algorithms import Algorithm
    from elicense.demo import build_demo
    from elicense.ofd.verify import verify_ofd
    from elicense.verify import Verifier

    ofd = (sx.corpus() / "ofd" / "sign__allprotected.ofd").read_bytes()
    now = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
    world = build_demo(
        tmp_path / "w", now=now, seed=b"seal-makers-section", images=False, pdf=False, algorithm=Algorithm.SM2
    )
    builder = ses.parse_seal((sx.corpus() / "seals" / "ofdrw__UserV4.esl").read_bytes()).maker_cert
    makers = tmp_path / "makers.json"
    makers.write_text(json.dumps({
        "format": "elicense-seal-makers/1",
        "seal_makers": [{"name": "ofdrw seal builder", "role": "maker", "vids": ["OFDR&WTest"],
                         "certificate": base64.b64encode(builder).decode()}],
        "signer_roots": [base64.b64encode(sx.root_cert()).decode()],
    }))  # fmt: skip

    def reasons(bundle: Path) -> set[str]:
        verifier = Verifier.from_bundle(bundle, algorithms=["SM2"])
        return {r.code for r in verify_ofd(verifier, ofd, at=now).reasons}

    plain, with_section = tmp_path / "plain.cose", tmp_path / "makers.cose"
    at = ["--at", now.isoformat()]
    assert run(["bundle", "--home", str(world.home.path), "-o", str(plain), *at]) == 0
    assert (
        run(["bundle", "--home", str(world.home.path), "-o", str(with_section), "--seal-makers", str(makers), *at]) == 0
    )
    assert "ses_seal_maker_untrusted" in reasons(plain) and "ses_certificate_untrusted" in reasons(plain)
    trusted = reasons(with_section)
    assert "ses_seal_maker_untrusted" not in trusted and "ses_certificate_untrusted" not in trusted
    # signed in 2020, inside the seal's and certificates' validity: only ofdrw's missing CRLs remain
    assert trusted == {"ses_revocation_unknown"}

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "elicense-seal-makers/1", "seal_makers": [{"name": "x"}]}')
    refused = tmp_path / "refused.cose"
    capsys.readouterr()
    assert run(["bundle", "--home", str(world.home.path), "-o", str(refused), "--seal-makers", str(bad), *at]) == 3
    assert not refused.exists() and "Traceback" not in capsys.readouterr().err
