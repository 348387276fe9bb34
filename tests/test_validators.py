"""Freshly issued artefacts of both worlds, checked by validators elicense did not write (#19).

| artefact | independent tool |
|---|---|
| every certificate (ES256 and SM2 worlds) | Go ``crypto/x509`` / tjfoc/gmsm (``tests/validators/certparse``), pkilint |
| CRL distribution point + AIA of every issued certificate | the files ``publication_files`` writes, parsed by OpenSSL; pyHanko hard-fail fetching them over HTTP (loopback) |
| PDF signature (B-B) | poppler ``pdfsig`` with an NSS db trusting only the root, ``openssl cms -verify`` (default purpose), endesive; the EKU choice measured with the first two |
| B-LTA PDF, and after ``elicense pdf extend`` | pyHanko's AdES-LTA validation a week and a month later, revocation info required |
| timestamp tokens | pyHanko's RFC 3161 token validation with the root trusted; time = wall clock |
| PDF/A-3b | pikepdf (qpdf) + Pillow's ICC reader: a rule check list (veraPDF is not packaged for Debian or PyPI) |
| QR payload | python-cwt ``cwt.decode`` with the issuer's public key (SM2: claims types only, no SM2 in python-cwt) |

The tools are installed by ``.ci/run`` (Debian: ``libnss3-tools``, ``poppler-utils``, ``openssl``,
``golang-go``, ``golang-github-tjfoc-gmsm-dev``; PyPI: endesive, pkilint, pikepdf; python-cwt in
``.venv-cwt`` because it pins ``cbor2 < 6``). A missing tool fails the test, it does not skip it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

HERE = Path(__file__).parent
TOOLS = HERE / "validators"
REPO = HERE.parent
WALL = dt.datetime.now(dt.UTC).replace(microsecond=0)
"""Fresh artefacts: the worlds are issued at the wall clock (a real TSA stamps the wall clock)."""
NAME = "business-licence-jinan"
BASE = "http://pki.validators.example/pub/"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (see .ci/apt-packages.txt)")
    return path


def _run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, **kw)


# -- the two worlds ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def es(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from elicense.demo import build_demo

    return build_demo(
        tmp_path_factory.mktemp("es256") / "w",
        now=WALL,
        seed=b"validators",
        images=False,
        pdf=False,
        publication_base=BASE,
    )


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from elicense.crypto.algorithms import Algorithm
    from elicense.demo import build_demo

    return build_demo(
        tmp_path_factory.mktemp("sm2") / "w",
        now=WALL,
        seed=b"validators",
        images=False,
        pdf=False,
        algorithm=Algorithm.SM2,
        publication_base=BASE,
    )


@pytest.fixture(scope="module")
def tsa(es: Any) -> Any:
    from elicense.documents import root_material
    from elicense.pdf.tsa import LocalTSA

    cert, key = root_material(es.home)
    return LocalTSA.create(
        cert,
        key,
        not_before=WALL - dt.timedelta(days=1),
        not_after=WALL + dt.timedelta(days=400),
        publication_base=es.home.publication_base(),
    )


def _world(request: pytest.FixtureRequest, which: str) -> Any:
    return request.getfixturevalue(which)


def _cert_files(world: Any, tsa: Any | None, tmp: Path) -> list[Path]:
    files = sorted((world.home.path / "pki").glob("*.pem"))
    if tsa is not None:
        path = tmp / "tsa.pem"
        path.write_bytes(tsa.certificate.public_bytes(serialization.Encoding.PEM))
        files.append(path)
    return files


@pytest.fixture(scope="module")
def b_b(es: Any) -> bytes:
    from elicense.pdf.sign import seal_and_sign

    issued = es.issued[NAME]
    return seal_and_sign(issued, es.home.signer(es.home.authority(issued.licence.issuer.code)))


def _sign(es: Any, tsa: Any, level: str) -> bytes:
    from elicense.documents import options_for_home
    from elicense.pdf.sign import seal_and_sign

    issued = es.issued[NAME]
    entry = es.home.authority(issued.licence.issuer.code)
    options = options_for_home(es.home, level, at=issued.signed_at, seal_name=entry.seal_name, tsa=tsa)
    return seal_and_sign(issued, es.home.signer(entry), options=options)


@pytest.fixture(scope="module")
def b_lta(es: Any, tsa: Any) -> bytes:
    return _sign(es, tsa, "B-LTA")


# -- certificates: Go crypto/x509, tjfoc/gmsm, pkilint ---------------------------------------------


@pytest.fixture(scope="module")
def certparse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go checker, built once (GOPATH mode: Debian's gocode tree has tjfoc/gmsm)."""
    go = _tool("go")
    out = tmp_path_factory.mktemp("go")
    exe = out / "certparse"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": "/usr/share/gocode",
        "GOCACHE": str(out / "cache"),
        "GOFLAGS": "",
    }
    built = _run([go, "build", "-o", str(exe), "."], cwd=TOOLS / "certparse", env=env)
    assert built.returncode == 0, built.stderr
    return exe


