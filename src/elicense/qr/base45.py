"""Base45 (RFC 9285), tuned for the QR verify hot path.

The ``base45`` package decodes a 600-character payload in ~65 µs; this
table-driven version does it in ~20 µs by doing the per-character work in C
(``str.translate``, slicing) and only the per-triplet arithmetic in Python.
It is cross-checked against the ``base45`` package in the tests.
"""

from __future__ import annotations

import sys
from array import array

from elicense.errors import PayloadError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = "\xff"
# Map every code point < 256 to a byte value; invalid characters map to 0xFF.
_DECODE_TABLE = dict.fromkeys(range(256), _INVALID)
_DECODE_TABLE.update({ord(c): chr(v) for v, c in enumerate(ALPHABET)})
_VALID_VALUES = bytes(range(45))
_LITTLE = sys.byteorder == "little"


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    out: list[str] = []
    a = ALPHABET
    full = len(data) - len(data) % 2
    for i in range(0, full, 2):
        n = (data[i] << 8) | data[i + 1]
        e, n = divmod(n, 2025)
        d, c = divmod(n, 45)
        out.append(a[c] + a[d] + a[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(a[c] + a[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text; any invalid character, length or value is a :class:`PayloadError`."""
    if not text.isascii():
        raise PayloadError("Base45 text contains non-ASCII characters", message_zh="Base45 含非 ASCII 字符")
    values = text.translate(_DECODE_TABLE).encode("latin-1")
    if values.translate(None, _VALID_VALUES):
        raise PayloadError("invalid Base45 character", message_zh="Base45 字符无效")
    n = len(values)
    rem = n % 3
    if rem == 1:
        raise PayloadError("invalid Base45 length", message_zh="Base45 长度无效")
    full = n - rem
    words = [
        c + 45 * d + 2025 * e for c, d, e in zip(values[0:full:3], values[1:full:3], values[2:full:3], strict=True)
    ]
    if words and max(words) > 0xFFFF:
        raise PayloadError("Base45 triplet out of range", message_zh="Base45 数值越界")
    buf = array("H", words)
    if _LITTLE:
        buf.byteswap()
    out = buf.tobytes()
    if rem == 2:
        last = values[full] + 45 * values[full + 1]
        if last > 0xFF:
            raise PayloadError("Base45 pair out of range", message_zh="Base45 数值越界")
        out += bytes((last,))
    return out
