"""A user-chosen font (one face extracted from a system font collection, as the README says) instead of the
packaged one: ``elicense render --font FILE`` and ``$ELICENSE_FONT`` for ``issue_pdf``; the PDF verifies, embeds
that font and gives the Chinese back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import NOW
from elicense.verify.result import Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TTC = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")  # Debian fonts-noto-cjk
NAME = "business-licence-jinan"


@pytest.fixture(scope="module")
def sans(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    if not TTC.exists():
        pytest.skip("fonts-noto-cjk not installed")
    from fontTools.ttLib import TTCollection  # type: ignore[import-untyped]

    collection = TTCollection(str(TTC), lazy=True)
    face = next(f for f in collection.fonts if f["name"].getDebugName(4) == "Noto Sans CJK SC")
    out: Path = tmp_path_factory.mktemp("font") / "NotoSansCJKsc-Regular.otf"
    face.save(str(out))
    return out


def _fonts(pdf: Path) -> str:
    if shutil.which("pdffonts") is None:
        pytest.skip("poppler-utils not installed")
    return subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout


def test_render_with_another_font(sans: Path, world, verifier, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from elicense.cli import run

    out = tmp_path / "sans.pdf"
    home = tmp_path / "home"
    shutil.copytree(world.home.path, home)
    assert run(["render", "--home", str(home), "--licence", NAME, "-o", str(out), "--font", str(sans)]) == 0
    result = verifier.verify_pdf(out.read_bytes(), at=NOW)
    assert result.status is Status.VALID, result.reasons
    fonts = _fonts(out)
    assert "+NotoSansCJKSC" in fonts and "NotoSerif" not in fonts, fonts
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert world.issued[NAME].licence.holder.name in text and "营业执照" in text.replace(" ", "")
    assert run(["render", "--home", str(home), "--licence", NAME, "-o", str(out), "--font",
                str(TTC)]) == 3  # a collection: extract one face first  # fmt: skip


def test_environment_font_is_used_by_issue_pdf(
    sans: Path,
    world,
    verifier,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from elicense.pdf import issue_pdf

    monkeypatch.setenv("ELICENSE_FONT", str(sans))
    issued = world.issued[NAME]
    entry = world.home.authority(issued.licence.issuer.code)
    data = issue_pdf(issued, world.home.signer(entry), seal_name=entry.seal_name)
    assert verifier.verify_pdf(data, at=NOW).status is Status.VALID
    path = tmp_path / "env.pdf"
    path.write_bytes(data)
    assert "+NotoSansCJKSC" in _fonts(path)
