"""elicense's OFD container checks against the corpus oracle (shared/corpus/ofd-ses/EXPECTED.md).

Every corpus OFD: the reference digests, dataHash = SM3(Signature.xml), Seal.esl = the embedded seal, and
coverage agree with what ofdrw and the independent check report; a tampered page names the exact file, a
swapped SignedValue.dat is a dataHash mismatch, and converter__h.ofd's second signature changed the
Signatures.xml its first one protected. The signatures' cryptography is verified elsewhere (the seal
module): here the container verdict only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from elicense.ofd.verify import check_ofd
from elicense.verify.result import Status
from ofd_support import corpus

# file → (signatures, their kinds, expected reason codes with details (exact), files nobody signed)
ORACLE: dict[str, tuple[int, tuple[str, ...], set[tuple[str, str]], tuple[str, ...]]] = {
    "sign__allprotected.ofd": (1, ("ses",), set(), ()),
    "sign__v4signed.ofd": (1, ("ses",), set(), ()),
    "reader__SESV4SignDoc.ofd": (1, ("ses",), set(), ()),
    "sign__DigitalSign.ofd": (1, ("raw_sm2",), {("ofd_signature_no_certificate", "s001")}, ()),
    "converter__testImageNotFound.ofd": (2, ("signed_data", "signed_data"), set(), ()),
    "converter__h.ofd": (2, ("ses", "ses"), {("ofd_file_modified", "s001: /Doc_0/Signs/Signatures.xml")}, ()),
    "generated_here/ofdrw-written.ofd": (
        0,
        (),
        {("ofd_unsigned", "")},
        ("Doc_0/Document.xml", "Doc_0/Pages/Page_0/Content.xml", "Doc_0/PublicRes.xml", "OFD.xml"),
    ),
    "generated_here/ofdrw-signed-here.ofd": (1, ("ses",), set(), ()),
    "generated_here/ofdrw-written-signed.ofd": (1, ("ses",), set(), ()),
    "made_with_tool/tool__yyzz_v4.ofd": (1, ("ses",), set(), ()),
    "made_with_tool/tool__spjy_v5.ofd": (1, ("ses",), set(), ()),
    "made_with_tool/tool__jsz_v1.ofd": (1, ("ses",), set(), ()),
    "made_with_tool/tool__yyzz_v4__tampered_content.ofd": (
        1,
        ("ses",),
        {("ofd_file_modified", "1: /Doc_0/Pages/Page_0/Content.xml")},
        (),
    ),
    "made_with_tool/tool__yyzz_v4__swapped_signedvalue.ofd": (
        1,
        ("ses",),
        {("ofd_data_hash_mismatch", "1: /Doc_0/Signs/Sign_0/Signature.xml")},
        (),
    ),
}
SES_VERSIONS = {
    "made_with_tool/tool__jsz_v1.ofd": 1,
    "made_with_tool/tool__spjy_v5.ofd": 5,
    "made_with_tool/tool__yyzz_v4.ofd": 4,
    "sign__allprotected.ofd": 4,
}


def _read(name: str) -> bytes:
    return (corpus() / "ofd" / name).read_bytes()


def test_the_oracle_lists_every_corpus_ofd() -> None:
    found = {str(p.relative_to(corpus() / "ofd")) for p in (corpus() / "ofd").rglob("*.ofd")}
    assert found == set(ORACLE), "a corpus OFD has no oracle row (or a row names a file that is gone)"


def test_corpus_bytes_are_the_pinned_ones() -> None:
    sums = dict(line.split()[::-1] for line in (corpus() / "SHA256SUMS").read_text().splitlines() if line.strip())
    for name in ORACLE:
        key = next(k for k in sums if k.endswith(name))
        assert hashlib.sha256(_read(name)).hexdigest() == sums[key], name


@pytest.mark.parametrize("name", sorted(ORACLE))
def test_container_checks_agree_with_expected(name: str) -> None:
    count, kinds, reasons, uncovered = ORACLE[name]
    report = check_ofd(_read(name))
    assert len(report.signatures) == count
    assert tuple(s.info.kind for s in report.signatures) == kinds
    assert {(x.code, x.detail or "") for x in report.reasons} == reasons
    assert report.uncovered == uncovered
    expected = Status.VALID if not reasons else max((x.status for x in report.reasons), key=lambda s: s.severity)
    assert report.status is expected
    if name in SES_VERSIONS:
        assert report.signatures[0].info.version == SES_VERSIONS[name]
        assert report.signatures[0].info.seal_version == SES_VERSIONS[name]


@pytest.mark.parametrize("name", sorted(n for n, row in ORACLE.items() if row[0] and not row[2]))
def test_intact_signatures_sign_their_signature_xml(name: str) -> None:
    """dataHash (SES) or messageDigest (SignedData) is SM3 of the signature's own Signature.xml, refs all ok."""
    for sig in check_ofd(_read(name)).signatures:
        assert sig.info.data_hash == sig.signature_xml_sm3
        assert all(ref.outcome == "ok" for ref in sig.references)
        if sig.seal_file is not None:
            assert sig.seal_file == sig.info.seal


