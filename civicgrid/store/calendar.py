"""Queries for the centre's loaded calendar, and the open cases its changes reach."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import ColumnElement, ScalarSelect, delete, func, select
from sqlalchemy.orm import Session, selectinload

from civicgrid.domain.calendar import ArrangedDay
from civicgrid.domain.vocabulary import CaseState
from civicgrid.store.models import CalendarDay, Case


@dataclass(frozen=True)
class LoadedYear:
    """A year the centre loaded: how many days it lists, when and by whom."""

    year: int
    days: int
    loaded_at: datetime
    loaded_by: str


def stored_days(session: Session) -> dict[date, bool]:
    """Every loaded day and whether it is worked."""
    return {day: working for day, working in session.execute(select(CalendarDay.day, CalendarDay.is_workday))}


def stored_year(session: Session, year: int) -> list[ArrangedDay]:
    """The loaded days of ``year``, by date (none if the year was not loaded)."""
    rows = session.scalars(select(CalendarDay).where(_in_year(year)).order_by(CalendarDay.day))
    return [ArrangedDay(row.day, row.is_workday, row.name) for row in rows]


def loaded_years(session: Session) -> list[LoadedYear]:
    """The loaded years, oldest first."""
    years: dict[int, list[CalendarDay]] = {}
    for row in session.scalars(select(CalendarDay).order_by(CalendarDay.day)):
        years.setdefault(row.day.year, []).append(row)
    return [
        LoadedYear(year, len(rows), max(row.loaded_at for row in rows), rows[-1].loaded_by)
        for year, rows in years.items()
    ]


@cache
def revision_columns() -> tuple[ScalarSelect[int], ScalarSelect[datetime | None]]:
    """A cheap mark of the loaded calendar that changes whenever a year is loaded, as two
    scalar subqueries to read along with another statement."""
    return (
        select(func.count(CalendarDay.id)).scalar_subquery(),
        select(func.max(CalendarDay.loaded_at)).scalar_subquery(),
    )


def replace_year(
    session: Session, year: int, days: Sequence[ArrangedDay], loaded_at: datetime, loaded_by: str
) -> bool:
    """Store ``days`` as the whole arrangement of ``year``; whether one was stored before."""
    replaced = session.execute(delete(CalendarDay).where(_in_year(year))).rowcount > 0
    session.add_all(
        CalendarDay(day=d.day, is_workday=d.working, name=d.name, loaded_at=loaded_at, loaded_by=loaded_by)
        for d in days
    )
    session.flush()
    return replaced


def _in_year(year: int) -> ColumnElement[bool]:
    return CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))


def open_case_batches(session: Session, states: Collection[CaseState], size: int) -> Iterator[list[Case]]:
    """Every case in ``states``, ``size`` at a time by id, with what its clock is computed
    from loaded (and locked on PostgreSQL). As the system, not for a user: no scope."""
    last_id = 0
    while True:
        batch = list(
            session.scalars(
                select(Case)
                .where(Case.state.in_(states), Case.id > last_id)
                .order_by(Case.id)
                .limit(size)
                .options(selectinload(Case.events), selectinload(Case.category))
                .with_for_update(of=Case)
            )
        )
        if not batch:
            return
        yield batch
        last_id = batch[-1].id