def _uuid_arc_certificate(tmp: Path) -> Path:
    """The former profile: an EKU under a 2.25 UUID arc (arcs over 31 bits)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ObjectIdentifier

    from elicense.crypto.pki import make_end_entity, make_root

    key = ec.generate_private_key(ec.SECP256R1())
    root = make_root(key, "旧根", not_before=WALL - dt.timedelta(days=1), not_after=WALL + dt.timedelta(days=9))
    leaf = make_end_entity(
        key.public_key(),
        "旧证书",
        uscc=None,
        province=None,
        issuer_cert=root,
        issuer_key=key,
        not_before=WALL - dt.timedelta(days=1),
        not_after=WALL + dt.timedelta(days=9),
        eku=ObjectIdentifier("2.25.81248649432830909452807532180446388779.2.1"),
    )
    path = tmp / "uuid-arc.pem"
    path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.mark.parametrize("which", ["es", "sm"])
def test_go_parses_and_checks_every_certificate(
    which: str, request: pytest.FixtureRequest, certparse: Path, tmp_path: Path
) -> None:
    world = _world(request, which)
    tsa = request.getfixturevalue("tsa") if which == "es" else None
    files = _cert_files(world, tsa, tmp_path)
    result = _run([str(certparse), *map(str, files)])
    assert result.returncode == 0, result.stderr
    std, gm = map(int, result.stdout.split()[1:])
    assert (std, gm) == ((len(files), 0) if which == "es" else (0, len(files)))


def test_go_refuses_the_former_uuid_arc(certparse: Path, tmp_path: Path) -> None:
    result = _run([str(certparse), str(_uuid_arc_certificate(tmp_path))])
    assert result.returncode != 0 and "x509" in result.stderr


def _pkilint(path: Path) -> str:
    exe = shutil.which("lint_pkix_cert") or str(Path(sys.executable).parent / "lint_pkix_cert")
    if not Path(exe).exists():
        pytest.fail("pkilint is not installed (pyproject dev dependencies)")
    result = _run([exe, "lint", "-s", "ERROR", "-f", "JSON", str(path)])
    return result.stdout + result.stderr


@pytest.mark.parametrize("which", ["es", "sm"])
def test_pkilint_finds_no_error_in_any_certificate(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    world = _world(request, which)
    tsa = request.getfixturevalue("tsa") if which == "es" else None
    for path in _cert_files(world, tsa, tmp_path):
        report = _pkilint(path)
        assert "ERROR" not in report and "FATAL" not in report and "Traceback" not in report, (path.name, report)


def test_pkilint_refuses_the_former_uuid_arc(tmp_path: Path) -> None:
    report = _pkilint(_uuid_arc_certificate(tmp_path))
    assert "ERROR" in report or "FATAL" in report or "Traceback" in report or "rror" in report


# -- revocation pointers ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["es", "sm"])
def test_every_issued_certificate_points_at_published_files(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """CRL DP and AIA caIssuers name files that ``publication_files`` writes, and OpenSSL reads them."""
    from elicense.services.trust import publication_files

    world = _world(request, which)
    files = publication_files(world.home, WALL)
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content)
    openssl = _tool("openssl")
    issued = [
        c
        for p in sorted((world.home.path / "pki").glob("*.pem"))
        for c in world.home.certificates(str(p.relative_to(world.home.path)))
        if c.subject != c.issuer
    ]
    assert issued
    for cert in issued:
        dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        crl_url = dp[0].full_name[0].value  # type: ignore[index]
        cer_url = next(
            a.access_location.value for a in aia if a.access_method == x509.AuthorityInformationAccessOID.CA_ISSUERS
        )
        assert crl_url.startswith(BASE) and cer_url.startswith(BASE)
        cer, crl = tmp_path / cer_url[len(BASE) :], tmp_path / crl_url[len(BASE) :]
        assert cer.exists() and crl.exists(), (cer_url, crl_url)
        parsed = _run([openssl, "x509", "-inform", "DER", "-in", str(cer), "-noout", "-subject"])
        assert parsed.returncode == 0, parsed.stderr
        issuer = x509.load_der_x509_certificate(cer.read_bytes())
        assert issuer.subject == cert.issuer
        listed = _run([openssl, "crl", "-inform", "DER", "-in", str(crl), "-noout", "-issuer"])
        assert listed.returncode == 0, listed.stderr
        if which == "es":  # OpenSSL checks the CRL's signature with the issuer certificate
            pem = tmp_path / "issuer.pem"
            pem.write_bytes(issuer.public_bytes(serialization.Encoding.PEM))
            checked = _run([openssl, "crl", "-inform", "DER", "-in", str(crl), "-noout", "-CAfile", str(pem)])
            assert checked.returncode == 0 and "verify OK" in checked.stderr + checked.stdout, checked.stderr


def test_bundle_publish_dir_writes_the_files(es: Any, tmp_path: Path) -> None:
    result = _run(
        [
            sys.executable,
            "-m",
            "elicense.cli",
            "bundle",
            "--home",
            str(es.home.path),
            "-o",
            str(tmp_path / "b.cose"),
            "--publish-dir",
            str(tmp_path / "pub"),
        ]
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.suffix for p in (tmp_path / "pub").rglob("*.c*")) == [".cer"] * 3 + [".crl"] * 3


# -- the PDF signature: pdfsig (NSS), openssl cms, endesive -----------------------------------------


def _cms_of(pdf: bytes) -> tuple[bytes, bytes]:
    """(CMS DER, signed bytes) of the first signature, from its /ByteRange."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m is not None
    a, b, c, d = map(int, m.groups())
    from asn1crypto import cms

    contents = bytes.fromhex(pdf[a + b : c].strip(b"<>").decode())
    info = cms.ContentInfo.load(contents)  # the hole is zero-padded: asn1crypto reads the one value
    return info.dump(), pdf[a : a + b] + pdf[c : c + d]


