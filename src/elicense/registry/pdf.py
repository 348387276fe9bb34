"""Bridge from bulk issuance to the PDF carrier (:mod:`elicense.pdf`), imported only for ``--pdf``.

The PDF module is developed separately; this adapter looks for its issuing entry point
and fails with a clear :class:`~elicense.errors.UsageError` when it is not available.
PDFs are written after the registry commit, atomically, named after the licence id;
an existing file is kept, so a re-run after a crash writes exactly the missing ones.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from elicense.crypto.keys import atomic_write
from elicense.errors import UsageError


def pdf_path(outdir: Path, licence_id: str) -> Path:
    """Where the PDF of ``licence_id`` goes."""
    return outdir / f"{licence_id}.pdf"


def _pdf_function() -> Callable[..., bytes]:
    """The PDF module's ``issue_pdf(issued, signer, *, at, seal_name)`` (or compatible)."""
    try:
        mod = importlib.import_module("elicense.pdf")
    except ImportError as exc:
        raise UsageError("PDF output is not available (elicense.pdf missing)") from exc
    for module, name in (
        ("elicense.pdf", "issue_pdf"),
        ("elicense.pdf.sign", "issue_pdf"),
        ("elicense.pdf.sign", "sign_licence_pdf"),
        ("elicense.pdf", "make_pdf"),
    ):
        try:
            target = mod if module == "elicense.pdf" else importlib.import_module(module)
        except ImportError:
            continue
        fn = getattr(target, name, None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    raise UsageError(
        "PDF output is not available yet (no issue_pdf in elicense.pdf)",
        message_zh="暂不支持生成 PDF（elicense.pdf 未提供 issue_pdf）",
    )


def write_licence_pdf(
    registry: Any,
    home: Any,
    entry: Any,
    signer: Any,
    licence_id: str,
    outdir: Path,
    *,
    at: dt.datetime,
) -> bool:
    """Render and sign the PDF of a registered licence unless it exists; ``True`` if written."""
    path = pdf_path(outdir, licence_id)
    if path.exists():
        return False
    record = registry.get(licence_id)
    if record is None:
        return False
    fn = _pdf_function()
    issued = record.to_issued()
    result = fn(issued, signer, at=at, seal_name=entry.seal_name)
    data = result if isinstance(result, bytes | bytearray) else getattr(result, "pdf", None)
    if not isinstance(data, bytes | bytearray):
        raise UsageError("elicense.pdf returned no PDF bytes")
    atomic_write(path, bytes(data))
    return True
