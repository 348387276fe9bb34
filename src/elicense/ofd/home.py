"""Sealed licence OFDs from an SM2 issuer home: the authority's GB/T 38540 seal, its SM2 key, fresh CRLs.

Used by ``elicense issue … --ofd DIR``, ``elicense render --format ofd`` and ``elicense demo --alg sm2``.
The seal is the one :func:`elicense.services.seals.add_sm2_seals` made (``home.json`` → ``sm2_seals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from elicense.errors import UsageError
from elicense.seal import SEALS_SECTION

if TYPE_CHECKING:
    from elicense.crypto.keys import Sm2Signer
    from elicense.home import AuthorityEntry, Home
    from elicense.issue import IssuedLicence

__all__ = ["batch_licence_ids", "issue_ofd", "require_seals", "seal_material", "write_registry_ofds"]


def require_seals(home: Home) -> None:
    """Refuse early (before anything is issued) when ``home`` has no GB/T 38540 seals: OFDs need an SM2 home."""
    section = home.extra.get(SEALS_SECTION)
    if not (isinstance(section, dict) and section.get("seals")):
        raise UsageError(
            f"OFD licences need GB/T 38540 seals, and {home.path} has none (an SM2 home: elicense demo --alg sm2)",
            message_zh=f"OFD 证照需要电子印章，{home.path} 中没有（SM2 签发目录：elicense demo --alg sm2）",
        )


def seal_material(home: Home, entry: AuthorityEntry, *, at: dt.datetime) -> tuple[bytes, Sm2Signer, Sequence[bytes]]:
    """The authority's ``SES_Seal``, its SM2 signer, and CRLs of its chain fresh at ``at`` (revocation evidence)."""
    from elicense.crypto.keys import Sm2Signer

    section = home.extra.get(SEALS_SECTION)
    rel = section.get("seals", {}).get(entry.code) if isinstance(section, dict) else None
    if not rel:
        raise UsageError(
            f"{entry.name} has no GB/T 38540 seal in {home.path}: OFD licences need an SM2 home "
            "(elicense demo --alg sm2)",
            message_zh=f"{entry.name} 没有电子印章：OFD 证照需要 SM2 签发目录（elicense demo --alg sm2）",
        )
    signer = home.signer(entry)
    if not isinstance(signer, Sm2Signer):
        raise UsageError(f"{entry.name} does not sign with SM2", message_zh=f"{entry.name} 不是 SM2 签名密钥")
    try:
        seal = (home.path / rel).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the seal {rel}: {exc.strerror}", message_zh=f"无法读取电子印章 {rel}") from exc
    return seal, signer, home.entry_crls(entry, at)


def issue_ofd(home: Home, issued: IssuedLicence, *, font_path: str | Path | None = None) -> bytes:
    """The sealed OFD of ``issued``, sealed at its signing time by its issuer's seal."""
    from elicense.ofd.seal import seal_licence_ofd
    from elicense.ofd.write import build_licence_ofd

    entry = home.authority(issued.licence.issuer.code)
    seal, signer, crls = seal_material(home, entry, at=issued.signed_at)
    doc = build_licence_ofd(issued, font_path=font_path)
    return seal_licence_ofd(doc, seal=seal, signer=signer, at=issued.signed_at, crls=crls)


def write_registry_ofds(home: Home, url: str, licence_ids: Iterable[str], outdir: Path) -> int:
    """Write ``OUTDIR/<licence id>.ofd`` for registered licences that have none yet; returns how many.

    Written after the registry commit and atomically, so a re-run after a crash writes exactly the missing ones.
    """
    from elicense.crypto.keys import atomic_write
    from elicense.registry import Registry

    registry = Registry.open(url, create=False)
    written = 0
    try:
        for lid in licence_ids:
            path = outdir / f"{lid}.ofd"
            if path.exists():
                continue
            record = registry.get(lid)
            if record is None:
                continue
            atomic_write(path, issue_ofd(home, record.to_issued()))
            written += 1
    finally:
        registry.close()
    return written


def batch_licence_ids(url: str, report_ids: Sequence[str], issued: int, type_code: str, at: dt.datetime) -> list[str]:
    """The licences one batch run issued: the report's ids, or — when the report lists only the first ones —
    every licence of the type signed at the run's time ``at`` (rows of earlier runs carry their own time)."""
    if issued <= len(report_ids):
        return list(report_ids)
    from elicense.catalog import Catalog
    from elicense.registry import Registry, iso

    code = Catalog.default().get(type_code).code
    registry = Registry.open(url, create=False)
    try:
        return [r.id for r in registry.query(type_code=code, limit=None) if r.signed_at == iso(at)]
    finally:
        registry.close()
