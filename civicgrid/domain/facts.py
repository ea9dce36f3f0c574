"""The statistical facts of one case, read off its events: when it was registered, voided,
suspended, first supervised (督办), revisited, and for each stage (verify, dispatch, handle, check) the deadline in
force of its last run and when and by whom that run was completed.

The deadline of a run is the one the stage clock (``civicgrid.domain.clock``) gave it:
working or natural time as the limit says, approved extensions added, suspended time left
out. The facts are a cache on the case row, recomputed from the events after each change
(and by ``civicgrid stats-rebuild``), so every figure can be recomputed from the history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from civicgrid.domain.calendar import WorkCalendar
from civicgrid.domain.clock import STAGE_OF_STATE, opens_stage, stage_clock
from civicgrid.domain.limits import TimeLimit
from civicgrid.domain.vocabulary import Action, CaseState, Stage

#: The actions that complete a run of each stage; any other way out of a stage (退单,
#: escalation, registration without verification, voiding) withdraws the run instead.
COMPLETES: dict[Stage, frozenset[Action]] = {
    # Verification completes inside its stage (see case_facts); leaving it unverified withdraws it.
    Stage.VERIFY: frozenset(),
    Stage.DISPATCH: frozenset({Action.DISPATCH, Action.DISPATCH_JOINT}),
    Stage.HANDLE: frozenset({Action.HANDLE}),
    Stage.CHECK: frozenset({Action.CHECK, Action.FAIL_CHECK}),
}


class FactEvent(Protocol):
    """What the facts need of a case event."""

    @property
    def action(self) -> Action: ...
    @property
    def to_state(self) -> CaseState: ...
    @property
    def at(self) -> datetime: ...
    @property
    def extension_seconds(self) -> float: ...
    @property
    def actor_id(self) -> int | None: ...


@dataclass(frozen=True)
class StageRun:
    """The last run of a stage: its deadline in force (None: no limit, or suspended now) and,
    once completed, when and by whom. An open run has ``done_at`` None."""

    deadline: datetime | None = None
    done_at: datetime | None = None
    done_by: int | None = None


@dataclass(frozen=True)
class CaseFacts:
    """What the statistics count of a case (see the module's docstring)."""

    reported_by: int | None = None
    registered_at: datetime | None = None
    registered_by: int | None = None
    #: The deadline of the clock that ran from the report to the registration (立案时限).
    register_deadline: datetime | None = None
    voided_at: datetime | None = None
    #: When the case was parked (挂账), while it still is.
    suspended_at: datetime | None = None
    revisited_at: datetime | None = None
    #: When the case was first supervised (督办).
    supervised_at: datetime | None = None
    rejections: int = 0
    runs: dict[Stage, StageRun] = field(default_factory=dict)

    def run(self, stage: Stage) -> StageRun:
        """The last run of ``stage`` (an empty one if it never ran)."""
        return self.runs.get(stage, StageRun())


def case_facts(
    events: Sequence[FactEvent], limits: Mapping[Stage, TimeLimit], calendar: WorkCalendar
) -> CaseFacts:
    """The facts of a case with ``events`` (oldest first) under its category's stage ``limits``."""
    reported_by = events[0].actor_id if events else None
    registered_at: datetime | None = None
    registered_by: int | None = None
    register_deadline: datetime | None = None
    voided_at = suspended_at = revisited_at = supervised_at = None
    rejections = 0
    runs: dict[Stage, StageRun] = {}
    running: Stage | None = None
    for index, event in enumerate(events):
        action = event.action
        if action is Action.SUSPEND:
            suspended_at = event.at
        elif action is Action.RESUME:
            suspended_at = None
        elif opens_stage(action, event.to_state, running):
            if running is not None and not _verified(runs, running):
                runs[running] = _ended_run(events[:index], running, event, limits, calendar)
            running = STAGE_OF_STATE.get(event.to_state)
        elif action is Action.VERIFY:
            # The verify stage's clock runs on until registration; the inspector's part ends here.
            clock = stage_clock(events[:index], limits, calendar)
            deadline = clock.deadline if clock is not None else None
            runs[Stage.VERIFY] = StageRun(deadline=deadline, done_at=event.at, done_by=event.actor_id)
        if action is Action.REGISTER and registered_at is None:
            registered_at, registered_by = event.at, event.actor_id
            clock = stage_clock(events[:index], limits, calendar)
            register_deadline = clock.deadline if clock is not None else None
        elif action is Action.VOID:
            voided_at = event.at
        elif action is Action.REVISIT:
            revisited_at = event.at
        elif action is Action.SUPERVISE and supervised_at is None:
            supervised_at = event.at
        elif action is Action.REJECT:
            rejections += 1
    clock = stage_clock(events, limits, calendar)
    if running is not None and not _verified(runs, running):
        runs[running] = StageRun(deadline=clock.deadline if clock is not None else None)
    return CaseFacts(
        reported_by=reported_by,
        registered_at=registered_at,
        registered_by=registered_by,
        register_deadline=register_deadline,
        voided_at=voided_at,
        suspended_at=suspended_at,
        revisited_at=revisited_at,
        supervised_at=supervised_at,
        rejections=rejections,
        runs=runs,
    )


def _verified(runs: Mapping[Stage, StageRun], running: Stage) -> bool:
    """Whether the running stage is the verify stage and its inspector has verified already."""
    return running is Stage.VERIFY and runs.get(Stage.VERIFY, StageRun()).done_at is not None


def _ended_run(
    before: Sequence[FactEvent],
    stage: Stage,
    event: FactEvent,
    limits: Mapping[Stage, TimeLimit],
    calendar: WorkCalendar,
) -> StageRun:
    """The run of ``stage`` that ``event`` ends: completed, or withdrawn (an empty run)."""
    if event.action not in COMPLETES[stage]:
        return StageRun()
    clock = stage_clock(before, limits, calendar)
    return StageRun(
        deadline=clock.deadline if clock is not None else None, done_at=event.at, done_by=event.actor_id
    )