def test_cms_carries_each_certificate_once(b_b: bytes) -> None:
    from asn1crypto import cms

    signed = cms.ContentInfo.load(_cms_of(b_b)[0])["content"]
    certs = [c.chosen.dump() for c in signed["certificates"]]
    assert len(certs) == len(set(certs)) == 2  # signer + regional CA (the root is the verifier's)


def test_pdfsig_nss_trusts_signature_and_certificate(es: Any, b_b: bytes, tmp_path: Path) -> None:
    certutil, pdfsig = _tool("certutil"), _tool("pdfsig")
    db = tmp_path / "nss"
    db.mkdir()
    assert _run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"]).returncode == 0
    root = es.home.path / es.home.roots[0]
    added = _run([certutil, "-A", "-d", f"sql:{db}", "-n", "elicense-root", "-t", "C,C,C", "-i", str(root)])
    assert added.returncode == 0, added.stderr
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(b_b)
    report = _run([pdfsig, "-nssdir", f"sql:{db}", str(pdf)]).stdout
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Certificate Validation: Certificate is Trusted." in report, report
    untrusted = tmp_path / "empty"
    untrusted.mkdir()
    _run([certutil, "-N", "-d", f"sql:{untrusted}", "--empty-password"])
    assert "Certificate is Trusted" not in _run([pdfsig, "-nssdir", f"sql:{untrusted}", str(pdf)]).stdout


