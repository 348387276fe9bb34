"""Recognise what a user handed us (payload text, image with a QR, PDF, OFD) and verify it.

Shared by the CLI and the kiosk endpoint. Sniffing is by content, never by
file name: a ``.txt`` holding a PNG is an image.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import stat
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from elicense.errors import InputError

if TYPE_CHECKING:
    from elicense.verdict.result import VerificationResult
    from elicense.verify.verifier import Verifier

InputKind = Literal["text", "image", "pdf", "ofd"]
PAYLOAD_PREFIXES = ("EL2:", "EP1:")
"""QR texts we verify: the static licence QR and the presentation QR (亮证); ``Verifier.verify`` takes both."""
MAX_INPUT_BYTES = 64 * 1024 * 1024
READ_TIMEOUT_S = 10.0
"""Longest wait for a pipe, FIFO, terminal or device to deliver its input (``$ELICENSE_INPUT_TIMEOUT``)."""
_CHUNK = 1 << 16

_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


def _timeout() -> float:
    try:
        value = float(os.environ.get("ELICENSE_INPUT_TIMEOUT", READ_TIMEOUT_S))
    except ValueError:
        return READ_TIMEOUT_S
    return value if 0 < value <= 3600 else READ_TIMEOUT_S


def read_input(name: str, *, max_bytes: int = MAX_INPUT_BYTES, timeout: float | None = None) -> bytes:
    """The bytes of a file, or of stdin for ``-``, bounded in size *and time*.

    A regular file is read up to ``max_bytes``. A pipe, FIFO, terminal or character device (``/dev/zero``,
    a FIFO with no writer, ``verify -`` under a writer that never writes or never closes) is read
    without ever blocking: a path is opened ``O_NONBLOCK`` (opening a FIFO does not wait for a writer;
    no writer reads as empty input), each read waits in ``select`` for what is left of ``timeout``
    seconds (default :data:`READ_TIMEOUT_S`, ``$ELICENSE_INPUT_TIMEOUT``), and more than ``max_bytes``
    is refused. Block devices and other special files are refused.
    """
    limit = _timeout() if timeout is None else timeout
    if name == "-":
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, ValueError, OSError) as exc:
            raise InputError("no standard input", message_zh="没有标准输入") from exc
        return _read_fd(fd, max_bytes, limit, own=False)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except IsADirectoryError as exc:  # callers prefix the input's name
        raise InputError("is a directory", message_zh="是目录") from exc
    except OSError as exc:
        raise InputError(f"{exc.strerror}", message_zh="无法读取") from exc
    try:
        return _read_fd(fd, max_bytes, limit, own=True)
    finally:
        os.close(fd)


def _too_large() -> InputError:
    return InputError("input too large", message_zh="输入过大")


def _read_fd(fd: int, max_bytes: int, timeout: float, *, own: bool) -> bytes:
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode):
        raise InputError("is a directory", message_zh="是目录")
    if stat.S_ISREG(mode):
        if os.fstat(fd).st_size > max_bytes:
            raise _too_large()
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise _too_large()
        return data
    if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)):
        raise InputError("not a regular file, pipe or terminal", message_zh="不是普通文件、管道或终端")
    deadline = time.monotonic() + timeout
    parts: list[bytes] = []
    size = 0
    while True:
        if not own:  # stdin stays blocking (it is shared with the shell): read only what select says is there
            _wait(fd, deadline, timeout)
        try:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - size))
        except BlockingIOError:
            _wait(fd, deadline, timeout)
            continue
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise _too_large()
        if time.monotonic() > deadline:
            raise _timed_out(timeout)


def _timed_out(timeout: float) -> InputError:
    return InputError(
        f"no complete input within {timeout:g} s (a pipe, FIFO or device that does not end)",
        message_zh=f"{timeout:g} 秒内未读到完整输入（管道、FIFO 或设备未结束）",
        details={"reason": "input_timeout"},
    )


def _wait(fd: int, deadline: float, timeout: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        raise _timed_out(timeout)


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
    if not looks_like_payload(text):
        raise not_a_licence_qr()
    return [text]


def looks_like_payload(text: str) -> bool:
    """Whether ``text`` starts like a licence or presentation QR (else it is no licence at all, #20)."""
    return text[:8].upper().startswith(PAYLOAD_PREFIXES)


def not_a_licence_qr() -> InputError:
    """A README, a typo'd paste, a URL: not a forgery (INVALID) but not a licence at all (#20)."""
    return InputError(
        f"not a licence QR: the text does not start with {' or '.join(PAYLOAD_PREFIXES)}",
        message_zh=f"不是电子证照二维码：内容不以 {' 或 '.join(PAYLOAD_PREFIXES)} 开头",
        details={"reason": "not_elicense"},
    )


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
        from elicense.seal.ses import looks_like_ses_signature  # lazy: asn1crypto + tongsuopy, seal inputs only
        from elicense.seal.verify import verify_ses_input

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
        from elicense.qr.decode import read_payloads  # lazy: zxing-cpp + PIL, image inputs only

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
        raise InputError(
            f"cannot verify a {type(data).__name__}: give bytes, text or a Path",
            message_zh="只能核验字节、文本或文件路径",
        )
    return verify_bytes(verifier, raw, at=at, source=source)


def misuse_hint(payload: str | bytes) -> str:
    """For ``Verifier.verify`` given an image or a PDF: point at the method that reads them."""
    if isinstance(payload, bytes | bytearray) and sniff(bytes(payload[:1024])) != "text":
        return f" (this is {sniff(bytes(payload[:1024]))} data: use Verifier.verify_any)"
    return ""
