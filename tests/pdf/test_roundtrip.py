"""Render → seal → sign → verify for every catalogue type, plus independent checks
(poppler pdfsig/pdffonts/pdftotext, qpdf --check, QR from a 150 dpi render)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import NOW
from elicense.catalog import Catalog
from elicense.verify.inputs import verify_bytes
from elicense.verify.result import Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _pdf_for(world, name: str) -> bytes:  # type: ignore[no-untyped-def]
    from elicense.pdf.sign import PdfSigningOptions, seal_and_sign

    issued = world.issued[name]
    entry = world.home.authority(issued.licence.issuer.code)
    return seal_and_sign(issued, world.home.signer(entry), options=PdfSigningOptions(seal_name=entry.seal_name))


_CACHE: dict[str, bytes] = {}


@pytest.fixture(scope="module")
def pdfs(world):  # type: ignore[no-untyped-def]
    """One signed PDF per catalogue type (the first demo sample of each type)."""
    by_type: dict[str, str] = {}
    for name, issued in world.issued.items():
        if "expired" in name or "revoked" in name or "suspended" in name or "superseded" in name:
            continue
        by_type.setdefault(issued.licence.type_code, name)
    out = {name: _pdf_for(world, name) for name in by_type.values()}
    _CACHE.update(out)
    return out


def test_every_catalogue_type_round_trips(pdfs, world, verifier) -> None:  # type: ignore[no-untyped-def]
    types = {world.issued[name].licence.type_code for name in pdfs}
    assert types == {lt.code for lt in Catalog.default()}
    for name, data in pdfs.items():
        result = verifier.verify_pdf(data, at=NOW)
        assert result.status is Status.VALID, (name, result.reasons)
        assert result.kind == "pdf"
        assert result.licence is not None and result.licence.id == world.issued[name].licence.id
        names = [c.name for c in result.checks]
        for check in (
            "pdf_parse",
            "pdf_signature",
            "pdf_modifications",
            "pdf_signer",
            "pdf_attachment",
            "pdf_qr",
            "signature",
            "issuer_authorisation",
        ):
            assert check in names, (name, check)


def test_verify_bytes_dispatches_pdf(pdfs, verifier) -> None:  # type: ignore[no-untyped-def]
    data = next(iter(pdfs.values()))
    [result] = verify_bytes(verifier, data, at=NOW)
    assert result.status is Status.VALID and result.kind == "pdf"


def test_expired_licence_pdf_is_invalid(world, verifier) -> None:  # type: ignore[no-untyped-def]
    result = verifier.verify_pdf(_pdf_for(world, "food-business-licence-expired"), at=NOW)
    assert result.status is Status.INVALID and result.has_reason("licence_expired")


def test_render_is_one_page_with_seal_room(world) -> None:  # type: ignore[no-untyped-def]
    from elicense.pdf.render import render_licence

    rendered = render_licence(world.issued["business-licence-jinan"])
    assert rendered.pdf.startswith(b"%PDF-") and rendered.page == 0
    x1, y1, x2, y2 = rendered.seal_box
    assert 100 < x2 - x1 < 130 and abs((x2 - x1) - (y2 - y1)) < 1  # 42 mm ≈ 119 pt, round
    qx1, qy1, qx2, qy2 = rendered.qr_box
    assert qx2 < x1 or qy2 < y1 or qx1 > x2 or qy1 > y2  # QR and seal do not overlap (营业执照: QR top right)


def test_missing_glyph_is_a_typed_error(world) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from elicense.fonts import FontCoverageError
    from elicense.model import Holder
    from elicense.pdf.render import render_licence

    issued = world.issued["business-licence-jinan"]
    holder = Holder("山东\U0002a6a5科技有限公司", issued.licence.holder.code, issued.licence.holder.code_type)
    bad = replace(issued, licence=replace(issued.licence, holder=holder))
    with pytest.raises(FontCoverageError):
        render_licence(bad)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (apt-get install poppler-utils qpdf)")
    return path


@pytest.fixture(scope="module")
def pdf_file(pdfs, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    name = next(n for n in pdfs if n.startswith("business-licence"))
    path = tmp_path_factory.mktemp("pdf") / f"{name}.pdf"
    path.write_bytes(pdfs[name])
    return path


def test_pdfsig_reports_signature_intact(pdf_file: Path) -> None:
    out = subprocess.run(
        [_tool("pdfsig"), "-nocert", str(pdf_file)], capture_output=True, text=True, check=False
    ).stdout
    assert "Signature is Valid" in out, out
    assert "Total document signed" in out
    assert "ETSI.CAdES.detached" in out


def test_qpdf_check_passes(pdf_file: Path) -> None:
    proc = subprocess.run([_tool("qpdf"), "--check", str(pdf_file)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No syntax or stream encoding errors" in proc.stdout


def test_pdffonts_all_embedded(pdf_file: Path) -> None:
    out = subprocess.run([_tool("pdffonts"), str(pdf_file)], capture_output=True, text=True, check=True).stdout
    rows = out.splitlines()[2:]
    assert rows, out
    for row in rows:
        cols = row.split()
        assert cols[-5:-2] == ["yes", "yes", "yes"], row  # emb sub uni


def test_pdftotext_gives_the_chinese_back(pdf_file: Path, world) -> None:  # type: ignore[no-untyped-def]
    text = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(pdf_file), "-"], capture_output=True, text=True, check=True
    ).stdout
    issued = world.issued[pdf_file.stem]
    assert "营业执照" in text.replace(" ", "")
    assert issued.licence.holder.name in text
    assert issued.licence.issuer.name in text
    assert str(issued.licence.id) in text


def test_qr_decodes_from_150_dpi_render(pdf_file: Path, world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from elicense.qr.decode import read_payloads

    subprocess.run(
        [_tool("pdftoppm"), "-r", "150", "-png", "-singlefile", str(pdf_file), str(tmp_path / "page")], check=True
    )
    payloads = read_payloads((tmp_path / "page.png").read_bytes())
    assert payloads == [world.issued[pdf_file.stem].qr_payload]


def test_pdfium_render_with_forms_shows_seal_and_qr(pdf_file: Path, world, verifier) -> None:  # type: ignore[no-untyped-def]
    import io

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf_file.read_bytes())
    doc.init_forms()
    image = doc[0].render(scale=150 / 72, may_draw_forms=True).to_pil().convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    # a photo/scan of the printed page verifies through the QR
    [result] = verify_bytes(verifier, buf.getvalue(), at=NOW)
    assert result.status is Status.VALID and result.kind == "qr"
    # the red seal is drawn (the signature appearance): many strongly red pixels
    red = sum(1 for r, g, b in image.getdata() if r > 180 and g < 90 and b < 90)
    assert red > 2000


def test_cli_render_writes_a_verifying_pdf(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from elicense.cli import run

    out = tmp_path / "out.pdf"
    name = "driving-licence-nanjing"
    if not (world.home.path / "licences" / f"{name}.cose").exists():
        pytest.skip("demo did not write licence files")
    assert run(["render", "--home", str(world.home.path), "--licence", name, "-o", str(out)]) == 0
    code = run(["verify", str(out), "--trust", str(world.trust_file), "--at", NOW.isoformat()])
    assert code == 0
    assert run(["render", "--home", str(world.home.path), "--licence", "../etc", "-o", str(out)]) == 3


def test_qr_is_read_from_the_image_xobject_without_rendering(pdfs, verifier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from elicense.pdf import verify as pdf_verify

    def no_render(data: bytes) -> str:
        raise AssertionError("page rendering should not be needed for a digital PDF")

    monkeypatch.setattr(pdf_verify, "_qr_from_render", no_render)
    for data in pdfs.values():
        assert verifier.verify_pdf(data, at=NOW).status is Status.VALID