def test_openssl_cms_verify_with_the_default_purpose(es: Any, b_b: bytes, tmp_path: Path) -> None:
    openssl = _tool("openssl")
    cms_der, content = _cms_of(b_b)
    (tmp_path / "sig.p7s").write_bytes(cms_der)
    (tmp_path / "content.bin").write_bytes(content)
    root = es.home.path / es.home.roots[0]
    args = [
        openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(tmp_path / "sig.p7s"),
        "-content",
        str(tmp_path / "content.bin"),
        "-CAfile",
        str(root),
        "-out",
        os.devnull,
    ]
    result = _run(args)
    assert result.returncode == 0 and "Verification successful" in result.stderr, result.stderr
    (tmp_path / "content.bin").write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    assert _run(args).returncode != 0


def test_endesive_verifies_hash_signature_and_certificate(es: Any, b_b: bytes, tmp_path: Path) -> None:
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(b_b)
    root = es.home.path / es.home.roots[0]
    result = _run([sys.executable, str(TOOLS / "endesive_verify.py"), str(pdf), str(root)])
    assert result.returncode == 0, result.stderr[-2000:]
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert verdicts == [{"hashok": True, "signatureok": True, "certok": True}]


# -- timestamps ------------------------------------------------------------------------------------


def test_tsa_token_is_current_time_project_policy_critical_eku(es: Any, tsa: Any) -> None:
    import hashlib

    from asn1crypto import cms, tsp
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    from elicense.crypto.pki import OID_TSA_POLICY

    digest = hashlib.sha256(b"any document").digest()
    stamper = tsa.timestamper()
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    token: cms.ContentInfo = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    after = dt.datetime.now(dt.UTC)
    info = tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].parsed.dump())
    assert before <= info["gen_time"].native <= after  # the current time, not a licence's signing time
    assert info["policy"].dotted == OID_TSA_POLICY.dotted_string
    eku = tsa.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]
    from asn1crypto import x509 as asn1_x509

    root = asn1_x509.Certificate.load(
        (es.home.certificates(es.home.roots[0])[0]).public_bytes(serialization.Encoding.DER)
    )
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    from pyhanko.sign.validation.status import TimestampSignatureStatus

    status = TimestampSignatureStatus(
        **asyncio.run(validate_tst_signed_data(token["content"], context, lambda algorithm: digest))
    )
    assert status.intact and status.valid and status.trusted, status.summary()


def test_no_testing_timestamper_on_production_paths() -> None:
    src = REPO / "src" / "elicense"
    offenders = [p for p in src.rglob("*.py") if "DummyTimeStamper" in p.read_text("utf-8")]
    assert offenders == []


def test_b_lt_and_extended_pdfs_carry_the_wall_clock_time(b_lta: bytes) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(b_lta))
    stamps = reader.embedded_timestamp_signatures
    assert len(stamps) == 1 and "/DSS" in reader.root
    tst = stamps[0].signed_data["encap_content_info"]["content"].parsed
    assert abs(tst["gen_time"].native - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=15)


# -- long-term validation: pyHanko AdES-LTA, revocation info required --------------------------------


