"""Revocation and status: lifecycle, signed bitstring status lists, CRLs, the verifier's store.

Light modules only here (the verify path imports :mod:`elicense.status.store`);
:mod:`elicense.status.service` (registry, publishing) pulls in SQLAlchemy.
"""

from __future__ import annotations

from elicense.status.lifecycle import Action, IllegalTransition, LicenceState, StatusError, StatusEvent, UnknownLicence
from elicense.status.reasons import ListState, RevocationReason, reason
from elicense.status.statuslist import StatusList, StatusListError, parse_status_list, sign_status_list
from elicense.status.store import StatusStore

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
