"""Text that reaches a person or a spreadsheet: invisible and reordering characters, formula prefixes.

* **Bidi controls and format characters** (Unicode category Cf: U+202A–202E, U+2066–2069, U+200E/F,
  U+061C, zero-width U+200B–200D, U+2060, U+FEFF, ...) and C0/C1 controls, line/paragraph separators
  make ``‮ydob‬`` read as another name (Trojan Source, CVE-2021-42574) or a name of nothing. Issuance
  refuses them (:func:`unsafe_char`, used by the catalogue and the model); whatever is *shown* — a payload
  signed by a rogue issuer may carry them — goes through :func:`neutralise`, which writes each one as
  ``<U+202E>``.
* **CSV formula injection** (OWASP): a cell starting with ``= + - @``, tab or CR is run as a formula by
  spreadsheet programs; :func:`csv_cell` prefixes it with ``'``.

No imports beyond the standard library: the CLI, the kiosk, the catalogue and the model all use it.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["FORMAT_CHARACTERS", "HOLDER_LABELS", "cn_date", "csv_cell", "neutralise", "page_text", "unsafe_char"]

FORMAT_CHARACTERS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
"""Every code point of Unicode category Cf (format), as a regex class body (a test checks it against
``unicodedata``); spelt out so that importing this module scans no tables (cold start)."""

_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
_UNSAFE = re.compile(f"[\t\n{_CONTROLS}{FORMAT_CHARACTERS}]")
_UNSAFE_EXCEPT_NEWLINES = re.compile(f"[{_CONTROLS}{FORMAT_CHARACTERS}]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def unsafe_char(text: str, *, allow_newlines: bool = False) -> str | None:
    """The first control, separator, surrogate or format (bidi, zero-width) character of ``text``, else
    ``None``; ``\\n`` and ``\\t`` pass when ``allow_newlines`` (multi-line text fields)."""
    found = (_UNSAFE_EXCEPT_NEWLINES if allow_newlines else _UNSAFE).search(text)
    return None if found is None else found.group()


def describe(char: str) -> str:
    """``U+202E`` for a character (error messages)."""
    return f"U+{ord(char):04X}"


def neutralise(text: str) -> str:
    """``text`` with every unsafe character written as ``<U+XXXX>`` (what a screen or terminal may show)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: f"<{describe(m.group())}>", text)


def csv_cell(value: object) -> object:
    """A report cell safe to open in a spreadsheet: text starting with a formula prefix gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# -- the printed licence (PDF and OFD pages) ------------------------------------------------------

HOLDER_LABELS = {
    "001": ("名称", "统一社会信用代码"),
    "111": ("姓名", "公民身份号码"),
    "099": ("名称", "证件号码"),
}
"""Holder code type → (name label, code label) on a printed licence (PDF and OFD)."""


def cn_date(day: dt.date) -> str:
    """A date as a printed licence shows it: ``2024年03月01日``."""
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def page_text(value: object) -> str:
    """A field value as a printed licence shows it (dates in Chinese form)."""
    if isinstance(value, dt.date):
        return cn_date(value)
    return str(value)
