"""Every PDF path runs with warnings as errors, on whatever releases pip installed.

A dependency's new warning (cryptography 51's DSA deprecation, reached through pyHanko's imports)
broke the CLI's "one line on stderr" promise once. These tests run the real commands in fresh
interpreters with ``-W error`` (every warning category, not only ``DeprecationWarning``:
``CryptographyDeprecationWarning`` is a ``UserWarning``), so CI notices the next one on the day a
release brings it.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELICENSE_") and k != "PYTHONWARNINGS"}
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "elicense.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("warn") / "demo"
    proc = _run("demo", str(out), "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    return out


def test_demo_with_pdfs_prints_no_warning(demo_out: Path) -> None:
    assert sorted(demo_out.glob("licences/*.pdf"))


def test_verify_pdf_cli_prints_no_warning(demo_out: Path) -> None:
    pdf = demo_out / "licences" / "business-licence-jinan.pdf"
    proc = _run("verify", str(pdf), "--trust", str(demo_out / "trust-bundle.cose"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_render_prints_no_warning(demo_out: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    proc = _run(
        "render", "--home", str(demo_out), "--licence", "business-licence-jinan", "-o", str(out), "--pdf-level", "B-LT"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert out.read_bytes().startswith(b"%PDF")


def test_issue_pdf_batch_prints_no_warning(demo_out: Path, tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "paper-era-business-licences.csv"
    with example.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    small = tmp_path / "two.csv"
    with small.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows[:3])
    pdfs = tmp_path / "pdf"
    proc = _run(
        "issue",
        "--batch",
        str(small),
        "--type",
        "business-licence",
        "--home",
        str(demo_out),
        "--pdf",
        str(pdfs),
        "--no-progress",
        "--report",
        str(tmp_path / "report.csv"),
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == "", proc.stderr
    assert sorted(pdfs.glob("*.pdf"))


def test_verify_pdf_api_raises_no_warning(demo_out: Path) -> None:
    """The Python API path: the first import of the PDF stack happens inside ``warnings`` = error."""
    code = (
        "import warnings, sys\n"
        "warnings.simplefilter('error')\n"
        "from pathlib import Path\n"
        "from elicense.verify import Verifier\n"
        f"v = Verifier.from_trust_file(Path({str(demo_out / 'trust-bundle.cose')!r}))\n"
        f"r = v.verify_pdf(Path({str(demo_out / 'licences' / 'business-licence-jinan.pdf')!r}).read_bytes())\n"
        "print(r.status.name)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELICENSE_") and k != "PYTHONWARNINGS"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "VALID"
    assert proc.stderr == ""


def test_application_dsa_warning_is_not_swallowed() -> None:
    """The filter is attributed to pyHanko's modules only: an application's own DSA use still warns."""
    code = (
        "import warnings\n"
        "warnings.simplefilter('error')\n"
        "import elicense.pdf, elicense.pdf.sign, elicense.pdf.verify\n"
        "import pyhanko.sign.signers.pdf_cms\n"
        "from cryptography.hazmat.primitives.asymmetric import dsa\n"
        "try:\n"
        "    dsa.generate_private_key\n"
        "except Warning as w:\n"
        "    print(type(w).__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    if proc.stdout.strip() == "":
        pytest.skip("this cryptography release does not deprecate DSA")
    assert proc.stdout.strip() == "CryptographyDeprecationWarning"
