"""The pure status lifecycle: every transition, every illegal one, status at a time."""

from __future__ import annotations

import datetime as dt

import pytest

from elicense.errors import UsageError
from elicense.model import LicenceStatus
from elicense.status.lifecycle import Action, IllegalTransition, LicenceState, StatusEvent
from elicense.status.reasons import ListState, reason

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
LID = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
NEW = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.X"


def fresh() -> LicenceState:
    return LicenceState.issued(LID, "11430000006122244L", 4242, at=T0, actor="clerk")


def go(state: LicenceState, action: Action, days: int, **kw: object) -> LicenceState:
    when = T0 + days * DAY
    new, event = state.apply(action, effective_at=when, recorded_at=when, **kw)  # type: ignore[arg-type]
    assert event.from_status is state.status and event.to_status is new.status
    return new


LEGAL = [
    (LicenceStatus.VALID, Action.SUSPEND, {}, LicenceStatus.SUSPENDED),
    (LicenceStatus.VALID, Action.REVOKE, {"reason": "revoked"}, LicenceStatus.REVOKED),
    (LicenceStatus.VALID, Action.REVOKE, {"reason": "cancelled"}, LicenceStatus.REVOKED),
    (LicenceStatus.VALID, Action.REVOKE, {"reason": "注销"}, LicenceStatus.REVOKED),
    (LicenceStatus.VALID, Action.SUPERSEDE, {"successor": NEW}, LicenceStatus.SUPERSEDED),
    (LicenceStatus.SUSPENDED, Action.REINSTATE, {}, LicenceStatus.VALID),
    (LicenceStatus.SUSPENDED, Action.REVOKE, {"reason": "annulled"}, LicenceStatus.REVOKED),
    (LicenceStatus.SUSPENDED, Action.SUPERSEDE, {"successor": NEW}, LicenceStatus.SUPERSEDED),
]


def state_in(status: LicenceStatus) -> LicenceState:
    s = fresh()
    if status is LicenceStatus.SUSPENDED:
        s = go(s, Action.SUSPEND, 1)
    elif status is LicenceStatus.REVOKED:
        s = go(s, Action.REVOKE, 1)
    elif status is LicenceStatus.SUPERSEDED:
        s = go(s, Action.SUPERSEDE, 1, successor=NEW)
    assert s.status is status
    return s


@pytest.mark.parametrize(("start", "action", "kw", "end"), LEGAL)
def test_legal_transition(start, action, kw, end):  # type: ignore[no-untyped-def]
    s = go(state_in(start), action, 5, **kw)
    assert s.status is end
    assert s.history[-1].action is action
    assert len(s.history) == (2 if start is LicenceStatus.VALID else 3)


ILLEGAL = [
    (LicenceStatus.VALID, Action.REINSTATE, {}),
    (LicenceStatus.SUSPENDED, Action.SUSPEND, {}),
    (LicenceStatus.REVOKED, Action.REINSTATE, {}),
    (LicenceStatus.REVOKED, Action.SUSPEND, {}),
    (LicenceStatus.REVOKED, Action.REVOKE, {}),
    (LicenceStatus.REVOKED, Action.SUPERSEDE, {"successor": NEW}),
    (LicenceStatus.SUPERSEDED, Action.REINSTATE, {}),
    (LicenceStatus.SUPERSEDED, Action.SUSPEND, {}),
    (LicenceStatus.SUPERSEDED, Action.REVOKE, {}),
    (LicenceStatus.SUPERSEDED, Action.SUPERSEDE, {"successor": NEW}),
    (LicenceStatus.VALID, Action.ISSUE, {}),
]


@pytest.mark.parametrize(("start", "action", "kw"), ILLEGAL)
def test_illegal_transition_is_a_clear_error(start, action, kw):  # type: ignore[no-untyped-def]
    s = state_in(start)
    with pytest.raises(IllegalTransition) as info:
        go(s, action, 5, **kw)
    assert info.value.code == "illegal_transition"
    assert info.value.message_zh


def test_reinstating_a_revoked_licence_says_why():  # type: ignore[no-untyped-def]
    with pytest.raises(IllegalTransition, match="revoked"):
        go(state_in(LicenceStatus.REVOKED), Action.REINSTATE, 5)