def _ades_lta(pdf: bytes, root: x509.Certificate, later: dt.timedelta) -> str:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import (
        CertRevTrustPolicy,
        RevocationCheckingPolicy,
        RevocationCheckingRule,
    )
    from pyhanko_certvalidator.registry import SimpleTrustManager

    anchor = asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))
    rule = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED  # as adesverify --force-revinfo
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[anchor]),
        revinfo_policy=CertRevTrustPolicy(
            RevocationCheckingPolicy(ee_certificate_rule=rule, intermediate_ca_cert_rule=rule)
        ),
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[0]
    when = dt.datetime.now(dt.UTC) + later
    result = asyncio.run(ades_lta_validation(sig, spec, ValidationTimingInfo(when, when, False)))
    return str(result.ades_subindic)


@pytest.mark.parametrize("later", [dt.timedelta(0), dt.timedelta(days=8), dt.timedelta(days=30)])
def test_b_lta_validates_later(es: Any, b_lta: bytes, later: dt.timedelta) -> None:
    root = es.home.certificates(es.home.roots[0])[0]
    assert _ades_lta(b_lta, root, later) == "AdESPassed.OK"


def test_b_lt_without_archive_timestamp_does_not_outlive_its_crls(es: Any, tsa: Any) -> None:
    """The control: the same CRLs without a document timestamp fail once they expired."""
    root = es.home.certificates(es.home.roots[0])[0]
    b_lt = _sign(es, tsa, "B-LT")
    assert _ades_lta(b_lt, root, dt.timedelta(days=40)) != "AdESPassed.OK"


def test_pdf_extend_adds_crls_and_an_archive_timestamp(es: Any, b_lta: bytes, tmp_path: Path) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    src, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(b_lta)
    result = _run(
        [sys.executable, "-m", "elicense.cli", "pdf", "extend", str(src), "--home", str(es.home.path), "-o", str(out)]
    )
    assert result.returncode == 0, result.stderr
    extended = out.read_bytes()
    assert extended.startswith(b_lta)  # an incremental update
    reader = PdfFileReader(io.BytesIO(extended))
    assert len(reader.embedded_timestamp_signatures) == 2
    assert len(reader.root["/DSS"]["/CRLs"]) > len(PdfFileReader(io.BytesIO(b_lta)).root["/DSS"]["/CRLs"])
    root = es.home.certificates(es.home.roots[0])[0]
    assert _ades_lta(extended, root, dt.timedelta(days=8)) == "AdESPassed.OK"
    bad = _run(
        [
            sys.executable,
            "-m",
            "elicense.cli",
            "pdf",
            "extend",
            str(tmp_path / "missing.pdf"),
            "--home",
            str(es.home.path),
            "-o",
            str(tmp_path / "x.pdf"),
        ]
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


# -- PDF/A-3b: a rule check list with pikepdf (veraPDF is not packaged here) --------------------------


def _pdfa_problems(data: bytes) -> list[str]:
    import pikepdf
    from PIL import ImageCms

    problems: list[str] = []
    pdf = pikepdf.open(io.BytesIO(data))
    header = data[5:8].decode()
    if header != "1.7":
        problems.append(f"header %PDF-{header}, PDF/A-3 is PDF 1.7")
    if "/Version" in pdf.Root and str(pdf.Root.Version) != f"/{header}":
        problems.append(f"catalogue /Version {pdf.Root.Version} differs from the header")
    if "/Encrypt" in pdf.trailer:
        problems.append("encrypted")
    if "/ID" not in pdf.trailer:
        problems.append("no trailer /ID")
    intents = [oi for oi in pdf.Root.get("/OutputIntents", []) if oi.get("/S") == "/GTS_PDFA1"]
    if len(intents) != 1:
        problems.append("no (single) GTS_PDFA1 OutputIntent")
    else:
        icc = intents[0].DestOutputProfile
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc.read_bytes()))
        if int(icc.N) != 3 or profile.profile.xcolor_space.strip() != "RGB":
            problems.append("OutputIntent profile is not an RGB ICC profile")
    meta = pdf.open_metadata()
    if meta.pdfa_status != "3B":
        problems.append(f"XMP pdfaid is {meta.pdfa_status!r}, not 3B")
    xmp = pdf.Root.Metadata
    if "/Filter" in xmp:
        problems.append("XMP stream is filtered")
    info = {str(k): str(v) for k, v in pdf.docinfo.items()}
    mirrors = {
        "/Title": "dc:title",
        "/Author": "dc:creator",
        "/Subject": "dc:description",
        "/Producer": "pdf:Producer",
        "/Creator": "xmp:CreatorTool",
        "/CreationDate": "xmp:CreateDate",
        "/ModDate": "xmp:ModifyDate",
    }
    for key, prop in mirrors.items():
        if key in info and prop not in meta:
            problems.append(f"Info {key} has no XMP {prop}")
    created, modified = meta.get("xmp:CreateDate"), meta.get("xmp:ModifyDate")
    if not created or not modified or dt.datetime.fromisoformat(modified) < dt.datetime.fromisoformat(created):
        problems.append(f"XMP dates inconsistent: created {created}, modified {modified}")
    names = pdf.Root.get("/Names", {})
    if "/JavaScript" in names or "/AA" in pdf.Root:
        problems.append("JavaScript or additional actions")
    af = pdf.Root.get("/AF", [])
    if len(af) != 1:
        problems.append("licence.cose is not the associated file of the catalogue")
    for spec in af:
        if "/AFRelationship" not in spec or str(spec.get("/UF")) != "licence.cose":
            problems.append("associated file without /AFRelationship or /UF")
        ef = spec.EF.F
        if "/Subtype" not in ef or "/ModDate" not in ef.get("/Params", {}):
            problems.append("embedded file without /Subtype or /Params /ModDate")
    for page in pdf.pages:
        for annot in page.get("/Annots", []):
            flags = int(annot.get("/F", 0))
            if not flags & 4 or flags & (1 | 2 | 32):
                problems.append(f"annotation flags {flags}: must be printed, not hidden")
            rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
            if "/AP" not in annot and (rect[2] - rect[0]) * (rect[3] - rect[1]) != 0:
                problems.append("annotation without an appearance (and not of zero size)")
        for font in _fonts(page):
            descriptor = font.get("/FontDescriptor") or font.DescendantFonts[0].get("/FontDescriptor")
            if descriptor is None or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                problems.append(f"font {font.get('/BaseFont')} not embedded")
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and "/LZWDecode" in str(obj.get("/Filter", "")):
            problems.append("LZW filter")
    return problems


