"""The status section of trust data: signed status lists and CRLs, as JSON.

The offline bundle and the simple trust file carry the same section::

    "status": {"format": "elicense-status/1",
               "status_lists": [base64 COSE_Sign1, ...],
               "crls": [base64 DER CRL, ...]}

Everything in it is signed by keys the trust data already names, so the
section adds no trust of its own: a forged or altered item is refused when
the :class:`~elicense.status.store.StatusStore` is built. Binding a section to the trust it
came with (and to the verifier's memory) is :class:`elicense.trust_state.TrustedState`'s.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from elicense.crypto.keys import atomic_write
from elicense.errors import TrustError
from elicense.status.store import StatusStore
from elicense.trust.store import TrustStore

FORMAT = "elicense-status/1"
SECTION_KEY = "status"
MAX_ITEMS = 4096


def to_section(status_lists: Sequence[bytes], crls: Sequence[bytes]) -> dict[str, object]:
    """JSON-ready section."""
    return {
        "format": FORMAT,
        "status_lists": [base64.b64encode(x).decode("ascii") for x in status_lists],
        "crls": [base64.b64encode(x).decode("ascii") for x in crls],
    }


def section_items(section: Mapping[str, object], key: str) -> list[bytes]:
    """The base64 items under ``key`` (``status_lists`` or ``crls``), decoded; at most :data:`MAX_ITEMS`."""
    raw = section.get(key, [])
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS or not all(isinstance(x, str) for x in raw):
        raise TrustError(f"status section: {key} must be a list of base64 strings")
    try:
        return [base64.b64decode(x, validate=True) for x in raw]
    except (binascii.Error, ValueError) as exc:
        raise TrustError(f"status section: {key} holds invalid base64") from exc


def from_section(
    section: object,
    trust: TrustStore,
    *,
    known_sequences: Mapping[str, int] | None = None,
    known_digests: Mapping[str, str] | None = None,
) -> StatusStore:
    """Build a verified :class:`StatusStore` from a section (refused items → ``problems``)."""
    if not isinstance(section, Mapping) or section.get("format") != FORMAT:
        raise TrustError(f"status section must have format {FORMAT!r}", message_zh="状态数据格式错误")
    return StatusStore.build(
        trust,
        status_lists=section_items(section, "status_lists"),
        crls=section_items(section, "crls"),
        known_sequences=known_sequences,
        known_digests=known_digests,
    )


def add_to_trust_file(path: Path, status_lists: Sequence[bytes], crls: Sequence[bytes]) -> None:
    """Add (or replace) the status section of a trust file, atomically."""
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustError(f"{path} is not a JSON trust file", message_zh=f"{path} 不是 JSON 信任文件") from exc
    if not isinstance(doc, dict):
        raise TrustError(f"{path} is not a JSON trust file", message_zh=f"{path} 不是 JSON 信任文件")
    doc[SECTION_KEY] = to_section(status_lists, crls)
    atomic_write(path, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))
