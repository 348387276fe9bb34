"""Build the packaged CJK font subset (maintainer tool; never imported at runtime).

Usage (Debian/Ubuntu, as root for the installs)::

    apt-get install -y fonts-noto-cjk unicode-data
    python src/elicense/fonts/build_subset.py            # Noto Serif CJK SC Regular
    python src/elicense/fonts/build_subset.py --family sans   # optional Sans face

The glyph set is the union of

* printable ASCII, Latin-1 (U+00A0-U+00FF) and General Punctuation (U+2000-U+206F);
* CJK Symbols and Punctuation (U+3000-U+303F) and Halfwidth/Fullwidth Forms (U+FF00-U+FFEF);
* every character of **GBK**: all double-byte code points (lead 0x81-0xFE, trail
  0x40-0x7E and 0x80-0xFE) decoded with Python's ``gbk`` codec, Private Use Area
  mappings dropped. This includes all 20,902 CJK Unified Ideographs U+4E00-U+9FA5,
  so name characters missing from GB2312 (镕 堃 喆 珺 祎 琇 瑄 昇) are covered;
* every character of the **通用规范汉字表** (2013, all three levels, 8,105 characters)
  taken from the Unihan ``kTGH`` field (``/usr/share/unicode/Unihan_*.txt.bz2`` from
  Debian's ``unicode-data``): 276 of them are outside GBK (e.g. 䶮 𬌗 𫖯 鿍);

restricted to what the font maps. The subset keeps CFF outlines and hinting, drops
all OpenType layout features (``layout_features=[]``: removes the JP/KR/TC
alternates and halves the file) and keeps every name record (``name_IDs=['*']``).
The timestamp in ``head`` is kept from the source font, so the build is reproducible.
"""

from __future__ import annotations

import argparse
import bz2
import sys
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
UNIHAN_DIR = Path("/usr/share/unicode")
HERE = Path(__file__).resolve().parent

FAMILIES = {
    "serif": ("NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC", "NotoSerifCJKsc-Regular-subset.otf"),
    "sans": ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC", "NotoSansCJKsc-Regular-subset.otf"),
}

BLOCKS = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 supplement
    (0x2000, 0x206F),  # General Punctuation (— ‘ ’ “ ” … ‰ ※)
    (0x3000, 0x303F),  # CJK Symbols and Punctuation (、 。 〇 《 》 【 】)
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
)


def _is_private_use(cp: int) -> bool:
    return 0xE000 <= cp <= 0xF8FF


def gbk_codepoints() -> set[int]:
    """Every non-PUA character GBK encodes as a double-byte sequence."""
    out: set[int] = set()
    for lead in range(0x81, 0xFF):
        for trail in range(0x40, 0xFF):
            if trail == 0x7F:
                continue
            try:
                text = bytes((lead, trail)).decode("gbk")
            except UnicodeDecodeError:
                continue
            cp = ord(text)
            if len(text) == 1 and not _is_private_use(cp):
                out.add(cp)
    return out


def gb2312_hanzi() -> set[int]:
    """The 6,763 hanzi of GB 2312 (rows 16-87) - used for the coverage report."""
    out: set[int] = set()
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes((row, cell)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return out


def tgh_codepoints(unihan_dir: Path = UNIHAN_DIR) -> dict[int, int]:
    """通用规范汉字表 (Unihan kTGH): code point -> ordinal.

    Ordinals 1-3500 are level 1, 3501-6500 level 2, 6501-8105 level 3.
    """
    out: dict[int, int] = {}
    files = sorted(unihan_dir.glob("Unihan_*.txt.bz2")) + sorted(unihan_dir.glob("Unihan_*.txt"))
    for path in files:
        opener = bz2.open if path.suffix == ".bz2" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if "\tkTGH\t" not in line:
                    continue
                cp_text, _, value = line.rstrip("\n").split("\t")
                for item in value.split():
                    _, ordinal = item.split(":")
                    out[int(cp_text[2:], 16)] = int(ordinal)
    return out


def wanted_codepoints(unihan_dir: Path = UNIHAN_DIR) -> tuple[set[int], set[int]]:
    """(everything to keep if the font has it, the subset that must be covered)."""
    required = gbk_codepoints()
    tgh = tgh_codepoints(unihan_dir)
    if len(tgh) != 8105:
        raise SystemExit(
            f"expected 8105 kTGH entries in {unihan_dir}, found {len(tgh)}: "
            "install Debian's unicode-data (Unicode >= 13)"
        )
    required |= set(tgh)
    wanted = set(required)
    for lo, hi in BLOCKS:
        wanted.update(range(lo, hi + 1))
    return wanted, required


def open_face(ttc: Path, family: str) -> TTFont:
    """The face of ``ttc`` whose name ID 1 is ``family`` (SC is index 2 today)."""
    index = 0
    while True:
        try:
            font = TTFont(ttc, fontNumber=index, lazy=False)
        except IndexError:
            break
        if font["name"].getDebugName(1) == family:
            return font
        font.close()
        index += 1
    raise SystemExit(f"no face named {family!r} in {ttc}")


def build(family: str, out: Path, noto_dir: Path, unihan_dir: Path) -> None:
    ttc_name, face_name, _ = FAMILIES[family]
    font = open_face(noto_dir / ttc_name, face_name)
    if "CFF " not in font or font["head"].unitsPerEm != 1000:
        raise SystemExit(f"{face_name}: expected CFF outlines at 1000 units/em")
    cmap = font.getBestCmap()
    wanted, required = wanted_codepoints(unihan_dir)
    absent = sorted(cp for cp in required if cp not in cmap)
    keep = sorted(cp for cp in wanted if cp in cmap)

    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.recalc_timestamp = False
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=keep)
    subsetter.subset(font)
    font.recalcTimestamp = False
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(out)

    check = TTFont(out)
    got = check.getBestCmap()
    if check["head"].unitsPerEm != 1000 or "CFF " not in check:
        raise SystemExit(f"{out}: not CFF at 1000 units/em")
    gb2312_missing = gb2312_hanzi() - set(got)
    print(
        f"{out}: {out.stat().st_size:,} bytes, {len(check.getGlyphOrder()):,} glyphs, {len(got):,} code points mapped"
    )
    print(
        f"  GB2312 hanzi missing: {len(gb2312_missing)}; GBK/通用规范 characters the source font lacks: {len(absent)}"
    )
    if absent:
        print("  " + " ".join(f"U+{cp:04X}" for cp in absent[:50]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), default="serif")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--noto-dir", type=Path, default=NOTO_DIR)
    parser.add_argument("--unihan-dir", type=Path, default=UNIHAN_DIR)
    args = parser.parse_args(argv)
    out = args.out or HERE / FAMILIES[args.family][2]
    build(args.family, out, args.noto_dir, args.unihan_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
