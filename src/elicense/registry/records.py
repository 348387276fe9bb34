"""What the registry stores and hands back: records, status entries, its errors and time format.

The ground floor of :mod:`elicense.registry` (no database access here): the parts and the
facade above share these, so they live below all of them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Row

from elicense.catalog import Catalog
from elicense.errors import ElicenseError
from elicense.identifiers import LicenceId
from elicense.issue import IssuedLicence
from elicense.model import Authority, Holder, HolderType, Licence, Validity, require_utc


class RegistryError(ElicenseError):
    """The registry refused an operation (unknown licence, bad transition, duplicate)."""

    code = "registry"


class StatusTransitionError(RegistryError):
    """The requested status change is not allowed from the current status."""

    code = "status_transition"


class DuplicateLicence(RegistryError):
    """A licence with this id or (authority, type, source id) is already registered."""

    code = "duplicate_licence"


class WriteConflict(RegistryError):
    """The database aborted this write transaction for another's sake (PostgreSQL: a deadlock or a
    serialization failure): nothing of it was stored, and the same write may be tried again."""

    code = "write_conflict"


RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
"""SQLSTATEs of a transaction the server rolled back for a concurrent one (serialization failure, deadlock)."""


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, also when SQLAlchemy wraps it (``None``: not a server error)."""
    state = getattr(getattr(exc, "orig", None) or exc, "sqlstate", None)
    return state if isinstance(state, str) else None


class MissingStatusIndex(RegistryError):
    """A licence without a status-list index: no revocation of it could ever reach a verifier (#16)."""

    code = "status_index_missing"


def require_status_index(licence: Licence) -> int:
    """The licence's status index; refuse a licence signed without one (it cannot be added after signing)."""
    if licence.status_index is None:
        lid = str(licence.id)
        raise MissingStatusIndex(
            f"licence {lid} has no status index: a revocation or suspension of it could never reach a verifier; "
            "sign it with one (LicenceBuilder.status_index(), Registry.allocate_status_index)",
            message_zh=f"证照 {lid} 未分配状态列表索引，吊销或暂扣将无法生效；请在签名前分配索引",
            details={"licence_id": lid},
        )
    return licence.status_index


def iso(when: dt.datetime) -> str:
    """UTC instant as stored: ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    return require_utc(when).replace(tzinfo=None).isoformat() + "Z"


def parse_iso(value: str) -> dt.datetime:
    """Inverse of :func:`iso` (stored strings compare wrongly as text: ``.5Z`` < ``Z``)."""
    return dt.datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=dt.UTC)


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path).resolve()}"


@dataclass(frozen=True)
class LicenceRecord:
    """A licence as stored in the registry."""

    id: str
    """GB/T 36904 licence identifier."""
    type_code: str
    """Licence type code."""
    authority_code: str
    """Issuing authority's code."""
    number: str
    """证照编号."""
    holder_name: str
    """Holder's name (full, not masked: the registry is the issuer's own store)."""
    holder_code: str
    """Holder's code (USCC / resident id)."""
    holder_type: str
    """GB/T 36903 holder code type."""
    issued_on: str
    """Issue date (ISO)."""
    valid_from: str
    """First valid day (ISO)."""
    valid_until: str | None
    """Last valid day (ISO), ``None`` for long-term."""
    status: str
    """Lifecycle status (:class:`LicenceStatus` value)."""
    status_index: int | None
    """Index in the authority's status list."""
    source_id: str | None
    """Business key in the source system."""
    supersedes: str | None
    """Id of the licence this one replaces."""
    kid: str
    """Hex key id of the signing certificate."""
    signed_at: str
    """Signing instant (UTC ISO)."""
    updated_at: str
    """Last status change (UTC ISO)."""
    qr_payload: str
    """The ``EL2:`` QR text."""
    full_payload: bytes
    """COSE_Sign1 over the full record."""
    record: Mapping[str, Any]
    """The full licence as JSON (``Licence.to_dict``)."""
    successor: str | None = None
    """Id of the licence that superseded this one (schema v2)."""

    @property
    def predecessor(self) -> str | None:
        """Id of the licence this one replaces (the ``supersedes`` column)."""
        return self.supersedes

    def to_issued(self) -> IssuedLicence:
        """Rebuild the :class:`~elicense.issue.IssuedLicence` (e.g. to render its PDF later)."""
        r = self.record
        lt = Catalog.default().get(self.type_code)
        day = dt.date.fromisoformat
        licence = Licence(
            id=LicenceId.parse(self.id),
            number=self.number,
            holder=Holder(self.holder_name, self.holder_code, HolderType(self.holder_type)),
            issuer=Authority(r["issuer"]["name"], r["issuer"]["code"], r["issuer"]["area_code"]),
            issued_on=day(self.issued_on),
            validity=Validity(day(self.valid_from), day(self.valid_until) if self.valid_until else None),
            fields=lt.validate_fields(r.get("fields", {})),
            supersedes=LicenceId.parse(self.supersedes) if self.supersedes else None,
            status_index=self.status_index,
            source_id=self.source_id,
        )
        signed_at = dt.datetime.fromisoformat(self.signed_at.removesuffix("Z")).replace(tzinfo=dt.UTC)
        return IssuedLicence(licence, self.qr_payload, self.full_payload, signed_at)

    def to_dict(self, *, payloads: bool = False) -> dict[str, Any]:
        """JSON-ready form; ``payloads`` adds the QR text and the base64 full payload."""
        out: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "id",
                "type_code",
                "authority_code",
                "number",
                "holder_name",
                "holder_code",
                "holder_type",
                "issued_on",
                "valid_from",
                "valid_until",
                "status",
                "status_index",
                "source_id",
                "supersedes",
                "successor",
                "kid",
                "signed_at",
                "updated_at",
            )
        }
        out["predecessor"] = self.supersedes
        out["fields"] = dict(self.record.get("fields", {}))
        if payloads:
            out["qr_payload"] = self.qr_payload
            out["full_payload_b64"] = base64.b64encode(self.full_payload).decode("ascii")
        return out


@dataclass(frozen=True)
class StatusEntry:
    """One (index → status) pair of an authority's list, for status-list builders."""

    index: int
    """Status-list index."""
    licence_id: str
    """The licence at that index."""
    status: str
    """Its current status."""


def record_from_row(row: Row[Any]) -> LicenceRecord:
    """The record of a ``licences`` row."""
    m = row._mapping
    return LicenceRecord(
        id=m["id"],
        type_code=m["type_code"],
        authority_code=m["authority_code"],
        number=m["number"],
        holder_name=m["holder_name"],
        holder_code=m["holder_code"],
        holder_type=m["holder_type"],
        issued_on=m["issued_on"],
        valid_from=m["valid_from"],
        valid_until=m["valid_until"],
        status=m["status"],
        status_index=m["status_index"],
        source_id=m["source_id"],
        supersedes=m["supersedes"],
        kid=m["kid"],
        signed_at=m["signed_at"],
        updated_at=m["updated_at"],
        qr_payload=m["qr_payload"],
        full_payload=bytes(m["full_payload"]),
        record=json.loads(m["record_json"]),
        successor=m.get("successor"),
    )
