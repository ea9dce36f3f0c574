"""Check that each case's cached state is the state its history gives (after a restore, or
whenever in doubt): the events are the record, the state on the case is only a cache."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.errors import TransitionNotAllowed
from civicgrid.domain.vocabulary import Action
from civicgrid.domain.workflow import replay
from civicgrid.store.models import Case, CaseEvent


@dataclass(frozen=True)
class Mismatch:
    """A case whose cached state is not what replaying its events gives."""

    number: str
    cached: str
    replayed: str  # the state the events lead to, or why they lead nowhere


@dataclass
class HistoryCheck:
    """How many cases and events were replayed, and the cases that disagree."""

    cases: int = 0
    events: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


def check_history(session: Session) -> HistoryCheck:
    """Replay every case's events through the workflow table and compare with its state."""
    actions: dict[int, list[Action]] = defaultdict(list)
    check = HistoryCheck()
    for case_id, action in session.execute(
        select(CaseEvent.case_id, CaseEvent.action).order_by(CaseEvent.case_id, CaseEvent.seq)
    ):
        actions[case_id].append(action)
        check.events += 1
    for case_id, number, state in session.execute(select(Case.id, Case.number, Case.state).order_by(Case.id)):
        check.cases += 1
        try:
            replayed = replay(actions.get(case_id, [])).value
        except TransitionNotAllowed as error:
            replayed = f"no state: {error}"
        if replayed != state.value:
            check.mismatches.append(Mismatch(number, state.value, replayed))
    return check
