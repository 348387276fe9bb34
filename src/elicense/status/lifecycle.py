"""The licence status lifecycle: pure state transitions with an audit record.

::

    issue ──► VALID ──suspend──► SUSPENDED ──reinstate──► VALID
                │                    │
                ├──revoke────────────┴──revoke──► REVOKED      (terminal)
                └──supersede─────────┴──────────► SUPERSEDED   (terminal, names its successor)

No IO and no clock: the registry (or the file ledger) stores the states and
the events this module returns; time is always an argument. Illegal moves
(reinstating a revoked licence, suspending twice, rewriting history by
back-dating before the last event, scheduling more than a year ahead) raise
:class:`IllegalTransition`. A change may be *scheduled* (effective after it is
recorded): :attr:`LicenceState.status` is the latest recorded state (what the
next transition is checked against), :meth:`LicenceState.status_at` the state in
effect at a time.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace
from typing import Any

from elicense.errors import ElicenseError, UsageError
from elicense.model import LicenceStatus, require_utc
from elicense.status.reasons import ListState, RevocationReason, reason

MAX_FUTURE_EFFECT = dt.timedelta(days=366)
"""How far ahead a change may be scheduled (``--effective`` in the future): at most a year."""


class StatusError(ElicenseError):
    """A status operation cannot be carried out."""

    code = "status"


class IllegalTransition(StatusError):
    """The requested transition is not allowed from the licence's current state."""

    code = "illegal_transition"


class NoStatusIndex(StatusError):
    """The licence has no status-list index: a change would be recorded but never published (#16)."""

    code = "no_status_index"


class UnknownLicence(StatusError):
    """No licence with this id is known to the registry."""

    code = "unknown_licence"


class Action(enum.StrEnum):
    """What an event did."""

    ISSUE = "issue"
    """The licence was issued (first event)."""
    SUSPEND = "suspend"
    """暂扣."""
    REINSTATE = "reinstate"
    """恢复 (end of a suspension)."""
    REVOKE = "revoke"
    """吊销 / 注销 / 撤销."""
    SUPERSEDE = "supersede"
    """变更 / 换发: replaced by a successor licence."""


_ZH = {
    LicenceStatus.VALID: "有效",
    LicenceStatus.SUSPENDED: "暂扣",
    LicenceStatus.REVOKED: "已吊销/注销",
    LicenceStatus.SUPERSEDED: "已换发",
}
_LIST_STATE = {
    LicenceStatus.VALID: ListState.VALID,
    LicenceStatus.SUSPENDED: ListState.SUSPENDED,
    LicenceStatus.REVOKED: ListState.REVOKED,
    LicenceStatus.SUPERSEDED: ListState.SUPERSEDED,
}
_ALLOWED: dict[Action, frozenset[LicenceStatus]] = {
    Action.SUSPEND: frozenset({LicenceStatus.VALID}),
    Action.REINSTATE: frozenset({LicenceStatus.SUSPENDED}),
    Action.REVOKE: frozenset({LicenceStatus.VALID, LicenceStatus.SUSPENDED}),
    Action.SUPERSEDE: frozenset({LicenceStatus.VALID, LicenceStatus.SUSPENDED}),
}
_TARGET = {
    Action.SUSPEND: LicenceStatus.SUSPENDED,
    Action.REINSTATE: LicenceStatus.VALID,
    Action.REVOKE: LicenceStatus.REVOKED,
    Action.SUPERSEDE: LicenceStatus.SUPERSEDED,
}


def _iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class StatusEvent:
    """One audited status change (the registry's audit log stores these)."""

    licence_id: str
    """The licence."""
    action: Action
    """What was done."""
    from_status: LicenceStatus | None
    """State before (``None`` for issuance)."""
    to_status: LicenceStatus
    """State after."""
    effective_at: dt.datetime
    """When the change takes legal effect (UTC); may be earlier than ``recorded_at``."""
    recorded_at: dt.datetime
    """When it was recorded (UTC)."""
    reason: str | None = None
    """Reason code (``revoked``, ``cancelled``, ``suspended``, ...)."""
    successor: str | None = None
    """For a supersession: the id of the new licence."""
    actor: str | None = None
    """Who did it (operator id), for the audit trail."""
    note: str | None = None
    """Free text (case number, decision reference)."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "licence_id": self.licence_id,
            "action": self.action.value,
            "from": self.from_status.value if self.from_status else None,
            "to": self.to_status.value,
            "effective_at": _iso(self.effective_at),
            "recorded_at": _iso(self.recorded_at),
            "reason": self.reason,
            "successor": self.successor,
            "actor": self.actor,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StatusEvent:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                licence_id=str(d["licence_id"]),
                action=Action(d["action"]),
                from_status=LicenceStatus(d["from"]) if d.get("from") else None,
                to_status=LicenceStatus(d["to"]),
                effective_at=require_utc(dt.datetime.fromisoformat(d["effective_at"])),
                recorded_at=require_utc(dt.datetime.fromisoformat(d["recorded_at"])),
                reason=d.get("reason"),
                successor=d.get("successor"),
                actor=d.get("actor"),
                note=d.get("note"),
            )
        except (KeyError, ValueError, TypeError, UsageError) as exc:
            raise StatusError(f"malformed status event: {exc}", message_zh="状态事件格式错误") from exc


@dataclass(frozen=True)
class StatusView:
    """A licence's status at one instant."""

    status: LicenceStatus
    """State."""
    since: dt.datetime
    """Effective time of the event that set it."""
    reason: str | None = None
    """Reason code of that event."""
    successor: str | None = None
    """Successor id, when superseded."""

    @property
    def list_state(self) -> ListState:
        """The 2-bit status-list value."""
        return _LIST_STATE[self.status]


