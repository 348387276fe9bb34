"""The licence registry (电子证照库): storage of issued licences, status, keys, seals, audit.

SQLite file ``HOME/registry.sqlite`` (WAL) by default; ``postgresql+psycopg://...``
when several machines issue into one registry. See :mod:`elicense.registry.core`.
Importing this package pulls in SQLAlchemy: keep it off the verify path.
"""

from __future__ import annotations

from elicense.registry.audit import AuditEntry, AuditReport
from elicense.registry.core import (
    ALLOWED_TRANSITIONS,
    STATUS_LIST_SIZE,
    DuplicateLicence,
    LicenceRecord,
    MissingStatusIndex,
    Registry,
    RegistryError,
    StatusEntry,
    StatusTransitionError,
    WriteConflict,
    iso,
    sqlite_url,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "STATUS_LIST_SIZE",
    "AuditEntry",
    "AuditReport",
    "DuplicateLicence",
    "LicenceRecord",
    "MissingStatusIndex",
    "Registry",
    "RegistryError",
    "StatusEntry",
    "StatusTransitionError",
    "WriteConflict",
    "iso",
    "sqlite_url",
]

REGISTRY_FILE = "registry.sqlite"
"""The default registry file inside an issuer home."""


def url_for(home: object, db: str | None = None) -> str:
    """Registry URL: ``db`` if given, else ``home.json``'s ``registry_url``, else ``HOME/registry.sqlite``."""
    if db:
        return db
    extra = getattr(home, "extra", {}) or {}
    configured = extra.get("registry_url") if isinstance(extra, dict) else None
    if isinstance(configured, str) and configured:
        return configured
    return sqlite_url(getattr(home, "path") / REGISTRY_FILE)  # noqa: B009


__all__ += ["REGISTRY_FILE", "url_for"]
