"""The packaged CJK font subset and the glyph-coverage checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from elicense.errors import LicenceDataError, UsageError
from elicense.fonts import (
    FONT_ENV_VAR,
    FontCoverageError,
    default_font_path,
    font_codepoints,
    missing_glyphs,
    require_glyphs,
    resolve_font,
)

NAME_CHARS = "王堃镕喆珺祎琇瑄昇"  # GB2312 lacks all but 王


def _gb2312_hanzi() -> str:
    out = []
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                out.append(bytes((row, cell)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(out)


def test_packaged_font_exists_with_licence_and_readme() -> None:
    path = default_font_path()
    assert path.is_file()
    assert path.name == "NotoSerifCJKsc-Regular-subset.otf"
    ofl = (path.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in ofl
    assert "Reserved Font Name" in ofl
    assert (path.parent / "README.md").is_file()
    assert (path.parent / "build_subset.py").is_file()


def test_font_is_cff_at_1000_upem() -> None:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    with TTFont(default_font_path(), lazy=True) as font:
        assert font["head"].unitsPerEm == 1000
        assert "CFF " in font
        assert "glyf" not in font
        assert font["name"].getDebugName(1) == "Noto Serif CJK SC"
        assert "GSUB" not in font or not font["GSUB"].table.FeatureList.FeatureRecord


def test_covers_name_characters_missing_from_gb2312() -> None:
    assert missing_glyphs(NAME_CHARS) == set()
    assert {c for c in NAME_CHARS if c != "王"}.isdisjoint(_gb2312_hanzi())


def test_covers_all_gb2312_hanzi() -> None:
    hanzi = _gb2312_hanzi()
    assert len(hanzi) == 6763
    assert missing_glyphs(hanzi) == set()


def test_covers_all_gbk_unified_ideographs_and_punctuation() -> None:
    cps = font_codepoints()
    assert all(cp in cps for cp in range(0x4E00, 0x9FA6))
    assert missing_glyphs("，。、；：？！“”‘’（）《》【】—…·〇０１２ＡＢ") == set()
    assert missing_glyphs("".join(chr(c) for c in range(0x20, 0x7F))) == set()
    # 通用规范汉字表 characters outside GBK
    assert missing_glyphs("䶮鿍𬌗𫖯𬘬") == set()


def test_missing_glyphs_reports_exactly_what_is_absent() -> None:
    assert missing_glyphs("abc😀") == {"😀"}
    assert missing_glyphs(" \n\t\u3000王堃\r\n") == set()
    assert missing_glyphs("") == set()


def test_require_glyphs_raises_listing_characters() -> None:
    require_glyphs("济南市行政审批服务局 王堃")
    with pytest.raises(FontCoverageError) as info:
        require_glyphs("王😀堃🀄")
    err = info.value
    assert isinstance(err, LicenceDataError)
    assert err.missing == frozenset({"😀", "🀄"})
    assert err.details["missing"] == ["U+1F004", "U+1F600"]
    assert "U+1F600" in str(err)
    assert err.code == "font_coverage"
    assert err.message_zh


def test_cmap_is_parsed_once_per_file() -> None:
    assert font_codepoints() is font_codepoints(default_font_path())


def test_resolve_font_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(FONT_ENV_VAR, raising=False)
    assert resolve_font() == default_font_path()
    other = tmp_path / "Other.otf"
    other.write_bytes(default_font_path().read_bytes()[:16])
    monkeypatch.setenv(FONT_ENV_VAR, str(other))
    assert resolve_font() == other.resolve()
    assert resolve_font(default_font_path()) == default_font_path()
    assert resolve_font(str(default_font_path())) == default_font_path()


def test_resolve_font_rejects_missing_and_collections(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        resolve_font(tmp_path / "nope.otf")
    ttc = tmp_path / "NotoSerifCJK-Regular.ttc"
    ttc.write_bytes(b"ttcf")
    with pytest.raises(UsageError, match="collection"):
        resolve_font(ttc)


def test_unreadable_font_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.otf"
    bad.write_bytes(b"not a font at all")
    with pytest.raises(UsageError):
        missing_glyphs("王", bad)


def test_import_does_not_load_fonttools() -> None:
    code = "import sys, elicense.fonts; sys.exit('fontTools' in sys.modules)"
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(src)},
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "path", [default_font_path(), Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")], ids=["cff", "truetype"]
)
def test_glyphs_named_by_index_give_the_code_points_and_advances_of_the_fonts_own_names(path: Path) -> None:
    """The coverage check and the OFD layout read fonts with glyphs named by index (no CFF charset parse);
    what they read must be what fontTools reads with the font's own glyph names."""
    if not path.is_file():
        pytest.skip(f"{path} not installed")
    from fontTools.ttLib import TTFont

    from elicense.fonts import open_by_glyph_index
    from elicense.ofd.layout import font_metrics

    with TTFont(str(path), lazy=True) as font:
        cmap = font.getBestCmap()
        hmtx, upem = font["hmtx"], font["head"].unitsPerEm
        advances = {cp: hmtx[name][0] / upem for cp, name in cmap.items()}
        order = font.getGlyphOrder()
    assert font_codepoints(path) == frozenset(cmap)
    assert font_metrics(path).advances == advances
    index = {name: i for i, name in enumerate(order)}
    with open_by_glyph_index(str(path)) as font:
        assert {cp: int(name[1:]) for cp, name in font.getBestCmap().items()} == {
            cp: index[n] for cp, n in cmap.items()
        }
