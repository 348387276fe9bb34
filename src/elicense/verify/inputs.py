"""Recognise what a user handed us (payload text, image with a QR, PDF, OFD) and verify it.

Shared by the CLI and the kiosk endpoint. Sniffing is by content, never by
file name: a ``.txt`` holding a PNG is an image.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from elicense.errors import InputError

if TYPE_CHECKING:
    from elicense.verify.result import VerificationResult
    from elicense.verify.verifier import Verifier

InputKind = Literal["text", "image", "pdf", "ofd"]
PAYLOAD_PREFIXES = ("EL2:", "EP1:")
"""QR texts we verify: the static licence QR and the presentation QR (亮证); ``Verifier.verify`` takes both."""
MAX_INPUT_BYTES = 64 * 1024 * 1024

_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


def sniff(data: bytes) -> InputKind:
    """Classify input bytes."""
    head = data[:16]
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):  # a ZIP: an OFD package (GB/T 33190) is the only one we take
        return "ofd"
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return "text"


def payloads_from_text(data: bytes) -> list[str]:
    """The payload in a text input (UTF-8, optional BOM, surrounding whitespace ignored)."""
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise InputError(
            "input is neither a payload, an image nor a PDF", message_zh="输入既不是证照载荷，也不是图像或 PDF"
        ) from exc
    if not text:
        raise InputError("input is empty", message_zh="输入为空")
    if not text[:8].upper().startswith(PAYLOAD_PREFIXES):
        # a README, a typo'd paste, a URL: not a forgery (INVALID) but not a licence at all (#20)
        raise InputError(
            f"not a licence QR: the text does not start with {' or '.join(PAYLOAD_PREFIXES)}",
            message_zh=f"不是电子证照二维码：内容不以 {' 或 '.join(PAYLOAD_PREFIXES)} 开头",
            details={"reason": "not_elicense"},
        )
    return [text]


def verify_bytes(
    verifier: Verifier, data: bytes, *, at: dt.datetime | None = None, source: Path | None = None
) -> list[VerificationResult]:
    """Verify whatever ``data`` holds; one result per licence found.

    ``source`` is where ``data`` came from: a detached GB/T 38540 seal signature
    names its document relative to it.
    """
    if len(data) > MAX_INPUT_BYTES:
        raise InputError("input too large", message_zh="输入过大")
    if data[:1] == b"\x30":  # DER SEQUENCE: maybe a GB/T 38540 SES_Signature (never a payload)
        from elicense.seal.ses import looks_like_ses_signature, verify_ses_input

        if looks_like_ses_signature(data):
            return [verify_ses_input(verifier, data, at=at, source=source)]
    kind = sniff(data)
    if kind == "pdf":
        verify_pdf = getattr(verifier, "verify_pdf", None)
        if verify_pdf is None:
            raise InputError("PDF verification is not available in this version", message_zh="此版本尚不支持 PDF 校验")
        return [verify_pdf(data, at=at)]
    if kind == "ofd":
        verify_ofd = getattr(verifier, "verify_ofd", None)
        if verify_ofd is None:
            raise InputError("OFD verification is not available in this version", message_zh="此版本尚不支持 OFD 校验")
        return [verify_ofd(data, at=at)]
    if kind == "image":
        from elicense.qr.decode import read_payloads

        texts = read_payloads(data, prefix=PAYLOAD_PREFIXES)
    else:
        texts = payloads_from_text(data)
    return [verifier.verify(t, at=at) for t in texts]


def verify_any(
    verifier: Verifier, data: bytes | str | Path, *, at: dt.datetime | None = None
) -> list[VerificationResult]:
    """:meth:`Verifier.verify_any`: a path is read (bounded), text is UTF-8, bytes are sniffed by content."""
    source: Path | None = None
    if isinstance(data, Path):
        source = data
        try:
            with data.open("rb") as fh:
                raw = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise InputError(f"cannot read {data}: {exc.strerror or exc}", message_zh=f"无法读取 {data}") from exc
    elif isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raise InputError(f"cannot verify a {type(data).__name__}: give bytes, text or a Path",
                         message_zh="只能核验字节、文本或文件路径")
    return verify_bytes(verifier, raw, at=at, source=source)


def misuse_hint(payload: str | bytes) -> str:
    """For ``Verifier.verify`` given an image or a PDF: point at the method that reads them."""
    if isinstance(payload, bytes | bytearray) and sniff(bytes(payload[:1024])) != "text":
        return f" (this is {sniff(bytes(payload[:1024]))} data: use Verifier.verify_any)"
    return ""
