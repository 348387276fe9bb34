"""PAdES B-T / B-LT: an in-process RFC 3161 TSA, CRLs in the DSS, offline verification."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
import subprocess

import pytest

from conftest import NOW
from elicense.verify.result import CheckOutcome, Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NAME = "business-licence-jinan"
STAMP_DELAY = dt.timedelta(minutes=5)


@pytest.fixture(scope="module")
def tsa(world):  # type: ignore[no-untyped-def]
    from elicense.documents import root_material
    from elicense.pdf.tsa import LocalTSA

    cert, key = root_material(world.home)
    stamp_time = world.issued[NAME].signed_at + STAMP_DELAY
    # the demo world lives at NOW: the TSA's clock is injected to read "a few minutes after signing"
    return LocalTSA.create(
        cert,
        key,
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW + dt.timedelta(days=400),
        clock=lambda: stamp_time,
    )


def _sign(world, tsa, level: str, name: str = NAME) -> bytes:  # type: ignore[no-untyped-def]
    from elicense.documents import options_for_home
    from elicense.pdf.sign import seal_and_sign

    issued = world.issued[name]
    entry = world.home.authority(issued.licence.issuer.code)
    options = options_for_home(world.home, level, at=issued.signed_at, seal_name=entry.seal_name, tsa=tsa)
    return seal_and_sign(issued, world.home.signer(entry), options=options)


@pytest.fixture(scope="module")
def b_t(world, tsa) -> bytes:  # type: ignore[no-untyped-def]
    return _sign(world, tsa, "B-T")


@pytest.fixture(scope="module")
def b_lt(world, tsa) -> bytes:  # type: ignore[no-untyped-def]
    return _sign(world, tsa, "B-LT")


def _check(result, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in result.checks if c.name == name)


def test_b_t_round_trip(b_t, world, verifier) -> None:  # type: ignore[no-untyped-def]
    result = verifier.verify_pdf(b_t, at=NOW)
    assert result.status is Status.VALID, result.reasons
    ts = _check(result, "pdf_timestamp")
    # the TSA stamps its own clock (see tests/test_validators.py::test_tsa_token_is_current_time_project_policy_critical_eku for the wall clock)
    assert ts.outcome is CheckOutcome.PASSED
    assert ts.detail == (world.issued[NAME].signed_at + STAMP_DELAY).isoformat()
    assert b"/DSS" not in b_t


def test_b_lt_round_trip_offline(b_lt, verifier) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(b_lt))
    dss = reader.root["/DSS"]
    assert len(dss["/CRLs"]) >= 2 and len(dss["/Certs"]) >= 2  # root + regional CA CRLs, chain + TSA
    result = verifier.verify_pdf(b_lt, at=NOW)
    assert result.status is Status.VALID, result.reasons
    assert _check(result, "pdf_timestamp").outcome is CheckOutcome.PASSED
    assert _check(result, "pdf_revocation").outcome is CheckOutcome.PASSED
    assert _check(result, "pdf_modifications").detail == "validation data only"


def test_b_lt_supplies_missing_crls(b_lt, world) -> None:  # type: ignore[no-untyped-def]
    """A verifier with status lists but no CRL of its own: B-B is INDETERMINATE, B-LT is VALID."""
    from elicense.pdf.sign import seal_and_sign
    from elicense.status.store import StatusStore
    from elicense.verify import Verifier

    base = Verifier.from_trust_file(world.trust_file, clock=lambda: NOW)
    full = base.status
    assert isinstance(full, StatusStore) and full.crls
    no_crls = dataclasses.replace(
        full,
        crls=(),
        chains={k: dataclasses.replace(v, revoked=(), crls=(), missing=("CA",)) for k, v in full.chains.items()},
    )
    v = Verifier(trust=base.trust, status=no_crls, clock=lambda: NOW)
    issued = world.issued[NAME]
    b_b = seal_and_sign(issued, world.home.signer(world.home.authority(issued.licence.issuer.code)))
    plain = v.verify_pdf(b_b, at=NOW)
    assert plain.status is Status.INDETERMINATE and plain.has_reason("revocation_unknown")
    result = v.verify_pdf(b_lt, at=NOW)
    assert result.status is Status.VALID, result.reasons
    assert _check(result, "certificate_revocation").detail == "embedded CRLs (PAdES B-LT)"


def _revoking_crl(world, *, revoked_at: dt.datetime, invalid_since: dt.datetime | None = None):  # type: ignore[no-untyped-def]
    """A CRL of the signer's regional CA revoking the signer's certificate (key compromise)."""
    from elicense.crypto.keys import decrypt_private_key
    from elicense.status.crl import RevokedCert, build_crl

    entry = world.home.authority(world.issued[NAME].licence.issuer.code)
    signer_cert = world.home.certificates(entry.cert)[0]
    region = next(r for r in world.home.regions if world.home.certificates(r.ca_cert)[0].subject == signer_cert.issuer)
    ca_cert = world.home.certificates(region.ca_cert)[0]
    ca_key = decrypt_private_key((world.home.path / region.ca_key).read_bytes(), world.home.passphrase())
    return build_crl(
        ca_cert,
        ca_key,
        [RevokedCert(signer_cert.serial_number, revoked_at, "key_compromise", invalid_since)],
        last_update=revoked_at,
        next_update=revoked_at + dt.timedelta(days=7),
        number=99,
    )


def _add_dss(pdf: bytes, crl) -> bytes:  # type: ignore[no-untyped-def]
    from asn1crypto import crl as asn1_crl
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    out = io.BytesIO(pdf)
    DocumentSecurityStore.add_dss(
        out,
        sig.pkcs7_content,
        crls=[asn1_crl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))],
    )
    return out.getvalue()


def test_signer_revoked_in_embedded_crl_is_invalid(b_t, world, verifier) -> None:  # type: ignore[no-untyped-def]
    signed_at = world.issued[NAME].signed_at
    crl = _revoking_crl(world, revoked_at=signed_at - dt.timedelta(days=1))
    result = verifier.verify_pdf(_add_dss(b_t, crl), at=NOW)
    assert result.status is Status.INVALID and result.has_reason("signing_key_revoked"), result.reasons


def test_revoked_after_signing_follows_the_invalidity_date(b_t, world, verifier) -> None:  # type: ignore[no-untyped-def]
    """Same rule as the verifier's CRLs: revocation after signing stands, unless backdated by invalidityDate."""
    signed_at = world.issued[NAME].signed_at
    later = _revoking_crl(world, revoked_at=signed_at + dt.timedelta(days=2))
    result = verifier.verify_pdf(_add_dss(b_t, later), at=NOW)
    assert result.status is Status.VALID, result.reasons
    assert "revoked after signing" in (_check(result, "pdf_revocation").detail or "")
    backdated = _revoking_crl(
        world, revoked_at=signed_at + dt.timedelta(days=2), invalid_since=signed_at - dt.timedelta(hours=1)
    )
    result = verifier.verify_pdf(_add_dss(b_t, backdated), at=NOW)
    assert result.status is Status.INVALID and result.has_reason("signing_key_revoked")


