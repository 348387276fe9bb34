"""How long trust data stays usable: the earliest next-update of every part that verdicts need.

A bundle's own next update may be 30 days away while the status lists and CRLs inside
it expire after 7: from day 8 every verdict is INDETERMINATE. So the freshness a kiosk
shows and warns about is the minimum over the bundle, its national and region lists,
its status lists and its CRLs (#20).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from elicense.verdict.zh import human_time as human_time  # moved to the ground floor (reason details use it)

WARN_BEFORE = dt.timedelta(days=3)
"""Warn this long before the first part expires (verdicts turn INDETERMINATE then)."""


@dataclass(frozen=True)
class Part:
    """One dated part of the trust data."""

    kind: str
    """``bundle``, ``national_list``, ``region_list``, ``status_list`` or ``crl``."""
    name: str
    """Which one: a region code, an authority code, a CA name."""
    next_update: dt.datetime
    """After this, verdicts that need the part are INDETERMINATE."""

    def to_dict(self) -> dict[str, str]:
        """JSON form (ISO times with ``Z``)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "next_update": self.next_update.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        }


KIND_LABELS = {
    "bundle": ("trust bundle", "信任数据包"),
    "national_list": ("national list of lists", "全国信任列表"),
    "region_list": ("region trust list", "地区信任列表"),
    "status_list": ("status list", "状态列表"),
    "crl": ("CRL", "证书吊销列表"),
}


def earliest(items: list[Part]) -> Part | None:
    """The part that expires first."""
    return min(items, key=lambda p: p.next_update) if items else None


def describe_part(part: Part, lang: str) -> str:
    """``status list 11370100MB28571989`` / ``状态列表 11370100MB28571989``."""
    en, zh = KIND_LABELS.get(part.kind, (part.kind, part.kind))
    return f"{zh if lang == 'zh' else en} {part.name}"
