"""``elicense demo`` writes a signed PDF per sample; the PDFs verify like their QR codes (status samples INVALID
with the matching reason); a photo of the printed page verifies through its QR."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from elicense.cli import run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EXPECTED = {
    "food-business-licence-expired": "licence_expired",
    "business-licence-revoked": "licence_revoked",
    "food-business-licence-suspended": "licence_suspended",
    "driving-licence-superseded": "licence_superseded",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pdfdemo") / "demo"
    assert run(["demo", str(out)]) == 0
    return out


def test_demo_pdfs_verify_like_their_qr_codes(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lic = demo / "licences"
    names = sorted(p.name.removesuffix(".qr.txt") for p in lic.glob("*.qr.txt"))
    assert set(EXPECTED) <= set(names) and "driving-licence-renewed" in names
    capsys.readouterr()
    pdfs = [str(lic / f"{n}.pdf") for n in names]
    assert run(["verify", *pdfs, "--trust", str(demo / "trust-bundle.cose"), "--json"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(names)
    for name, row in zip(names, rows, strict=True):
        assert row["kind"] == "pdf", name
        assert "pdf_signature" in {c["name"] for c in row["checks"]}, name
        if name in EXPECTED:
            assert row["status"] == "INVALID", (name, row["reasons"])
            assert [r["code"] for r in row["reasons"]] == [EXPECTED[name]], (name, row["reasons"])
        else:
            assert row["status"] == "VALID", (name, row["reasons"])
    capsys.readouterr()
    for name, code in EXPECTED.items():  # the QR text of the same sample says the same
        run(["verify", str(lic / f"{name}.qr.txt"), "--trust", str(demo / "trust-bundle.cose"), "--json"])
        row = json.loads(capsys.readouterr().out)
        assert row["status"] == "INVALID" and row["reasons"][0]["code"] == code


def test_photo_of_the_printed_page_verifies(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Print → photograph, simulated: 150 dpi render, slight rotation and perspective, blur, noise, JPEG."""
    import random

    import pypdfium2 as pdfium
    from PIL import Image, ImageFilter

    pdf = (demo / "licences" / "business-licence-jinan.pdf").read_bytes()
    doc = pdfium.PdfDocument(pdf)
    doc.init_forms()
    page = doc[0].render(scale=150 / 72, may_draw_forms=True).to_pil().convert("RGB")
    w, h = page.size
    canvas = Image.new("RGB", (w + 200, h + 200), (90, 80, 70))  # the table under the sheet
    canvas.paste(page, (100, 100))
    photo = canvas.rotate(4.0, resample=Image.Resampling.BICUBIC, fillcolor=(90, 80, 70))
    d = 40  # keystone: the camera was not square to the sheet
    W, H = photo.size
    photo = photo.transform((W, H), Image.Transform.QUAD, (d, 0, 0, H, W, H, W - d, 0), Image.Resampling.BICUBIC)
    photo = photo.filter(ImageFilter.GaussianBlur(0.8))
    noise = Image.frombytes("L", (W, H), random.Random(7).randbytes(W * H)).convert("RGB")  # sensor noise
    photo = Image.blend(photo, noise, 0.08)
    shot = tmp_path / "page.jpg"
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=70)
    shot.write_bytes(buf.getvalue())
    capsys.readouterr()
    assert run(["verify", str(shot), "--trust", str(demo / "trust-bundle.cose"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["status"] == "VALID" and row["kind"] == "qr"
    run(["verify", str(demo / "licences" / "business-licence-jinan.qr.txt"), "--trust",
         str(demo / "trust-bundle.cose"), "--json"])  # fmt: skip
    assert row["licence"]["id"] == json.loads(capsys.readouterr().out)["licence"]["id"]
