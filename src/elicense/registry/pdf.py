"""Bridge from bulk issuance to the PDF carrier (:mod:`elicense.pdf`), imported only for ``--pdf``.

Calls :func:`elicense.pdf.issue_pdf`; a clear :class:`~elicense.errors.UsageError` when
the PDF stack cannot be imported.
PDFs are written after the registry commit, atomically, named after the licence id;
an existing file is kept, so a re-run after a crash writes exactly the missing ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from elicense.crypto.keys import atomic_write
from elicense.errors import UsageError


def pdf_path(outdir: Path, licence_id: str) -> Path:
    """Where the PDF of ``licence_id`` goes."""
    return outdir / f"{licence_id}.pdf"


def _pdf_function() -> Callable[..., bytes]:
    """:func:`elicense.pdf.issue_pdf` (render, seal, sign), imported only when PDFs are asked for."""
    try:
        from elicense.pdf import issue_pdf
    except ImportError as exc:
        raise UsageError(
            f"PDF output is not available: {exc}", message_zh="暂不支持生成 PDF（elicense.pdf 不可用）"
        ) from exc
    return issue_pdf


def write_licence_pdf(
    registry: Any,
    home: Any,
    entry: Any,
    signer: Any,
    licence_id: str,
    outdir: Path,
    *,
    at: dt.datetime,
    options: Any = None,
) -> bool:
    """Render and sign the PDF of a registered licence unless it exists; ``True`` if written.

    ``options``: :class:`~elicense.pdf.sign.PdfSigningOptions` (B-T / B-LT); ``None``: B-B.
    """
    path = pdf_path(outdir, licence_id)
    if path.exists():
        return False
    record = registry.get(licence_id)
    if record is None:
        return False
    fn = _pdf_function()
    issued = record.to_issued()
    result = fn(issued, signer, at=at, seal_name=entry.seal_name, options=options)
    data = result if isinstance(result, bytes | bytearray) else getattr(result, "pdf", None)
    if not isinstance(data, bytes | bytearray):
        raise UsageError("elicense.pdf returned no PDF bytes")
    atomic_write(path, bytes(data))
    return True