def _fonts(page: Any) -> list[Any]:
    fonts = list(page.get("/Resources", {}).get("/Font", {}).values())
    for annot in page.get("/Annots", []):
        ap = annot.get("/AP", {}).get("/N")
        if ap is not None:
            fonts += list(ap.get("/Resources", {}).get("/Font", {}).values())
    return fonts


def test_pdf_a_3b_check_list(b_b: bytes, b_lta: bytes, es: Any) -> None:
    from elicense.pdf.render import render_licence

    unsigned = render_licence(es.issued[NAME]).pdf
    for name, data in (("unsigned", unsigned), ("B-B", b_b), ("B-LTA", b_lta)):
        assert _pdfa_problems(data) == [], name


def test_pdf_a_check_list_catches_a_pdf_2_catalogue(b_b: bytes) -> None:
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(b_b))
    pdf.Root.Version = pikepdf.Name("/2.0")
    out = io.BytesIO()
    pdf.save(out)
    assert any("catalogue /Version" in p for p in _pdfa_problems(out.getvalue()))


# -- QR payload: python-cwt ------------------------------------------------------------------------


def _cwt_python() -> str:
    exe = os.environ.get("ELICENSE_CWT_PYTHON") or str(REPO / ".venv-cwt" / "bin" / "python")
    if not Path(exe).exists():
        pytest.fail("python-cwt's environment is missing: .ci/run creates .venv-cwt (python-cwt pins cbor2 < 6)")
    return exe


