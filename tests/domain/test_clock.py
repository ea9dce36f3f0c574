"""The stage clock: deadlines in working time across a holiday, suspension, extension, restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from civicgrid.domain.calendar import WorkCalendar
from civicgrid.domain.clock import light_at, stage_clock
from civicgrid.domain.limits import parse_limit
from civicgrid.domain.vocabulary import Action, CaseState, Light, Stage

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
A, S = Action, CaseState
LIMITS = {
    Stage.VERIFY: parse_limit("2h"),
    Stage.DISPATCH: parse_limit("30min"),
    Stage.HANDLE: parse_limit("2wd"),
    Stage.CHECK: parse_limit("4wh"),
}


@dataclass
class Ev:
    action: Action
    to_state: CaseState
    at: datetime
    extension_seconds: float = 0.0


def t(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


BASE = [
    Ev(A.REPORT, S.REPORTED, t(9, 30, 9)),
    Ev(A.REGISTER, S.REGISTERED, t(9, 30, 9, 10)),
    Ev(A.DISPATCH, S.DISPATCHED, t(9, 30, 9, 30)),
]


def test_verify_stage_runs_in_natural_time() -> None:
    clock = stage_clock(BASE[:1], LIMITS, CAL)
    assert clock is not None and clock.stage is Stage.VERIFY
    assert clock.deadline == t(9, 30, 11)
    # 80 % of two hours: yellow at 10:36.
    assert clock.warning_at == t(9, 30, 10, 36)


def test_handle_limit_in_working_days_jumps_the_national_day_holiday() -> None:
    clock = stage_clock(BASE, LIMITS, CAL)
    assert clock is not None and clock.stage is Stage.HANDLE and clock.started_at == t(9, 30, 9, 30)
    # Working time left on Wed 30 Sep from 09:30: 2.5 h + 4 h = 6.5 h of the 2 × 7.5 h needed.
    # Thu 1 – Wed 7 Oct are holidays; Thu 8 Oct gives 7.5 h (now 14 h); 1 h more on Fri 9 Oct → 09:30.
    assert clock.deadline == t(10, 9, 9, 30)
    assert clock.light(t(10, 8, 17)) is Light.YELLOW
    assert clock.light(t(10, 9, 9, 30)) is Light.RED
    assert clock.light(t(9, 30, 12)) is Light.GREEN


def test_an_adjusted_saturday_counts_as_a_working_day() -> None:
    events = [Ev(A.REPORT, S.REPORTED, t(10, 9, 16)), Ev(A.DISPATCH, S.DISPATCHED, t(10, 9, 16))]
    clock = stage_clock(events, LIMITS, CAL)
    assert clock is not None
    # Fri 9 Oct 16:00 → 1.5 h that day; Sat 10 Oct is a 调休 workday (7.5 h, now 9 h);
    # Sun 11 Oct rests; Mon 12 Oct supplies the last 6 h: 08:30–12:00 (3.5) + 13:30–16:00 (2.5).
    assert clock.deadline == t(10, 12, 16)


def test_suspended_time_is_left_out_and_the_clock_stands_still_meanwhile() -> None:
    suspended = [*BASE, Ev(A.SUSPEND, S.SUSPENDED, t(9, 30, 10, 30))]
    clock = stage_clock(suspended, LIMITS, CAL)
    assert clock is not None and clock.suspended and clock.deadline is None
    assert light_at(t(12, 1, 0), clock.warning_at, clock.deadline) is None
    resumed = [*suspended, Ev(A.RESUME, S.DISPATCHED, t(10, 12, 8, 30))]
    clock = stage_clock(resumed, LIMITS, CAL)
    assert clock is not None and not clock.suspended
    # 1 h ran before the suspension (09:30–10:30); 14 h remain from Mon 12 Oct 08:30:
    # Mon gives 7.5 h, Tue 13 Oct the other 6.5 h → 08:30–12:00 + 13:30–16:30.
    assert clock.deadline == t(10, 13, 16, 30)


def test_approved_extension_adds_to_the_limit_and_a_denied_one_does_not() -> None:
    asked = [
        *BASE,
        Ev(A.ACCEPT, S.IN_PROGRESS, t(9, 30, 10)),
        Ev(A.REQUEST_EXTENSION, S.EXTENSION_REQUESTED, t(9, 30, 11)),
    ]
    denied = stage_clock([*asked, Ev(A.DENY_EXTENSION, S.IN_PROGRESS, t(9, 30, 14))], LIMITS, CAL)
    day = CAL.workday_seconds
    approved = stage_clock(
        [*asked, Ev(A.APPROVE_EXTENSION, S.IN_PROGRESS, t(9, 30, 14), extension_seconds=day)], LIMITS, CAL
    )
    assert denied is not None and denied.deadline == t(10, 9, 9, 30)
    assert approved is not None and approved.deadline == t(
        10, 10, 9, 30
    )  # one more working day: Sat 10 Oct works (调休)
    assert approved.extension_seconds == day


def test_rework_and_redispatch_restart_the_handling_clock() -> None:
    handled = [*BASE, Ev(A.ACCEPT, S.IN_PROGRESS, t(9, 30, 10)), Ev(A.HANDLE, S.HANDLED, t(10, 8, 9))]
    check = stage_clock(handled, LIMITS, CAL)
    assert (
        check is not None and check.stage is Stage.CHECK and check.deadline == t(10, 8, 14, 30)
    )  # 09:00–12:00 is 3 h, then 13:30–14:30
    rework = stage_clock([*handled, Ev(A.FAIL_CHECK, S.REWORK, t(10, 8, 10))], LIMITS, CAL)
    assert rework is not None and rework.stage is Stage.HANDLE and rework.started_at == t(10, 8, 10)
    rejected = [*BASE, Ev(A.REJECT, S.REJECTED_BY_DEPARTMENT, t(9, 30, 10))]
    again = stage_clock([*rejected, Ev(A.DISPATCH, S.DISPATCHED, t(9, 30, 11))], LIMITS, CAL)
    assert again is not None and again.started_at == t(9, 30, 11)


def test_no_clock_once_checked_or_closed_or_without_a_limit() -> None:
    assert stage_clock([*BASE, Ev(A.ACCEPT, S.IN_PROGRESS, t(9, 30, 10))], {}, CAL) is None
    closed = [Ev(A.REPORT, S.REPORTED, t(9, 30, 9)), Ev(A.CHECK, S.CHECKED, t(9, 30, 9))]
    assert stage_clock(closed, LIMITS, CAL) is None