def test_crl_not_signed_by_the_issuer_is_ignored(b_t, world, verifier) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import ec

    from elicense.status.crl import RevokedCert, build_crl

    signed_at = world.issued[NAME].signed_at
    real = _revoking_crl(world, revoked_at=signed_at - dt.timedelta(days=1))
    entry = world.home.authority(world.issued[NAME].licence.issuer.code)
    ca_cert = next(
        world.home.certificates(r.ca_cert)[0]
        for r in world.home.regions
        if world.home.certificates(r.ca_cert)[0].subject == real.issuer
    )
    forged = build_crl(
        ca_cert,
        ec.generate_private_key(ec.SECP256R1()),
        [RevokedCert(world.home.certificates(entry.cert)[0].serial_number, signed_at - dt.timedelta(days=1))],
        last_update=signed_at,
        number=5,
    )
    result = verifier.verify_pdf(_add_dss(b_t, forged), at=NOW)
    assert result.status is Status.VALID, result.reasons


def test_annotation_after_dss_update_is_invalid(b_lt, verifier) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(b_lt))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    annot = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Text"),
                generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (10, 10, 60, 60)]),
                generic.NameObject("/Contents"): generic.TextStringObject("已注销"),
            }
        )
    )
    page[generic.NameObject("/Annots")] = generic.ArrayObject([annot])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    result = verifier.verify_pdf(out.getvalue(), at=NOW)
    assert result.status is Status.INVALID and result.has_reason("pdf_modified")


def test_level_needs_its_material(world) -> None:  # type: ignore[no-untyped-def]
    from elicense.errors import UsageError
    from elicense.pdf.sign import PdfSigningOptions, seal_and_sign

    issued = world.issued[NAME]
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    for options in (
        PdfSigningOptions(level="B-T"),
        PdfSigningOptions(level="B-LT", timestamper=object()),
        PdfSigningOptions(level="B-X"),
    ):
        with pytest.raises(UsageError):
            seal_and_sign(issued, signer, options=options)


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils not installed")
def test_poppler_and_openssl_see_signature_and_timestamp(b_lt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "lt.pdf"
    path.write_bytes(b_lt)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    assert "Signature is Valid" in out.stdout and "ETSI.CAdES.detached" in out.stdout, out.stdout
    subprocess.run(["pdfsig", "-dump", str(path)], capture_output=True, cwd=tmp_path, check=False)
    dumped = sorted(tmp_path.glob("lt.pdf.sig*")) or sorted(tmp_path.glob("*.sig"))
    if shutil.which("openssl") is None or not dumped:
        pytest.skip("openssl or pdfsig -dump unavailable")
    cms = subprocess.run(
        ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(dumped[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "id-smime-aa-timeStampToken" in cms.stdout  # the RFC 3161 token in the unsigned attributes


def test_cli_render_b_lt(world, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from elicense.cli import run

    home = tmp_path / "home"
    shutil.copytree(world.home.path, home)
    out = tmp_path / "lt.pdf"
    code = run(
        [
            "render",
            "--home",
            str(home),
            "--licence",
            str(world.issued[NAME].licence.id),
            "-o",
            str(out),
            "--pdf-level",
            "B-LT",
        ]
    )
    if code != 0:  # the registry may not hold it under its id: fall back to the sample name
        code = run(["render", "--home", str(home), "--licence", NAME, "-o", str(out), "--pdf-level", "B-LT"])
    assert code == 0, capsys.readouterr()
    from elicense.verify import Verifier

    result = Verifier.from_trust_file(world.trust_file, clock=lambda: NOW).verify_pdf(out.read_bytes(), at=NOW)
    assert result.status is Status.VALID, result.reasons
    assert _check(result, "pdf_revocation").outcome is CheckOutcome.PASSED
    assert (
        run(
            [
                "render",
                "--home",
                str(home),
                "--licence",
                NAME,
                "-o",
                str(tmp_path / "x.pdf"),
                "--tsa-url",
                "http://127.0.0.1:9/",
            ]
        )
        >= 3
    )  # a TSA URL without B-T/B-LT is a usage error