@dataclass(frozen=True)
class LicenceState:
    """A licence's current status and full history (replayable)."""

    licence_id: str
    """The licence id (GB/T 36904 string)."""
    authority_code: str
    """Issuing authority code: whose status list the licence is in."""
    status_index: int | None
    """Index in that list (``None``: the licence has no status entry)."""
    history: tuple[StatusEvent, ...]
    """Every event, oldest first; the first is the issuance."""

    @classmethod
    def issued(
        cls,
        licence_id: str,
        authority_code: str,
        status_index: int | None,
        *,
        at: dt.datetime,
        actor: str | None = None,
    ) -> LicenceState:
        """The state of a freshly issued licence."""
        when = require_utc(at, "at")
        event = StatusEvent(licence_id, Action.ISSUE, None, LicenceStatus.VALID, when, when, actor=actor)
        return cls(licence_id, authority_code, status_index, (event,))

    @property
    def current(self) -> StatusView:
        """The status after the last event."""
        last = self.history[-1]
        return StatusView(last.to_status, last.effective_at, last.reason, last.successor)

    @property
    def status(self) -> LicenceStatus:
        """Current state."""
        return self.history[-1].to_status

    def status_at(self, when: dt.datetime) -> StatusView | None:
        """The status in effect at ``when`` (``None`` before issuance)."""
        when = require_utc(when, "when")
        view: StatusView | None = None
        for event in self.history:
            if event.effective_at > when:
                break
            view = StatusView(event.to_status, event.effective_at, event.reason, event.successor)
        return view

    def apply(
        self,
        action: Action,
        *,
        effective_at: dt.datetime,
        recorded_at: dt.datetime,
        reason: str | None = None,
        successor: str | None = None,
        actor: str | None = None,
        note: str | None = None,
    ) -> tuple[LicenceState, StatusEvent]:
        """Apply a transition; the new state and its audit event, or :class:`IllegalTransition`."""
        effective_at = require_utc(effective_at, "effective_at")
        recorded_at = require_utc(recorded_at, "recorded_at")
        current = self.status
        if action is Action.ISSUE or action not in _ALLOWED:
            raise IllegalTransition(f"{action.value} is not a status transition", message_zh="不是状态变更操作")
        if self.status_index is None:  # never a silent "success" that no verifier will ever see
            raise NoStatusIndex(
                f"cannot {action.value} licence {self.licence_id}: it has no status-list index, so no verifier "
                "could learn of the change; re-issue the licence with a status index",
                message_zh=f"无法对证照 {self.licence_id} 执行该操作：该证照没有状态列表索引，变更无法被校验方获知；"
                "请重新签发带索引的证照",
                details={"licence_id": self.licence_id, "action": action.value},
            )
        if current not in _ALLOWED[action]:
            hint = {
                LicenceStatus.REVOKED: "a revoked licence cannot change again; issue a new one",
                LicenceStatus.SUPERSEDED: f"it was superseded by {self.history[-1].successor}",
            }.get(current, "")
            raise IllegalTransition(
                f"cannot {action.value} licence {self.licence_id}: it is {current.value}"
                + (f" ({hint})" if hint else ""),
                message_zh=f"无法对证照 {self.licence_id} 执行该操作：当前状态为{_ZH[current]}",
                details={"from": current.value, "action": action.value},
            )
        last = self.history[-1].effective_at
        if effective_at < last:
            raise IllegalTransition(
                f"effective time {_iso(effective_at)} is before the last status change ({_iso(last)})",
                message_zh="生效时间早于上一次状态变更",
            )
        if effective_at > recorded_at + MAX_FUTURE_EFFECT:
            raise IllegalTransition(
                f"effective time lies more than {MAX_FUTURE_EFFECT.days} days ahead",
                message_zh="生效时间距今超过一年",
            )
        why: RevocationReason | None = None
        if action is Action.REVOKE:
            why = reason_for(reason or "revoked", ListState.REVOKED)
        elif action is Action.SUSPEND:
            why = reason_for(reason or "suspended", ListState.SUSPENDED)
        elif action is Action.SUPERSEDE:
            why = reason_for(reason or "superseded", ListState.SUPERSEDED)
            if not successor:
                raise UsageError("supersede needs the successor licence id", message_zh="换发须指定新证照标识")
            if successor == self.licence_id:
                raise IllegalTransition("a licence cannot supersede itself", message_zh="证照不能替代自身")
        elif reason is not None:
            raise UsageError("reinstate takes no reason code (use a note)", message_zh="恢复操作无需原因代码")
        if action is not Action.SUPERSEDE and successor is not None:
            raise UsageError("only supersede takes a successor", message_zh="仅换发操作可指定新证照")
        event = StatusEvent(
            self.licence_id, action, current, _TARGET[action], effective_at, recorded_at,
            reason=why.key if why else None, successor=successor, actor=actor, note=note,
        )  # fmt: skip
        return replace(self, history=(*self.history, event)), event


def reason_for(key: str, state: ListState) -> RevocationReason:
    """The reason ``key``, checked to fit the target state (``revoke --reason suspended`` is an error)."""
    found = reason(key)
    if found.state is not state:
        raise UsageError(
            f"reason {found.key!r} does not fit this operation",
            message_zh=f"原因“{found.zh}”不适用于该操作",
        )
    return found
