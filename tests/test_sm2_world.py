"""Issue 10 end to end: an all-SM2/SM3 world through the normal commands, SM2 trust lists and bundle.

National root, regional CAs, authorities and trust-list operators with SM2 keys
(``elicense demo --alg sm2``) → SM2-signed XML trust lists → SM2-signed bundle →
``elicense issue --alg sm2`` → ``elicense verify`` (refused unless the allow-list has SM2).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tongsuopy")

from elicense.cli import run
from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
from elicense.errors import AlgorithmNotAllowed, TrustError
from elicense.trust.lists import TrustSignatureInvalid

NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
SM2_ONLY = AlgorithmPolicy.of(["SM2"])
ISSUE_FIELDS = {
    "source_id": "SM2-0001", "number": "GM0001", "holder_name": "山东国密测试有限公司",
    "holder_code": "91370102MA3C8K2L65", "issued_on": "2026-05-01", "entity_type": "有限责任公司",
    "legal_representative": "王堃", "registered_capital": "100.00", "capital_currency": "人民币",
    "establishment_date": "2020-01-01", "domicile": "山东省济南市历下区", "business_scope": "密码技术服务",
}  # fmt: skip


@pytest.fixture(scope="module")
def sm2w(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from elicense.demo import build_demo

    out = tmp_path_factory.mktemp("sm2world")
    return build_demo(out, now=NOW, seed=b"sm2-world", images=False, algorithm=Algorithm.SM2)


def _xml(world: Any, region: str = "370000") -> tuple[bytes, Any]:
    from elicense.trust.bundle import read_bundle_file

    bundle = read_bundle_file(world.trust_file, algorithms=SM2_ONLY)
    return bundle.region_xml[region], bundle


def _read_region(data: bytes, bundle: Any, policy: AlgorithmPolicy = SM2_ONLY) -> Any:
    from elicense.trust.lists import digest, read_national_list, read_region_list

    national, _ = read_national_list(bundle.national_xml, roots=[bundle.current_root], algorithms=policy)
    (pointer,) = [p for p in national.pointers if p.region == "370000"]
    pointer = type(pointer)(pointer.region, pointer.location, digest(data), pointer.signer)  # re-pin: test the XML
    return read_region_list(data, pointer=pointer, roots=[bundle.current_root], algorithms=policy)[0]


# -- the world's PKI is SM2 all the way --------------------------------------------------------


def test_everything_is_sm2(sm2w: Any) -> None:
    from elicense.crypto.pki import algorithm_of

    home = sm2w.home
    certs = [*home.root_certificates(), *home.intermediate_certificates(),
             *(home.certificates(a.cert)[0] for a in home.authorities),
             home.certificates("pki/tl-national.pem")[0]]  # fmt: skip
    assert {algorithm_of(c) for c in certs} == {Algorithm.SM2}
    assert {home.signer(a).algorithm for a in home.authorities} == {Algorithm.SM2}
    xml, bundle = _xml(sm2w)
    assert b'Algorithm="urn:elicense:xmldsig:sm2-sm3"' in xml and b"urn:elicense:xmldsig:sm3" in xml
    assert b'Algorithm="urn:elicense:xmldsig:sm2-sm3"' in bundle.national_xml
    from elicense.qr.cose import parse_sign1

    assert parse_sign1(bundle.raw).alg_id == Algorithm.SM2.cose_id == -65537


def test_sm2_lists_verify_only_when_allowed(sm2w: Any) -> None:
    from elicense.trust.bundle import read_bundle_file

    xml, bundle = _xml(sm2w)
    rl = _read_region(xml, bundle)
    assert rl.region == "370000" and {a.name for a in rl.authorities} >= {"济南市行政审批服务局"}
    with pytest.raises(AlgorithmNotAllowed):
        _read_region(xml, bundle, AlgorithmPolicy.default())
    with pytest.raises(AlgorithmNotAllowed):
        _read_region(xml, bundle, AlgorithmPolicy.of(["ES256"]))
    # the bundle itself: refused before any key is touched unless SM2 is allowed
    with pytest.raises(AlgorithmNotAllowed, match="--allow-alg SM2"):
        read_bundle_file(sm2w.trust_file)
    deep = read_bundle_file(sm2w.trust_file, algorithms=SM2_ONLY, deep=True)  # every XML list re-verified
    assert set(deep.region_xml) == {"370000", "320000"}


# -- tampering and wrapping: the strict profile refuses ---------------------------------------


def _resign_free(xml: bytes, old: bytes, new: bytes) -> bytes:
    assert old in xml
    return xml.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("济南市行政审批服务局".encode(), "济南市伪造审批服务局".encode()),  # content changed after signing
        (b"<Type>", b"<Type>1"),  # a licence type added to an authority
        (b'<ds:Reference URI="">', b'<ds:Reference URI="#x">'),  # reference elsewhere
        (b'<ds:DigestMethod Algorithm="urn:elicense:xmldsig:sm3"/>',
         b'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'),
        (b'<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>', b""),
        (b"</ds:Transforms>",
         b'<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"/></ds:Transforms>'),
        (b"</ds:SignedInfo>", b'<ds:Reference URI=""/></ds:SignedInfo>'),  # a second reference
        (b"</ds:Signature>", b"<ds:Object>x</ds:Object></ds:Signature>"),
    ],
)  # fmt: skip
def test_tampered_sm2_list_is_rejected(sm2w: Any, old: bytes | str, new: bytes | str) -> None:
    xml, bundle = _xml(sm2w)
    bad = _resign_free(xml, old, new)  # type: ignore[arg-type]
    with pytest.raises(TrustError):
        _read_region(bad, bundle)


def test_signature_value_and_digest_value_tampering(sm2w: Any) -> None:
    import re

    xml, bundle = _xml(sm2w)
    for tag in (b"SignatureValue", b"DigestValue"):
        m = re.search(rb"<ds:" + tag + rb">([^<]+)<", xml)
        assert m is not None
        raw = bytearray(base64.b64decode(m.group(1)))
        raw[5] ^= 1
        bad = xml.replace(m.group(1), base64.b64encode(bytes(raw)), 1)
        with pytest.raises(TrustSignatureInvalid):
            _read_region(bad, bundle)


def test_wrapping_moved_signature_and_second_copy(sm2w: Any) -> None:
    """XSW: a signed copy hidden elsewhere with forged visible content never verifies."""
    xml, bundle = _xml(sm2w)
    start, end = xml.index(b"<ds:Signature"), xml.index(b"</ds:Signature>") + len(b"</ds:Signature>")
    sig = xml[start:end]
    moved = xml[:start] + xml[end:]
    moved = moved.replace(b"<Authorities>", b"<Authorities>" + sig, 1)  # signature no longer last child of root
    with pytest.raises(TrustError):
        _read_region(moved, bundle)
    original = xml[xml.index(b"<TrustList") :]  # the genuinely signed document ...
    forged = xml.replace("济南市行政审批服务局".encode(), "济南市伪造审批服务局".encode(), 1)
    wrapped = forged.replace(b"</ds:KeyInfo>", original + b"</ds:KeyInfo>", 1)  # ... hidden under forged content
    with pytest.raises(TrustError):
        _read_region(wrapped, bundle)
    commented = xml.replace("济南市行政审批服务局".encode(), "济南市<!---->行政审批服务局".encode(), 1)
    with pytest.raises(TrustError):  # comment injection: refused outright
        _read_region(commented, bundle)


def test_returned_element_is_the_signed_bytes(sm2w: Any) -> None:
    """What the caller reads is re-parsed from the canonical bytes whose SM3 digest was signed."""
    from lxml import etree

    from elicense.crypto.sm2 import sm3
    from elicense.trust.lists import _parse
    from elicense.trust.xmldsig_sm2 import verify_sm2

    xml, bundle = _xml(sm2w)
    from elicense.trust.lists import read_national_list

    national, _ = read_national_list(bundle.national_xml, roots=[bundle.current_root], algorithms=SM2_ONLY)
    (pointer,) = [p for p in national.pointers if p.region == "370000"]
    signed = verify_sm2(_parse(xml), pointer.signer)
    canonical = etree.tostring(signed, method="c14n", exclusive=True)
    digest_b64 = xml.split(b"<ds:DigestValue>")[1].split(b"<")[0]
    assert sm3(canonical) == base64.b64decode(digest_b64)
    assert signed.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is None


def test_c14n_matches_signxml_for_ecdsa_lists(world: Any) -> None:
    """Our enveloped-transform + exclusive c14n gives the bytes signxml digested (same primitive, same rule)."""
    import hashlib

    from elicense.trust.bundle import read_bundle_file
    from elicense.trust.lists import _parse
    from elicense.trust.xmldsig_sm2 import _c14n, _without_signature

    bundle = read_bundle_file(world.trust_file)
    for data in (bundle.national_xml, *bundle.region_xml.values()):
        digest_b64 = data.split(b"<ds:DigestValue>")[1].split(b"<")[0]
        assert hashlib.sha256(_c14n(_without_signature(_parse(data)))).digest() == base64.b64decode(digest_b64)


def test_es256_lists_refused_by_an_sm2_only_verifier(world: Any) -> None:
    from elicense.trust.bundle import read_bundle_file

    with pytest.raises(AlgorithmNotAllowed):
        read_bundle_file(world.trust_file, algorithms=SM2_ONLY)
    bundle = read_bundle_file(world.trust_file)
    from elicense.trust.bundle import verify_xml_lists

    with pytest.raises(AlgorithmNotAllowed):
        verify_xml_lists(bundle.national_xml, bundle.region_xml, root=bundle.current_root, algorithms=SM2_ONLY)


def test_tampered_sm2_bundle_is_rejected(sm2w: Any) -> None:
    from elicense.trust.bundle import load_bundle

    data = bytearray(sm2w.trust_file.read_bytes())
    data[-5] ^= 1  # inside the r‖s signature
    with pytest.raises(TrustSignatureInvalid):
        load_bundle(bytes(data), algorithms=SM2_ONLY)


# -- the normal CLI, end to end ----------------------------------------------------------------


def _fields() -> list[str]:
    return [a for k, v in ISSUE_FIELDS.items() for a in ("--field", f"{k}={v}")]


def test_cli_all_sm2_world(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELICENSE_ALGORITHMS", raising=False)
    out = tmp_path / "w"
    assert run(["demo", str(out), "--alg", "sm2", "--json"]) == 0  # builds and verifies its own samples
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and all(r["text"] == r["image"] == r["expected"] for r in rows)
    assert all(r["seal"] == r["expected"] and r["pdf"] is None for r in rows)  # GB/T 38540 seal, no PDF
    issued = tmp_path / "issued"
    assert run(["issue", "--home", str(out), "--type", "business-licence", "--alg", "sm2", "--out", str(issued),
                "--no-progress", "--json", *_fields()]) == 0  # fmt: skip
    lid = json.loads(capsys.readouterr().out)["id"]
    qr = str(issued / f"{lid}.qr.txt")
    bundle = str(out / "trust-bundle.cose")
    # no flag: SM2 is not on the default allow-list; the SM2-signed bundle is refused with a clear reason
    assert run(["verify", qr, "--trust", bundle, "--lang", "en"]) == 3
    err = capsys.readouterr().err
    assert "signed with SM2" in err and "--allow-alg SM2" in err and "Traceback" not in err
    # with the flag / the environment / the sm2 shortcut: VALID
    assert run(["verify", qr, "--trust", bundle, "--allow-alg", "SM2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["status"] == "VALID" and {"name": "algorithm", "outcome": "PASSED", "detail": "SM2"} in res["checks"]
    monkeypatch.setenv("ELICENSE_ALGORITHMS", "ES256,SM2")
    assert run(["verify", qr, "--trust", bundle]) == 0
    monkeypatch.delenv("ELICENSE_ALGORITHMS")
    assert run(["sm2", "verify", qr, "--trust", bundle]) == 0
    # an ES256-only allow-list refuses the same licence
    assert run(["verify", qr, "--trust", bundle, "--allow-alg", "ES256"]) == 3
    capsys.readouterr()
    # its seal: a detached GB/T 38540 SES_Signature by the same authority, verified by `elicense verify`
    assert run(["sm2", "seal", qr, "--home", str(out)]) == 0
    assert capsys.readouterr().out.strip() == qr + ".ses"
    assert run(["verify", qr + ".ses", "--trust", bundle, "--allow-alg", "SM2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["kind"] == "ses" and res["status"] == "VALID" and res["licence"]["id"] == lid
    assert {"seal_signature", "document_digest", "licence.signature"} <= {c["name"] for c in res["checks"]}
    assert run(["verify", qr + ".ses", "--trust", bundle]) == 3  # SM2 not allowed: refused, never guessed
    capsys.readouterr()
    # tampered signature byte in the SM2 QR payload → INVALID
    from elicense.qr.payload import unwrap, wrap

    raw = bytearray(unwrap(Path(qr).read_text().strip()))
    raw[-3] ^= 1
    (tmp_path / "bad.qr.txt").write_text(wrap(bytes(raw)))
    assert run(["verify", str(tmp_path / "bad.qr.txt"), "--trust", bundle, "--allow-alg", "SM2", "--json"]) == 1
    assert "signature_invalid" in capsys.readouterr().out
    Path(qr).write_text(Path(qr).read_text().replace("EL2:", "EL2: "))  # the sealed document changed
    assert run(["verify", qr + ".ses", "--trust", bundle, "--allow-alg", "SM2", "--json"]) == 1
    assert "ses_document_mismatch" in capsys.readouterr().out


def test_issue_alg_refuses_a_home_of_the_other_suite(
    sm2w: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["issue", "--home", str(sm2w.home.path), "--type", "business-licence", "--no-progress", *_fields()]
    assert run([*args, "--alg", "es256"]) == 3
    assert "no ES256 signing key" in capsys.readouterr().err
    assert run([*args, "--alg", "sm2", "--pdf", str(tmp_path / "pdf")]) == 3  # no SM2 in CMS/PDF signatures
    assert "--pdf" in capsys.readouterr().err


def test_mixed_world_policy_decides(world: Any, sm2w: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """P-256 and SM2 PKIs in one trust file: each licence is accepted only if its algorithm is allowed."""
    from elicense.trust.file import dump_trust_file

    homes = (world.home, sm2w.home)
    mixed = tmp_path / "mixed.json"
    mixed.write_bytes(dump_trust_file(
        roots=[c for h in homes for c in h.root_certificates()],
        intermediates=[c for h in homes for c in h.intermediate_certificates()],
        authorities=[e for h in homes for e in h.trust_entries()],
        issued_at=NOW, next_update=NOW + dt.timedelta(days=30),
    ))  # fmt: skip
    es = tmp_path / "es.qr.txt"
    es.write_text(world.issued["business-licence-jinan"].qr_payload)
    gm = tmp_path / "gm.qr.txt"
    gm.write_text(sm2w.issued["business-licence-jinan"].qr_payload)
    common = ["--trust", str(mixed), "--at", NOW.isoformat(), "--json"]
    assert run(["verify", str(es), str(gm), *common, "--allow-alg", "ES256"]) == 1
    by_input = {json.loads(line)["input"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}
    assert by_input[str(es)]["status"] == "VALID"
    assert by_input[str(gm)]["status"] == "INVALID"
    assert [r["code"] for r in by_input[str(gm)]["reasons"]] == ["algorithm_not_allowed"]
    assert run(["verify", str(es), str(gm), *common, "--allow-alg", "ES256", "--allow-alg", "SM2"]) == 0
    capsys.readouterr()
    assert run(["verify", str(es), str(gm), *common, "--allow-alg", "SM2"]) == 1  # SM2-only: the P-256 one fails
    by_input = {json.loads(line)["input"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}
    assert by_input[str(es)]["status"] == "INVALID" and by_input[str(gm)]["status"] == "VALID"


def test_unknown_algorithm_flag_is_a_usage_error(world: Any, capsys: pytest.CaptureFixture[str]) -> None:
    qr = world.home.path / "licences" / "business-licence-jinan.qr.txt"
    assert run(["verify", str(qr), "--trust", str(world.trust_file), "--allow-alg", "SM9"]) >= 3
    err = capsys.readouterr().err
    assert "SM9" in err and "Traceback" not in err


def test_detached_seal_over_a_licence_via_elicense_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The GB/T 38540 SES_Signature over an SM2 licence payload verifies with plain `elicense verify`."""
    from elicense.cli.sm2 import build_sm2_demo

    demo = build_sm2_demo(tmp_path, now=NOW, images=False)
    files = [str(demo.payload_file), str(demo.signature_file)]
    opts = ["--trust", str(demo.trust_file), "--at", NOW.isoformat(), "--json"]
    assert run(["verify", *files, *opts, "--allow-alg", "SM2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [x["status"] for x in lines] == ["VALID", "VALID"] and lines[1]["kind"] == "ses"
    demo.payload_file.write_bytes(demo.payload_file.read_bytes() + b" ")  # the sealed document changed
    assert run(["verify", files[1], *opts, "--allow-alg", "SM2"]) == 1
    assert "ses_document_mismatch" in capsys.readouterr().out


def test_trust_commands_on_an_sm2_bundle(
    sm2w: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELICENSE_ALGORITHMS", raising=False)
    bundle = str(sm2w.trust_file)
    assert run(["trust", "show", bundle]) == 3  # SM2 not allowed
    assert "SM2" in capsys.readouterr().err
    assert run(["trust", "show", bundle, "--allow-alg", "SM2", "--json"]) == 0
    assert {r["region"] for r in json.loads(capsys.readouterr().out)["regions"]} == {"370000", "320000"}
    assert run(["trust", "export", bundle, str(tmp_path / "exp"), "--allow-alg", "SM2"]) == 0
    assert b"urn:elicense:xmldsig:sm2-sm3" in (tmp_path / "exp" / "national.xml").read_bytes()
    # publish a newer SM2 bundle from the home, install it over the old one
    new = tmp_path / "new.cose"
    assert run(["bundle", "--home", str(sm2w.home.path), "-o", str(new), "--no-status"]) == 0
    assert run(["bundle", "--home", str(sm2w.home.path), "-o", str(new)]) == 0  # SM2 status section (issue 18)
    current = tmp_path / "current.cose"
    current.write_bytes(sm2w.trust_file.read_bytes())
    assert run(["trust", "update", str(current), str(new)]) == 3
    assert current.read_bytes() == sm2w.trust_file.read_bytes()  # untouched on refusal
    monkeypatch.setenv("ELICENSE_ALGORITHMS", "SM2")
    capsys.readouterr()
    assert run(["trust", "update", str(current), str(new)]) == 0
    assert current.read_bytes() == new.read_bytes()
    assert run(["trust", "update", str(current), str(sm2w.trust_file)]) == 3  # rollback refused


def test_sm2_demo_seals_every_licence(sm2w: Any, world: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from elicense.seal.ses import parse_seal
    from elicense.verify import Verifier
    from elicense.verify.inputs import verify_bytes

    verifier = Verifier.from_bundle(sm2w.trust_file, algorithms=["SM2"])
    for name in ("business-licence-jinan", "real-estate-title-nanjing"):
        ses = sm2w.home.path / "licences" / f"{name}.qr.txt.ses"
        (res,) = verify_bytes(verifier, ses.read_bytes(), at=NOW, source=ses)
        assert res.valid and res.licence is not None, res.to_dict()
    seal = parse_seal((sm2w.home.path / "seals" / "jinan-approval.seal.der").read_bytes())
    assert seal.picture[:8] == b"\x89PNG\r\n\x1a\n"
    lic = world.home.path / "licences" / "business-licence-jinan.qr.txt"
    assert run(["sm2", "seal", str(lic), "--home", str(world.home.path)]) == 3  # an ES256 home has no SES seals
    assert "seal" in capsys.readouterr().err


def test_ofdrw_verifies_every_seal_and_signature_of_the_sm2_world(sm2w: Any) -> None:
    """Interop (#17): ofdrw, the reference implementation, checks both signatures of everything sealed here."""
    import ses_support as sx

    files = sorted([*(sm2w.home.path / "seals").glob("*.seal.der"), *(sm2w.home.path / "licences").glob("*.ses")])
    assert len(files) >= 3
    proc = sx.run_ofdrw("seal-info", *map(str, files))
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == len(files), proc.stdout + proc.stderr
    for line in lines:
        assert "maker_sig=VALID" in line and "der=canonical" in line, line
        assert (" SIGNATURE v4 " not in line) or "signer_sig=VALID" in line, line
    assert sum(" SIGNATURE v4 " in line for line in lines) >= 2


def test_pdf_of_an_sm2_home_is_a_clear_error(sm2w: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PAdES readers know no SM2: ``render`` (PDF) on an SM2 home says to use OFD — exit 3, no file, no traceback
    (it was exit 4, an internal ``KeyError``)."""
    from elicense.cli import run

    out = tmp_path / "x.pdf"
    assert run(["render", "--home", str(sm2w.home.path), "--licence", "business-licence-jinan", "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "OFD" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
