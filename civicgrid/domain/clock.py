"""The deadline clock of a case's open stage: when it started, when it turns yellow and
red, with suspended time left out and approved extensions added.

Computed from the case's events alone, so it can always be recomputed and checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from civicgrid.domain.calendar import WorkCalendar
from civicgrid.domain.limits import TimeLimit
from civicgrid.domain.vocabulary import Action, CaseState, Light, Stage

#: Which stage's clock runs in each state; states not listed have no clock.
STAGE_OF_STATE: dict[CaseState, Stage] = {
    CaseState.REPORTED: Stage.VERIFY,
    CaseState.VERIFIED: Stage.VERIFY,
    CaseState.REGISTERED: Stage.DISPATCH,
    CaseState.REJECTED_BY_DEPARTMENT: Stage.DISPATCH,
    CaseState.ESCALATED: Stage.DISPATCH,
    CaseState.DISPATCHED: Stage.HANDLE,
    CaseState.IN_PROGRESS: Stage.HANDLE,
    CaseState.EXTENSION_REQUESTED: Stage.HANDLE,
    CaseState.REWORK: Stage.HANDLE,
    CaseState.JOINT: Stage.HANDLE,
    CaseState.HANDLED: Stage.CHECK,
}

#: A stage whose clock starts again when re-entered by these actions, although the stage
#: is the same: a rework or a re-dispatch gives the department a fresh limit.
RESTARTING_ACTIONS = frozenset({Action.FAIL_CHECK, Action.DISPATCH, Action.DISPATCH_JOINT})


def opens_stage(action: Action, to_state: CaseState, running: Stage | None) -> bool:
    """Whether an event starts a fresh stage clock: it enters another stage than the one
    ``running``, or restarts the same one. Suspending and resuming pause a clock, never start one."""
    if action in (Action.SUSPEND, Action.RESUME):
        return False
    return STAGE_OF_STATE.get(to_state) != running or action in RESTARTING_ACTIONS


class TimedEvent(Protocol):
    """What the clock needs of a case event."""

    @property
    def action(self) -> Action: ...
    @property
    def to_state(self) -> CaseState: ...
    @property
    def at(self) -> datetime: ...
    @property
    def extension_seconds(self) -> float: ...


@dataclass(frozen=True)
class StageClock:
    """The clock of the open stage: ``warning_at`` (yellow) and ``deadline`` (red) are None
    while the case is suspended (the clock stands still)."""

    stage: Stage
    started_at: datetime
    warning_at: datetime | None
    deadline: datetime | None
    limit: TimeLimit
    extension_seconds: float
    suspended: bool

    def light(self, now: datetime) -> Light | None:
        """Green, yellow or red at ``now``; None while suspended."""
        return light_at(now, self.warning_at, self.deadline)


def light_at(now: datetime, warning_at: datetime | None, deadline: datetime | None) -> Light | None:
    """The light at ``now`` for a stage that turns yellow at ``warning_at`` and red at ``deadline``."""
    if deadline is None or warning_at is None:
        return None
    if now >= deadline:
        return Light.RED
    if now >= warning_at:
        return Light.YELLOW
    return Light.GREEN


def stage_clock(
    events: Sequence[TimedEvent],
    limits: Mapping[Stage, TimeLimit],
    calendar: WorkCalendar,
    warning_ratio: float = 0.8,
) -> StageClock | None:
    """The clock of the stage the case is in after ``events`` (oldest first), or None
    when no clock runs (finished, checked, or no limit for the stage)."""
    stage: Stage | None = None
    started_at: datetime | None = None
    suspended_since: datetime | None = None
    suspensions: list[tuple[datetime, datetime]] = []
    extension = 0.0
    for event in events:
        if event.action is Action.SUSPEND:
            suspended_since = event.at
            continue
        if event.action is Action.RESUME and suspended_since is not None:
            suspensions.append((suspended_since, event.at))
            suspended_since = None
            continue
        if opens_stage(event.action, event.to_state, stage):
            stage, started_at = STAGE_OF_STATE.get(event.to_state), event.at
            suspensions, extension = [], 0.0
        if event.action is Action.APPROVE_EXTENSION:
            extension += event.extension_seconds
    if stage is None or started_at is None or stage not in limits:
        return None
    limit = limits[stage]
    budget = limit.total_seconds(calendar) + extension
    suspended = suspended_since is not None
    return StageClock(
        stage=stage,
        started_at=started_at,
        warning_at=None
        if suspended
        else _reach(limit, calendar, started_at, suspensions, budget * warning_ratio),
        deadline=None if suspended else _reach(limit, calendar, started_at, suspensions, budget),
        limit=limit,
        extension_seconds=extension,
        suspended=suspended,
    )


def _reach(
    limit: TimeLimit,
    calendar: WorkCalendar,
    start: datetime,
    suspensions: Sequence[tuple[datetime, datetime]],
    amount: float,
) -> datetime:
    """The instant at which ``amount`` of the limit's time has run since ``start``, the clock
    standing still during each (past) suspension."""
    cursor, remaining = start, amount
    for paused_at, resumed_at in suspensions:
        running = limit.measure(calendar, cursor, paused_at)
        if running >= remaining:
            break
        remaining -= running
        cursor = resumed_at
    return limit.advance(calendar, cursor, remaining)