def test_converter_h_second_signature_broke_the_first() -> None:
    """Sign_0 protected Signatures.xml; adding Sign_1 changed it. Sign_1 covers Sign_0 and is itself intact."""
    first, second = check_ofd(_read("converter__h.ofd")).signatures
    assert first.protects_signature_list
    assert [r.path for r in first.references if r.outcome == "modified"] == ["/Doc_0/Signs/Signatures.xml"]
    assert set(first.not_covered) == {
        "/Doc_0/Signs/Sign_1/Seal.esl",
        "/Doc_0/Signs/Sign_1/Signature.xml",
        "/Doc_0/Signs/Sign_1/SignedValue.dat",
    }  # added after Sign_0
    assert second.intact and second.covers_signatures == (first.id,) and not second.protects_signature_list


def test_signature_list_left_open_is_reported() -> None:
    sig = check_ofd(_read("reader__SESV4SignDoc.ofd")).signatures[0]
    assert not sig.protects_signature_list and sig.not_covered == ("/Doc_0/Signs/Signatures.xml",)


def test_swapped_signed_value_still_embeds_the_same_seal() -> None:
    """The swap is caught by dataHash alone: the seal and every reference still match."""
    sig = check_ofd(_read("made_with_tool/tool__yyzz_v4__swapped_signedvalue.ofd")).signatures[0]
    assert all(r.outcome == "ok" for r in sig.references)
    assert sig.seal_file == sig.info.seal and sig.info.data_hash != sig.signature_xml_sm3


def test_check_method_oid_and_relative_locations() -> None:
    """testImageNotFound: CheckMethod by OID, relative SignedValue location, http://www.ofdspec.org namespace."""
    report = check_ofd(_read("converter__testImageNotFound.ofd"))
    assert {s.check_method for s in report.signatures} == {"1.2.156.10197.1.401"}
    assert report.signatures[0].signed_value_path == "/Doc_0/Signs/Sign_0/SignedValue.dat"
    assert report.signatures[1].covers_signatures == (report.signatures[0].id,)


def test_result_without_cryptography_is_never_valid() -> None:
    """The container verdict alone cannot make an OFD VALID: the Verifier adds the SES/SignedData checks."""
    import datetime as dt

    at = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    result = check_ofd(_read("sign__allprotected.ofd")).result(at)
    assert result.status is Status.INDETERMINATE and result.has_reason("ofd_signature_not_verified")
    assert result.kind == "ofd"
    assert check_ofd(_read("made_with_tool/tool__yyzz_v4__tampered_content.ofd")).result(at).status is Status.INVALID


def test_expected_md_names_the_files_we_check() -> None:
    text = (corpus() / "EXPECTED.md").read_text(encoding="utf-8")
    for name in ORACLE:
        assert Path(name).name in text


def test_scope_is_reported_in_the_checks() -> None:
    """What each signature covers is in the audit trail: converter__h.ofd's Sign_0 did not cover Sign_1."""
    checks = [c for c in check_ofd(_read("converter__h.ofd")).checks if c.name == "ofd_signature_scope"]
    assert len(checks) == 2
    assert "signature list protected" in (checks[0].detail or "")
    assert "/Doc_0/Signs/Sign_1/Signature.xml" in (checks[0].detail or "")
    assert "covers signature(s) s001" in (checks[1].detail or "")