def _cwt(world: Any, *, verify: bool) -> dict[str, Any]:
    from elicense.crypto.keys import key_id
    from elicense.qr.payload import unwrap

    keys = []
    for a in world.home.authorities:
        cert = world.home.certificates(a.cert)[0]
        if verify:
            pem = cert.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            keys.append([key_id(cert).hex(), pem.decode()])
    tokens = [[name, unwrap(issued.qr_payload).hex()] for name, issued in world.issued.items()]
    job = json.dumps({"keys": keys, "tokens": tokens, "verify": verify})
    result = _run([_cwt_python(), str(TOOLS / "cwt_decode.py")], input=job)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_python_cwt_decodes_and_verifies_every_es256_payload(es: Any) -> None:
    decoded = _cwt(es, verify=True)
    for name, issued in es.issued.items():
        lic = issued.licence
        expired = lic.validity.end is not None and lic.validity.end < (WALL + dt.timedelta(hours=8)).date()
        if expired:  # python-cwt checks exp itself
            assert "expired" in decoded[name].get("error", ""), decoded[name]
            continue
        assert "claims" in decoded[name], (name, decoded[name])
        claims = decoded[name]["claims"]
        assert claims["6"] == int(issued.signed_at.timestamp())  # iat
        assert claims["7"] == "bytes" and claims["-65537"] == "dict"  # cti, the licence claims
        if lic.validity.end is not None:
            cst = dt.timezone(dt.timedelta(hours=8))
            end = dt.datetime.combine(lic.validity.end + dt.timedelta(days=1), dt.time(), cst)
            assert claims["4"] == int(end.timestamp())  # exp: 00:00 UTC+8 of the day after valid_until
        else:
            assert "4" not in claims


def test_python_cwt_refuses_a_payload_signed_by_another_key(es: Any) -> None:
    from elicense.crypto.keys import key_id
    from elicense.qr.payload import unwrap

    issued = es.issued[NAME]
    other = next(a for a in es.home.authorities if a.code != issued.licence.issuer.code)
    cert = es.home.certificates(other.cert)[0]
    own = es.home.certificates(es.home.authority(issued.licence.issuer.code).cert)[0]
    pem = cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    job = json.dumps(
        {
            "keys": [[key_id(own).hex(), pem.decode()]],
            "tokens": [[NAME, unwrap(issued.qr_payload).hex()]],
            "verify": True,
        }
    )
    result = json.loads(_run([_cwt_python(), str(TOOLS / "cwt_decode.py")], input=job).stdout)
    assert "error" in result[NAME]


def test_python_cwt_accepts_the_sm2_claims_sets(sm: Any) -> None:
    decoded = _cwt(sm, verify=False)
    assert all("claims" in v for v in decoded.values()), decoded


# -- the EKU choice, measured: what NSS and OpenSSL need of a CMS signer ----------------------------


def _pdf_signed_with_ekus(es: Any, ekus: list[Any]) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    from elicense.crypto.keys import decrypt_private_key
    from elicense.crypto.pki import make_end_entity
    from elicense.crypto.suites import make_signer
    from elicense.pdf.sign import seal_and_sign

    issued = es.issued[NAME]
    entry = es.home.authority(issued.licence.issuer.code)
    own = es.home.certificates(entry.cert)[0]
    region = next(r for r in es.home.regions if es.home.certificates(r.ca_cert)[0].subject == own.issuer)
    ca = es.home.certificates(region.ca_cert)[0]
    assert region.ca_key is not None
    ca_key = decrypt_private_key((es.home.path / region.ca_key).read_bytes(), es.home.passphrase())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_end_entity(
        key.public_key(),
        entry.name,
        uscc=entry.code,
        province=region.name,
        issuer_cert=ca,
        issuer_key=ca_key,
        not_before=WALL - dt.timedelta(days=1),
        not_after=WALL + dt.timedelta(days=30),
        eku=ekus,
    )
    return seal_and_sign(issued, make_signer(key, cert, (ca,)))


