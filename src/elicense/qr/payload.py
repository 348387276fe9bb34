"""The ``EL2:`` text envelope: COSE_Sign1 → zlib → Base45 → prefix.

Every step is bounded before it allocates: a QR code is hostile input.
"""

from __future__ import annotations

import zlib

from elicense.errors import PayloadError, PayloadTooLarge
from elicense.qr.base45 import b45decode, b45encode

PREFIX = "EL2:"
MAX_TEXT_LENGTH = 4296
"""Largest alphanumeric payload a QR code can hold (version 40-L)."""
MAX_DECOMPRESSED = 16 * 1024
"""Upper bound on the COSE message size; a licence token is < 1 KiB."""
MAX_RATIO = 64
"""Refuse decompression ratios above this (zlib bombs)."""


ZLIB_FIRST_BYTE = 0x78
"""A zlib stream starts with 0x78; a COSE_Sign1 message starts with 0xD2 (tag 18)."""


ZLIB_HEADER = b"\x78\xda"
"""RFC 1950 header: deflate, a window of at most 32 KiB, maximum compression (what ``zlib.compress(x, 9)``
writes; its first byte is :data:`ZLIB_FIRST_BYTE`)."""
DEFLATE_WINDOW_BITS = 12
"""The window :func:`wrap` deflates with: 4 KiB, as long as the longest message a QR code holds, so no
match is lost, and a sixth of the set-up cost of a 32 KiB window (zlib allocates and clears it per call)."""


def wrap(cose_message: bytes) -> str:
    """COSE bytes → ``EL2:`` text: :func:`compact`, then Base45."""
    return PREFIX + b45encode(compact(cose_message))


def compact(message: bytes) -> bytes:
    """``message`` zlib-compressed (level 9) when that makes it smaller, else as it is.

    As in the EU DCC, compression is signalled by the zlib header byte: short
    tokens of Chinese text and signatures do not compress, and the 6-byte zlib
    frame would push a licence QR up a version. The stream is raw deflate with a
    4 KiB window in the standard zlib frame (:data:`ZLIB_HEADER`, Adler-32 trailer):
    the header's 32 KiB is an upper bound on match distances (RFC 1950), so any zlib
    reader inflates it; the tests hold it to ``zlib.decompress``.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -DEFLATE_WINDOW_BITS, 4)
    body = deflate.compress(message) + deflate.flush()
    if len(body) + 6 >= len(message):
        return message
    return ZLIB_HEADER + body + zlib.adler32(message).to_bytes(4, "big")


def unwrap(
    text: str | bytes, prefix: str = PREFIX, what: tuple[str, str] = ("an elicense payload", "电子证照载荷")
) -> bytes:
    """``EL2:`` text → COSE bytes, with bounds on length, size and ratio.

    The one unwrapping of every Base45 QR carrier: the ``EP1:`` presentation passes its own
    ``prefix`` and ``what`` (the English and Chinese name used when the prefix is missing)."""
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_TEXT_LENGTH + 64:
            raise PayloadTooLarge("payload too long", message_zh="载荷过长")
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError as exc:
            raise PayloadError("payload is not ASCII text", message_zh="载荷不是 ASCII 文本") from exc
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise PayloadTooLarge(f"payload of {len(text)} characters exceeds {MAX_TEXT_LENGTH}", message_zh="载荷过长")
    if not text.startswith(prefix):
        raise PayloadError(
            f"not {what[0]} (expected prefix {prefix})", message_zh=f"不是{what[1]}（应以 {prefix} 开头）"
        )
    compressed = b45decode(text[len(prefix) :])
    if not compressed:
        raise PayloadError("empty payload", message_zh="载荷为空")
    if compressed[0] != ZLIB_FIRST_BYTE:
        return compressed  # uncompressed COSE message (bounded by MAX_TEXT_LENGTH)
    limit = min(MAX_DECOMPRESSED, len(compressed) * MAX_RATIO)
    decomp = zlib.decompressobj()
    try:
        out = decomp.decompress(compressed, limit)
    except zlib.error as exc:
        raise PayloadError(f"payload is not valid zlib data: {exc}", message_zh="载荷解压失败") from exc
    if decomp.unconsumed_tail:
        raise PayloadTooLarge("payload decompresses beyond its bound", message_zh="载荷解压后超出上限")
    if not decomp.eof or decomp.unused_data:
        raise PayloadError("payload zlib stream is truncated or has trailing data", message_zh="载荷压缩数据不完整")
    return out
