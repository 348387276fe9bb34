"""Definitions the licence model and the verify path share: the UTC rule, China's calendar, code lists.

They live here, not in :mod:`elicense.model` (which re-exports them, and is where users
import them from), so that verifying a QR payload does not define the model's classes:
each frozen dataclass costs about a millisecond of the CLI's cold start (#8).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, Protocol

from elicense.errors import UsageError

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")
"""China Standard Time (no DST): licence dates are calendar dates in this zone."""

FieldValue = str | int | dt.date


def require_utc(when: dt.datetime, what: str = "time") -> dt.datetime:
    """Refuse naive datetimes (misuse, not bad input) and normalise to UTC."""
    if not isinstance(when, dt.datetime):
        raise UsageError(f"{what} must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise UsageError(f"{what} must be timezone-aware (UTC); got a naive datetime")
    return when.astimezone(dt.UTC)


def china_date(when: dt.datetime) -> dt.date:
    """The calendar date in China at instant ``when``."""
    return require_utc(when).astimezone(CHINA_TZ).date()


class HolderType(enum.StrEnum):
    """Holder code type (GB/T 36903 code list)."""

    USCC = "001"
    """统一社会信用代码 (organisations)."""
    RESIDENT_ID = "111"
    """公民身份号码 (citizens)."""
    OTHER = "099"
    """Other identity document."""


class LicenceStatus(enum.StrEnum):
    """Lifecycle state of a licence in the registry."""

    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class _Recordable(Protocol):
    __dict__: dict[str, Any]

    def to_dict(self) -> dict[str, Any]: ...


RECORD_CACHE = "_record"
"""Where :func:`licence_record` keeps a licence's record (a copy that changes a field must drop it)."""


def licence_record(licence: _Recordable) -> Mapping[str, Any]:
    """``licence.to_dict()``, built once per licence object and shared, read only: issuing reads it
    twice (the signed full record, the registry's copy of it)."""
    record: dict[str, Any] | None = licence.__dict__.get(RECORD_CACHE)
    if record is None:
        record = licence.to_dict()
        licence.__dict__[RECORD_CACHE] = record
    return record
