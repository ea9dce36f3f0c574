"""The statistical facts cached on each case row (``civicgrid.domain.facts``): writing them
onto a case, and recomputing them for every stored case from its events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from civicgrid.domain.facts import CaseFacts
from civicgrid.domain.vocabulary import Stage
from civicgrid.store.models import Case


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def write_facts(case: Case, facts: CaseFacts) -> None:
    """Set the case's statistics columns to ``facts`` (only changed values reach the UPDATE)."""
    verify, dispatch = facts.run(Stage.VERIFY), facts.run(Stage.DISPATCH)
    handle, check = facts.run(Stage.HANDLE), facts.run(Stage.CHECK)
    values = {
        "reported_by_id": facts.reported_by,
        "registered_at": _utc(facts.registered_at),
        "registered_by_id": facts.registered_by,
        "voided_at": _utc(facts.voided_at),
        "suspended_at": _utc(facts.suspended_at),
        "revisited_at": _utc(facts.revisited_at),
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
    for name, value in values.items():
        if getattr(case, name) != value:
            setattr(case, name, value)


def rebuild_facts(
    session: Session, refresh: Callable[[Case], None], *, batch: int = 2000, apply: bool = False
) -> tuple[int, int]:
    """Recompute every case's facts from its events with ``refresh`` (the case service's),
    ``batch`` cases at a time, in a session of its own; return (cases read, cases whose
    facts were out of date). Without ``apply`` nothing is written (a dry run)."""
    read = changed = 0
    last_id = 0
    while True:
        with session.no_autoflush:
            cases = session.scalars(
                select(Case)
                .where(Case.id > last_id)
                .order_by(Case.id)
                .limit(batch)
                .options(joinedload(Case.category), selectinload(Case.events))
            ).all()
            if not cases:
                return read, changed
            for case in cases:
                refresh(case)
                changed += session.is_modified(case, include_collections=False)
        read += len(cases)
        last_id = cases[-1].id
        if apply:
            session.flush()
        # Forget the batch (and, in a dry run, what refresh set on it) before the next.
        session.expunge_all()
