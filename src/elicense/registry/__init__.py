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
    Registry,
    RegistryError,
    StatusEntry,
    StatusTransitionError,
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
    "Registry",
    "RegistryError",
    "StatusEntry",
    "StatusTransitionError",
    "iso",
    "sqlite_url",
]
