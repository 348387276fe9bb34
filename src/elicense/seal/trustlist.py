"""Which seal-making systems (制章系统) of other regions and vendors a relying party accepts.

A seal is only as trustworthy as the system that made it. elicense's own seal makers carry
the seal-making EKU under the national SM2 root; other regions' and vendors' systems do not,
so the relying party lists them explicitly — the ``seal_makers`` section:

```json
{"format": "elicense-seal-makers/1",
 "seal_makers": [{"name": "…", "role": "maker" | "ca", "certificate": "PEM or base64 DER",
                  "vids": ["GOMAIN"], "user_id": "(optional, when not 1234567812345678)"}],
 "signer_roots": ["PEM or base64 DER"], "tsa_roots": ["PEM or base64 DER"]}
```

``role: maker`` pins one seal-making system's certificate; ``role: ca`` accepts every seal
maker that CA certified (a province's seal CA). ``vids`` limits an entry to seals whose header
names one of these producers. ``signer_roots`` are extra SM2 anchors for signer certificates
(the other region's CA); ``tsa_roots`` anchor time-stamp authorities. The section is local
policy, like the choice of trust anchors: load it from a file the operator controls
(``--seal-makers FILE`` / ``$ELICENSE_SEAL_MAKERS``), or carry it inside a signed trust bundle
under the same key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from elicense.errors import CryptoError, InputError
from elicense.seal.certs import load_cert
from elicense.seal.ses import SealMaker

FORMAT = "elicense-seal-makers/1"
MAX_FILE_BYTES = 1024 * 1024
MAX_ENTRIES = 256


class SealMakersError(InputError):
    """The seal-makers section is malformed."""

    code = "seal_makers_invalid"


@dataclass(frozen=True)
class SealMakerPolicy:
    """The parsed section."""

    seal_makers: tuple[SealMaker, ...]
    """Accepted seal-making systems."""
    signer_roots: tuple[bytes, ...]
    """Extra SM2 anchors (DER) for signer certificates."""
    tsa_roots: tuple[bytes, ...] = ()
    """Anchors (DER) for time-stamp authorities."""


def _cert_bytes(text: object, where: str) -> bytes:
    if not isinstance(text, str) or not text.strip():
        raise SealMakersError(f"{where}: certificate must be PEM or base64 DER text")
    body = text.strip()
    if body.startswith("-----BEGIN"):
        lines = [x for x in body.splitlines() if x and not x.startswith("-----")]
        body = "".join(lines)
    try:
        der = base64.b64decode(body, validate=True)
        load_cert(der)
    except (binascii.Error, ValueError, CryptoError) as exc:
        raise SealMakersError(f"{where}: not a certificate ({exc})"[:200]) from exc
    return der


def parse_policy(data: Mapping[str, object]) -> SealMakerPolicy:
    """Validate a ``seal_makers`` section (a mapping, as decoded from JSON)."""
    if data.get("format", FORMAT) != FORMAT:
        raise SealMakersError(f"unknown seal-makers format {data.get('format')!r}")
    makers_raw = data.get("seal_makers", [])
    roots_raw = data.get("signer_roots", [])
    tsa_raw = data.get("tsa_roots", [])
    if not isinstance(makers_raw, list) or not isinstance(roots_raw, list) or not isinstance(tsa_raw, list):
        raise SealMakersError("seal_makers, signer_roots and tsa_roots must be lists")
    if len(makers_raw) + len(roots_raw) + len(tsa_raw) > MAX_ENTRIES:
        raise SealMakersError("too many seal-maker entries")
    makers: list[SealMaker] = []
    for i, entry in enumerate(makers_raw):
        where = f"seal_makers[{i}]"
        if not isinstance(entry, dict):
            raise SealMakersError(f"{where} must be an object")
        name, role, vids = entry.get("name"), entry.get("role", "maker"), entry.get("vids", [])
        if not isinstance(name, str) or not name or len(name) > 200:
            raise SealMakersError(f"{where}.name must be a short string")
        if role not in ("maker", "ca"):
            raise SealMakersError(f"{where}.role must be 'maker' or 'ca'")
        if not isinstance(vids, list) or not all(isinstance(v, str) and v for v in vids):
            raise SealMakersError(f"{where}.vids must be a list of producer ids")
        uid = entry.get("user_id")
        if uid is not None and (not isinstance(uid, str) or not uid or len(uid) > 1024):
            raise SealMakersError(f"{where}.user_id must be a non-empty string")
        cert = _cert_bytes(entry.get("certificate"), where)
        makers.append(SealMaker(name, cert, role, frozenset(vids), None if uid is None else uid.encode("utf-8")))
    roots = tuple(_cert_bytes(x, f"signer_roots[{i}]") for i, x in enumerate(roots_raw))
    tsas = tuple(_cert_bytes(x, f"tsa_roots[{i}]") for i, x in enumerate(tsa_raw))
    return SealMakerPolicy(tuple(makers), roots, tsas)


def load_policy(path: Path) -> SealMakerPolicy:
    """Read a seal-makers JSON file (bounded)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SealMakersError(f"cannot read {path}: {exc.strerror}", message_zh=f"无法读取 {path}") from exc
    return policy_from_bytes(raw, str(path))


SECTION = "seal_makers"
"""The trust bundle's extra that carries a seal-makers policy, signed with the bundle (``bundle --seal-makers``)."""


def policy_from_bytes(raw: bytes, where: str) -> SealMakerPolicy:
    """A policy from its JSON bytes (a file's content or the bundle's ``seal_makers`` section), bounded."""
    if len(raw) > MAX_FILE_BYTES:
        raise SealMakersError(f"{where}: seal-makers policy larger than 1 MiB")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SealMakersError(f"{where}: not JSON ({exc})"[:200]) from exc
    if not isinstance(data, dict):
        raise SealMakersError(f"{where}: must be a JSON object")
    return parse_policy(data)


def merge(*policies: SealMakerPolicy | None) -> SealMakerPolicy:
    """The union of several policies (the signed bundle's and a relying party's local file)."""
    present = [p for p in policies if p is not None]
    return SealMakerPolicy(
        tuple(m for p in present for m in p.seal_makers),
        tuple(r for p in present for r in p.signer_roots),
        tuple(r for p in present for r in p.tsa_roots),
    )


def dump_policy(policy: SealMakerPolicy) -> str:
    """The JSON text of a policy (for tools and tests)."""
    return json.dumps(
        {
            "format": FORMAT,
            "seal_makers": [
                {"name": m.name, "role": m.role, "certificate": base64.b64encode(m.certificate).decode(),
                 "vids": sorted(m.vids), **({"user_id": m.user_id.decode("utf-8")} if m.user_id else {})}
                for m in policy.seal_makers
            ],
            "signer_roots": [base64.b64encode(r).decode() for r in policy.signer_roots],
            "tsa_roots": [base64.b64encode(r).decode() for r in policy.tsa_roots],
        },
        ensure_ascii=False, indent=1,
    )  # fmt: skip


__all__ = ["FORMAT", "SealMakerPolicy", "SealMakersError", "dump_policy", "load_policy", "parse_policy"]
