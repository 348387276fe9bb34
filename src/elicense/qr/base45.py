"""Base45 (RFC 9285), tuned for the QR verify hot path.

The ``base45`` package decodes a 300-character payload in ~35 µs; this one
does it in ~6 µs with no per-character Python code at all: ``bytes.translate``
maps characters to values, slicing splits the triplets into three byte
strings, and three big-integer operations compute every 16-bit word at once
(each word in its own 32-bit lane, so an out-of-range triplet cannot carry into
its neighbour and is detected from the lanes' high bytes).
It is cross-checked against the ``base45`` package in the tests.
"""

from __future__ import annotations

from elicense.errors import PayloadError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_DECODE_TABLE = bytes(ALPHABET.index(chr(i)) if chr(i) in ALPHABET else 0xFF for i in range(256))
"""Character code → value 0..44; anything else → 0xFF."""
_VALID_VALUES = bytes(range(45))


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
    try:
        values = text.encode("ascii").translate(_DECODE_TABLE)
    except UnicodeEncodeError as exc:
        raise PayloadError("Base45 text contains non-ASCII characters", message_zh="Base45 含非 ASCII 字符") from exc
    if values.translate(None, _VALID_VALUES):
        raise PayloadError("invalid Base45 character", message_zh="Base45 字符无效")
    n = len(values)
    rem = n % 3
    if rem == 1:
        raise PayloadError("invalid Base45 length", message_zh="Base45 长度无效")
    full = n - rem
    k = full // 3
    lanes = bytearray(4 * k)  # one 32-bit big-endian lane per triplet
    lanes[3::4] = values[0:full:3]
    c = int.from_bytes(lanes, "big")
    lanes[3::4] = values[1:full:3]
    d = int.from_bytes(lanes, "big")
    lanes[3::4] = values[2:full:3]
    e = int.from_bytes(lanes, "big")
    words = (c + 45 * d + 2025 * e).to_bytes(4 * k, "big")  # each lane ≤ 91124: no carry between lanes
    if words[0::4].count(0) != k or words[1::4].count(0) != k:
        raise PayloadError("Base45 triplet out of range", message_zh="Base45 数值越界")
    out = bytearray(2 * k)
    out[0::2] = words[2::4]
    out[1::2] = words[3::4]
    if rem == 2:
        last = values[full] + 45 * values[full + 1]
        if last > 0xFF:
            raise PayloadError("Base45 pair out of range", message_zh="Base45 数值越界")
        out.append(last)
    return bytes(out)