def test_supersede_rules():  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        go(fresh(), Action.SUPERSEDE, 1)
    with pytest.raises(IllegalTransition):
        go(fresh(), Action.SUPERSEDE, 1, successor=LID)
    with pytest.raises(UsageError):
        go(fresh(), Action.REVOKE, 1, successor=NEW)


def test_reason_must_fit_the_operation():  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        go(fresh(), Action.REVOKE, 1, reason="suspended")
    with pytest.raises(UsageError):
        go(fresh(), Action.SUSPEND, 1, reason="revoked")
    with pytest.raises(UsageError):
        go(fresh(), Action.REVOKE, 1, reason="no-such-reason")
    with pytest.raises(UsageError):
        go(state_in(LicenceStatus.SUSPENDED), Action.REINSTATE, 5, reason="revoked")


def test_history_cannot_be_rewritten_nor_scheduled():  # type: ignore[no-untyped-def]
    s = go(fresh(), Action.SUSPEND, 10)
    with pytest.raises(IllegalTransition):  # before the last event
        s.apply(Action.REINSTATE, effective_at=T0 + 5 * DAY, recorded_at=T0 + 11 * DAY)
    with pytest.raises(IllegalTransition):  # before issuance
        fresh().apply(Action.REVOKE, effective_at=T0 - DAY, recorded_at=T0)
    with pytest.raises(IllegalTransition):  # scheduled more than a year ahead
        s.apply(Action.REINSTATE, effective_at=T0 + 400 * DAY, recorded_at=T0 + 11 * DAY)
    planned, _ = s.apply(Action.REINSTATE, effective_at=T0 + 20 * DAY, recorded_at=T0 + 11 * DAY)
    assert planned.status is LicenceStatus.VALID  # recorded state
    assert planned.status_at(T0 + 15 * DAY).status is LicenceStatus.SUSPENDED  # not yet in effect
    assert planned.status_at(T0 + 20 * DAY).status is LicenceStatus.VALID
    with pytest.raises(IllegalTransition):  # a later change cannot take effect before the scheduled one
        planned.apply(Action.REVOKE, effective_at=T0 + 12 * DAY, recorded_at=T0 + 12 * DAY)
    back, event = s.apply(Action.REINSTATE, effective_at=T0 + 10 * DAY, recorded_at=T0 + 11 * DAY)
    assert back.status is LicenceStatus.VALID and event.recorded_at > event.effective_at


def test_naive_times_are_refused():  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        fresh().apply(Action.SUSPEND, effective_at=dt.datetime(2026, 2, 1), recorded_at=T0 + DAY)


def test_status_at_a_time():  # type: ignore[no-untyped-def]
    s = go(fresh(), Action.SUSPEND, 10)
    s = go(s, Action.REINSTATE, 20)
    s = go(s, Action.REVOKE, 30, reason="cancelled")
    assert s.status_at(T0 - DAY) is None
    assert s.status_at(T0).status is LicenceStatus.VALID
    assert s.status_at(T0 + 10 * DAY).status is LicenceStatus.SUSPENDED
    assert s.status_at(T0 + 15 * DAY).list_state is ListState.SUSPENDED
    assert s.status_at(T0 + 25 * DAY).status is LicenceStatus.VALID
    view = s.status_at(T0 + 31 * DAY)
    assert view.status is LicenceStatus.REVOKED and view.reason == "cancelled"
    assert view.since == T0 + 30 * DAY and view.list_state is ListState.REVOKED
    assert s.current == view


def test_events_round_trip_for_the_audit_log():  # type: ignore[no-untyped-def]
    s = go(fresh(), Action.SUPERSEDE, 3, successor=NEW, actor="clerk", note="换发 #12")
    for event in s.history:
        assert StatusEvent.from_dict(event.to_dict()) == event
    assert s.history[-1].to_dict()["successor"] == NEW


def test_reason_table():  # type: ignore[no-untyped-def]
    assert reason("吊销").key == "revoked" and reason("cancelled").zh == "注销"
    assert reason("暂扣").state is ListState.SUSPENDED
