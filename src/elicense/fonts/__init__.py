"""The packaged CJK font and glyph-coverage checks.

elicense ships a subset of **Noto Serif CJK SC Regular** (SIL OFL 1.1, see ``OFL.txt``)
covering ASCII, CJK punctuation, full-width forms, all of GBK and the whole
通用规范汉字表; ``README.md`` and ``build_subset.py`` beside this file say how it is built.

A character the font lacks must never be dropped or drawn as a box: callers check
with :func:`require_glyphs` before rendering (pyHanko even crashes on it).

This module is imported on cold-start paths: fontTools is imported lazily, only when
a cmap is first read.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from elicense.errors import LicenceDataError, UsageError

if TYPE_CHECKING:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

__all__ = [
    "DEFAULT_FONT_NAME",
    "FONT_ENV_VAR",
    "FontCoverageError",
    "default_font_path",
    "font_codepoints",
    "missing_glyphs",
    "require_glyphs",
    "resolve_font",
]

DEFAULT_FONT_NAME = "NotoSerifCJKsc-Regular-subset.otf"
"""File name of the packaged subset, next to this module."""

FONT_ENV_VAR = "ELICENSE_FONT"
"""Environment variable naming a font file that replaces the packaged one."""

FontPath = str | os.PathLike[str] | None
"""What the functions here accept as a font: a path, or ``None`` for :func:`resolve_font`."""

_UNSUPPORTED_SUFFIXES = {".ttc", ".otc", ".woff", ".woff2"}


class FontCoverageError(LicenceDataError):
    """Text contains characters the font cannot draw.

    ``missing`` holds the characters (also in ``details["missing"]`` as ``U+XXXX``).
    """

    code = "font_coverage"

    def __init__(self, missing: set[str] | frozenset[str], font_path: Path) -> None:
        chars = sorted(missing)
        listing = " ".join(f"{c} (U+{ord(c):04X})" for c in chars)
        super().__init__(
            f"font {font_path.name} has no glyph for {len(chars)} character(s): {listing}",
            message_zh=f"字体 {font_path.name} 缺少 {len(chars)} 个字符的字形：{listing}",
            details={
                "missing": [f"U+{ord(c):04X}" for c in chars],
                "font": str(font_path),
            },
        )
        self.missing: frozenset[str] = frozenset(chars)
        self.font_path = font_path


def default_font_path() -> Path:
    """The packaged Noto Serif CJK SC subset (1000 units/em, CID-keyed CFF)."""
    return Path(__file__).resolve().parent / DEFAULT_FONT_NAME


def resolve_font(path: str | os.PathLike[str] | None = None) -> Path:
    """The font to use: ``path`` if given, else ``$ELICENSE_FONT``, else the packaged one.

    Raises :class:`~elicense.errors.UsageError` if the chosen file does not exist or is
    a font collection / WOFF file (extract one face as ``.otf``/``.ttf`` first).
    """
    if path is None:
        env = os.environ.get(FONT_ENV_VAR, "").strip()
        chosen = Path(env).expanduser() if env else default_font_path()
    else:
        chosen = Path(path).expanduser()
    if chosen.suffix.lower() in _UNSUPPORTED_SUFFIXES:
        raise UsageError(
            f"font {chosen} is a collection or web font; extract one face as .otf/.ttf",
            message_zh=f"字体 {chosen} 是字体集合或网页字体，请先提取单个字体为 .otf/.ttf",
            details={"font": str(chosen)},
        )
    if not chosen.is_file():
        raise UsageError(
            f"font file not found: {chosen}",
            message_zh=f"找不到字体文件：{chosen}",
            details={"font": str(chosen)},
        )
    return chosen.resolve()


def open_by_glyph_index(path: str) -> TTFont:
    """The font at ``path`` (fontTools, read lazily), its glyphs named ``g0``, ``g1``, … by index.

    For a reader of code points and advances only: a CFF font's own glyph names come from its charset,
    which fontTools parses in Python the first time any table needs a name (~50 ms for the packaged
    22,397-glyph font, in every process that checks or lays out text); names by index cost nothing, and
    ``cmap`` and ``hmtx`` agree on them. Not for a writer that copies glyphs by name."""
    from fontTools.ttLib import TTFont

    font = TTFont(path, lazy=True)
    try:
        font.setGlyphOrder([f"g{i}" for i in range(font["maxp"].numGlyphs)])
    except BaseException:
        font.close()
        raise
    return font


@functools.lru_cache(maxsize=8)
def _codepoints(path: str, mtime_ns: int, size: int) -> frozenset[int]:
    try:
        with open_by_glyph_index(path) as font:
            cmap = font.getBestCmap()
    except Exception as exc:  # fontTools raises many types on garbage
        raise UsageError(
            f"cannot read font {path}: {exc}",
            message_zh=f"无法读取字体 {path}",
            details={"font": path},
        ) from exc
    if not cmap:
        raise UsageError(f"font {path} has no Unicode cmap", details={"font": path})
    return frozenset(cmap)


def font_codepoints(font_path: FontPath = None) -> frozenset[int]:
    """Code points mapped by the font's cmap (parsed once per file and cached)."""
    path = resolve_font(font_path)
    st = path.stat()
    return _codepoints(str(path), st.st_mtime_ns, st.st_size)


def missing_glyphs(text: str, font_path: FontPath = None) -> set[str]:
    """Characters of ``text`` the font has no glyph for (whitespace is ignored)."""
    cps = font_codepoints(font_path)
    return {c for c in set(text) if not c.isspace() and ord(c) not in cps}


def require_glyphs(text: str, font_path: FontPath = None) -> None:
    """Raise :class:`FontCoverageError` if the font cannot draw every character of ``text``."""
    missing = missing_glyphs(text, font_path)
    if missing:
        raise FontCoverageError(missing, resolve_font(font_path))
