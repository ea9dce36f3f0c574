"""The statistical facts cached on each case row (``civicgrid.domain.facts``): writing them
onto a case, and reading and rewriting them in bulk for a rebuild from the events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from civicgrid.domain.facts import CaseFacts
from civicgrid.domain.vocabulary import Action, CaseState, Stage
from civicgrid.store.models import Case, CaseEvent

#: The case columns that hold the facts.
FACT_COLUMNS = (
    "reported_by_id",
    "registered_at",
    "registered_by_id",
    "register_deadline_at",
    "voided_at",
    "suspended_at",
    "revisited_at",
    "supervised_at",
    "rejection_count",
    "verify_deadline_at",
    "verified_at",
    "verified_by_id",
    "dispatch_deadline_at",
    "dispatched_at",
    "dispatched_by_id",
    "handle_deadline_at",
    "handled_at",
    "check_deadline_at",
    "checked_at",
    "checked_by_id",
)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def fact_values(facts: CaseFacts) -> dict[str, Any]:
    """The facts as column values (times in UTC, as the store gives them back)."""
    verify, dispatch = facts.run(Stage.VERIFY), facts.run(Stage.DISPATCH)
    handle, check = facts.run(Stage.HANDLE), facts.run(Stage.CHECK)
    return {
        "reported_by_id": facts.reported_by,
        "registered_at": _utc(facts.registered_at),
        "registered_by_id": facts.registered_by,
        "register_deadline_at": _utc(facts.register_deadline),
        "voided_at": _utc(facts.voided_at),
        "suspended_at": _utc(facts.suspended_at),
        "revisited_at": _utc(facts.revisited_at),
        "supervised_at": _utc(facts.supervised_at),
        "rejection_count": facts.rejections,
        "verify_deadline_at": _utc(verify.deadline),
        "verified_at": _utc(verify.done_at),
        "verified_by_id": verify.done_by,
        "dispatch_deadline_at": _utc(dispatch.deadline),
        "dispatched_at": _utc(dispatch.done_at),
        "dispatched_by_id": dispatch.done_by,
        "handle_deadline_at": _utc(handle.deadline),
        "handled_at": _utc(handle.done_at),
        "check_deadline_at": _utc(check.deadline),
        "checked_at": _utc(check.done_at),
        "checked_by_id": check.done_by,
    }


def write_facts(case: Case, facts: CaseFacts) -> None:
    """Set the case's statistics columns to ``facts`` (only changed values reach the UPDATE)."""
    for name, value in fact_values(facts).items():
        if getattr(case, name) != value:
            setattr(case, name, value)


@dataclass(frozen=True)
class StoredEvent:
    """An event as the facts read it, without the ORM's weight."""

    action: Action
    to_state: CaseState
    at: datetime
    actor_id: int | None
    data: dict[str, Any]

    @property
    def extension_seconds(self) -> float:
        """Time an approved extension adds to the handling limit (0 for other events)."""
        return float(self.data.get("extension_seconds", 0))


def case_batch(session: Session, after_id: int, size: int) -> Sequence[Row[Any]]:
    """Up to ``size`` cases after id ``after_id``: id, category, urgency and their facts."""
    columns = [Case.id, Case.category_id, Case.urgency, *(getattr(Case, name) for name in FACT_COLUMNS)]
    return session.execute(select(*columns).where(Case.id > after_id).order_by(Case.id).limit(size)).all()


def events_between(session: Session, first_id: int, last_id: int) -> dict[int, list[StoredEvent]]:
    """The events of the cases with ids ``first_id`` to ``last_id``, per case, oldest first."""
    rows = session.execute(
        select(
            CaseEvent.case_id,
            CaseEvent.action,
            CaseEvent.to_state,
            CaseEvent.at,
            CaseEvent.actor_id,
            CaseEvent.data,
        )
        .where(CaseEvent.case_id.between(first_id, last_id))
        .order_by(CaseEvent.case_id, CaseEvent.seq)
    )
    found: dict[int, list[StoredEvent]] = defaultdict(list)
    for case_id, action, to_state, at, actor_id, data in rows:
        found[case_id].append(StoredEvent(action, to_state, at, actor_id, data or {}))
    return found


def update_facts(session: Session, changes: list[dict[str, Any]]) -> None:
    """Rewrite the facts of cases: each change holds ``case_id`` and every fact column. One
    statement for the lot; the case's version is left alone (the facts are a cache)."""
    if not changes:
        return
    table = Case.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("case_id"))
        .values({name: bindparam(name) for name in FACT_COLUMNS})
    )
    session.connection().execute(statement, changes)
