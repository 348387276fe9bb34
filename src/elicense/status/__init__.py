"""Revocation and status: lifecycle, signed bitstring status lists, CRLs, the verifier's store.

Light modules only here (the verify path imports :mod:`elicense.status.store`);
:mod:`elicense.services.status` (registry, publishing) pulls in SQLAlchemy. ``status`` uses
:mod:`elicense.trust` (a list is verified with a trust store), never the reverse.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elicense.status.lifecycle import (
        Action,
        IllegalTransition,
        LicenceState,
        StatusError,
        StatusEvent,
        UnknownLicence,
    )
    from elicense.status.reasons import ListState, RevocationReason, reason
    from elicense.status.statuslist import StatusList, StatusListError, parse_status_list, sign_status_list
    from elicense.status.store import StatusStore

_LAZY = {
    **dict.fromkeys(
        ("Action", "IllegalTransition", "LicenceState", "StatusError", "StatusEvent", "UnknownLicence"), "lifecycle"
    ),
    **dict.fromkeys(("ListState", "RevocationReason", "reason"), "reasons"),
    **dict.fromkeys(("StatusList", "StatusListError", "parse_status_list", "sign_status_list"), "statuslist"),
    "StatusStore": "store",
}


def __getattr__(name: str) -> Any:
    """Import on first use (PEP 562): the verify path needs the store, not the lifecycle (cold start, #8)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"elicense.status.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Action",
    "IllegalTransition",
    "LicenceState",
    "ListState",
    "RevocationReason",
    "StatusError",
    "StatusEvent",
    "StatusList",
    "StatusListError",
    "StatusStore",
    "UnknownLicence",
    "parse_status_list",
    "reason",
    "sign_status_list",
]