def _nss_and_openssl_accept(es: Any, pdf: bytes, tmp: Path) -> tuple[bool, bool]:
    certutil, pdfsig, openssl = _tool("certutil"), _tool("pdfsig"), _tool("openssl")
    root = es.home.path / es.home.roots[0]
    db = tmp / "nss"
    db.mkdir(exist_ok=True)
    if not (db / "cert9.db").exists():
        _run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"])
        _run([certutil, "-A", "-d", f"sql:{db}", "-n", "root", "-t", "C,C,C", "-i", str(root)])
    (tmp / "x.pdf").write_bytes(pdf)
    nss = "Certificate is Trusted." in _run([pdfsig, "-nssdir", f"sql:{db}", str(tmp / "x.pdf")]).stdout
    cms_der, content = _cms_of(pdf)
    (tmp / "x.p7s").write_bytes(cms_der)
    (tmp / "x.bin").write_bytes(content)
    ossl = (
        _run(
            [
                openssl,
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                str(tmp / "x.p7s"),
                "-content",
                str(tmp / "x.bin"),
                "-CAfile",
                str(root),
                "-out",
                os.devnull,
            ]
        ).returncode
        == 0
    )
    return nss, ossl


def test_eku_choice_as_measured(es: Any, tmp_path: Path) -> None:
    """Only the private EKU, or with RFC 9336 documentSigning alone: NSS and OpenSSL refuse the signer;
    with emailProtection (the profile's list) both accept it."""
    from elicense.crypto.pki import LICENCE_SIGNER_EKUS, OID_EKU_DOCUMENT_SIGNING, OID_EKU_LICENCE_SIGNING

    private_only = _pdf_signed_with_ekus(es, [OID_EKU_LICENCE_SIGNING])
    with_document_signing = _pdf_signed_with_ekus(es, [OID_EKU_LICENCE_SIGNING, OID_EKU_DOCUMENT_SIGNING])
    profile = _pdf_signed_with_ekus(es, list(LICENCE_SIGNER_EKUS))
    assert _nss_and_openssl_accept(es, private_only, tmp_path) == (False, False)
    assert _nss_and_openssl_accept(es, with_document_signing, tmp_path) == (False, False)
    assert _nss_and_openssl_accept(es, profile, tmp_path) == (True, True)


# -- revocation found from the certificates alone: pyHanko fetches the published CRLs -------------


def test_pyhanko_hard_fail_finds_revocation_data_through_the_crl_distribution_points(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A world whose publication URL is a loopback HTTP server serving ``bundle --publish-dir``'s files:
    pyHanko (revocation hard-fail, fetching allowed) validates the B-B PDF from the certificates' CRL DPs;
    without fetching it cannot."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from elicense.demo import build_demo
    from elicense.pdf.sign import seal_and_sign
    from elicense.services.trust import publication_files

    served = tmp_path_factory.mktemp("pub")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        world = build_demo(
            tmp_path_factory.mktemp("fetch") / "w",
            now=WALL,
            seed=b"fetch",
            images=False,
            pdf=False,
            publication_base=base,
        )
        for rel, content in publication_files(world.home, WALL).items():
            (served / rel).parent.mkdir(parents=True, exist_ok=True)
            (served / rel).write_bytes(content)
        issued = world.issued[NAME]
        pdf = seal_and_sign(issued, world.home.signer(world.home.authority(issued.licence.issuer.code)))
        root = asn1_x509.Certificate.load(
            world.home.certificates(world.home.roots[0])[0].public_bytes(serialization.Encoding.DER)
        )

        def validate(fetch: bool) -> Any:
            sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
            context = ValidationContext(
                trust_roots=[root], allow_fetching=fetch, revocation_mode="hard-fail", crls=None if fetch else []
            )
            return validate_pdf_signature(sig, context)

        status = validate(True)
        assert status.bottom_line, status.pretty_print_details()
        assert not validate(False).bottom_line
    finally:
        server.shutdown()
        server.server_close()
