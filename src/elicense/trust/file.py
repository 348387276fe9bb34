"""The trust file: a JSON document listing trust anchors and issuing authorities.

This is the foundation's simple trust input (``elicense demo`` writes it as
``trust-bundle.json``); the signed trust lists and the offline bundle of the
mutual-recognition work build the same :class:`TrustStore`. It is unsigned:
its integrity is the integrity of the file you were given.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from elicense.crypto.pki import load_pem_certificates, to_pem
from elicense.errors import TrustError
from elicense.trust.common import read_limited
from elicense.trust.store import TrustedAuthority, TrustStore

FORMAT = "elicense-trust/1"
MAX_TRUST_FILE = 64 * 1024 * 1024


def _time(value: object, what: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TrustError(f"trust file: {what} must be an ISO-8601 string")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise TrustError(f"trust file: {what} is not ISO-8601: {value!r}") from exc
    if when.tzinfo is None:
        raise TrustError(f"trust file: {what} must carry a UTC offset")
    return when.astimezone(dt.UTC)


def _iso(when: dt.datetime | None) -> str | None:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if when else None


def _pems(value: object, what: str) -> list[x509.Certificate]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TrustError(f"trust file: {what} must be a list of PEM strings")
    certs: list[x509.Certificate] = []
    for pem in value:
        certs.extend(load_pem_certificates(pem.encode("ascii", "replace")))
    return certs


def parse_trust_file(data: bytes) -> TrustStore:
    """Parse trust-file bytes into a validated :class:`TrustStore`."""
    if len(data) > MAX_TRUST_FILE:
        raise TrustError("trust file too large", message_zh="信任文件过大")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise TrustError(f"trust file is not valid JSON: {exc}", message_zh="信任文件不是有效的 JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise TrustError(f"not an elicense trust file (expected format {FORMAT!r})", message_zh="不是电子证照信任文件")
    auths = doc.get("authorities")
    if not isinstance(auths, list):
        raise TrustError("trust file: authorities must be a list")
    entries: list[tuple[TrustedAuthority, Sequence[x509.Certificate]]] = []
    for i, a in enumerate(auths):
        if not isinstance(a, dict):
            raise TrustError(f"trust file: authority #{i} must be an object")
        try:
            types = a.get("licence_types", [])
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                raise TrustError("licence_types must be a list of strings")
            authority = TrustedAuthority(
                name=str(a["name"]),
                code=str(a["code"]),
                area_code=str(a["area_code"]),
                licence_types=frozenset(types),
                authorised_from=_time(a.get("authorised_from"), "authorised_from"),
                withdrawn_at=_time(a.get("withdrawn_at"), "withdrawn_at"),
            )
        except KeyError as exc:
            raise TrustError(f"trust file: authority #{i} lacks {exc}") from exc
        entries.append((authority, _pems(a.get("certificates", []), "certificates")))
    return TrustStore.build(
        roots=_pems(doc.get("roots"), "roots"),
        intermediates=_pems(doc.get("intermediates", []), "intermediates"),
        authorities=entries,
        issued_at=_time(doc.get("issued_at"), "issued_at"),
        next_update=_time(doc.get("next_update"), "next_update"),
    )


def load_trust_file(path: Path) -> TrustStore:
    """Read and parse a trust file; :class:`TrustError` if unreadable or invalid."""
    return parse_trust_file(read_limited(path, MAX_TRUST_FILE, "trust file", "信任文件"))


def dump_trust_file(
    *,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    authorities: Sequence[tuple[TrustedAuthority, Sequence[x509.Certificate]]],
    issued_at: dt.datetime,
    next_update: dt.datetime | None,
) -> bytes:
    """Serialise trust data to trust-file bytes (deterministic, UTF-8 JSON)."""
    doc = {
        "format": FORMAT,
        "issued_at": _iso(issued_at),
        "next_update": _iso(next_update),
        "roots": [to_pem([c]).decode() for c in roots],
        "intermediates": [to_pem([c]).decode() for c in intermediates],
        "authorities": [
            {
                "name": a.name,
                "code": a.code,
                "area_code": a.area_code,
                "licence_types": sorted(a.licence_types),
                "authorised_from": _iso(a.authorised_from),
                "withdrawn_at": _iso(a.withdrawn_at),
                "certificates": [to_pem([c]).decode() for c in certs],
            }
            for a, certs in authorities
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
