"""Queries of the public record: the centre's cases as anyone may read them through Open311
and the citizens' portal.

These are the one deliberate exception to ``scoping.scoped``: the public's scope is the
whole jurisdiction, and what they see of a case is narrowed instead, to the public view
(``civicgrid.open311.mapping``, ``civicgrid.api.present.case_public``) — never staff names,
internal notes or the reporter — or, on the portal's map, to a category, a state, a day and
a rough place."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session, joinedload, selectinload

from civicgrid.domain.vocabulary import CaseState, Channel
from civicgrid.store.models import Case, CaseEvent, Category, Department, territory_mark

#: What a service request shows of its case, as plain columns in one statement: a list of a
#: thousand reads no ORM objects.
_COLUMNS = (
    Case.id,
    Case.number,
    Case.state,
    Case.stage,
    Case.channel,
    Case.description,
    Case.address,
    Case.lat,
    Case.lng,
    Case.media_url,
    Case.created_at,
    Case.updated_at,
    Case.closed_at,
    Case.warning_at,
    Case.deadline_at,
    Category.code.label("category_code"),
    Category.name.label("category_name"),
    Category.closure_standard,
    Department.name.label("department_name"),
)


def _public() -> Select[Any]:
    return (
        select(*_COLUMNS)
        .join(Category, Case.category_id == Category.id)
        .outerjoin(Department, Case.department_id == Department.id)
    )


def by_numbers(session: Session, numbers: Collection[str]) -> list[Row[Any]]:
    """The public columns of the cases with these numbers (unknown ones are left out),
    newest first."""
    query = _public().where(Case.number.in_(list(numbers)))
    return list(session.execute(query.order_by(Case.created_at.desc(), Case.id.desc())))


def by_token(session: Session, token: str) -> Case | None:
    """The case an Open311 request with ``token`` became (its external id). Every channel is
    named, so that the (channel, external_id) index finds it without a scan."""
    query = select(Case).where(Case.channel.in_(list(Channel)), Case.external_id == token).limit(1)
    return session.scalar(query)


def listed(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    service_codes: Collection[str],
    states: Collection[CaseState],
    limit: int,
) -> list[Row[Any]]:
    """Up to ``limit`` cases reported in [start, end], newest first, of these classes and
    states (empty: any). Walks the time index from ``end`` and stops after ``limit`` rows."""
    newest_first = (Case.created_at.desc(), Case.id.desc())
    # The page's ids first, from the cases alone: joined with the categories from the start,
    # a planner may read every case of the window by class and sort them all.
    page = select(Case.id).where(Case.created_at >= start, Case.created_at <= end)
    if service_codes:
        page = page.where(
            Case.category_id.in_(select(Category.id).where(Category.code.in_(list(service_codes))))
        )
    if states:
        page = page.where(Case.state.in_(list(states)))
    ids = page.order_by(*newest_first).limit(limit).subquery()
    query = _public().join(ids, ids.c.id == Case.id).order_by(*newest_first)
    return list(session.execute(query))


def latest_public_notes(session: Session, case_ids: Collection[int]) -> dict[int, str]:
    """The latest public note of each case that has one, in one statement."""
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.note)
        .where(CaseEvent.case_id.in_(list(case_ids)), CaseEvent.note_is_public.is_(True))
        .order_by(CaseEvent.case_id, CaseEvent.seq)
    )
    return {case_id: note for case_id, note in rows}


def active_services(session: Session) -> list[Category]:
    """The active small classes under active big classes, by code."""
    query = (
        select(Category)
        .options(joinedload(Category.parent))
        .where(Category.parent_id.is_not(None), Category.is_active.is_(True))
        .order_by(Category.code)
    )
    return [c for c in session.scalars(query) if c.parent is not None and c.parent.is_active]


#: The small class of ``:code`` with its big class, and the territory's revision mark
#: (built once: every Open311 report reads it).
_ACTIVE_SERVICE = (
    select(Category, territory_mark())
    .options(joinedload(Category.parent))
    .where(Category.code == bindparam("code"))
)


def active_service(session: Session, code: str) -> Category | None:
    """The active small class ``code``, if any."""
    found = active_service_and_territory(session, code)
    return found[0] if found else None


def active_service_and_territory(session: Session, code: str) -> tuple[Category, str] | None:
    """The active small class ``code`` and the territory's revision mark (what a new case of
    it needs), in one statement; None if there is no such active class."""
    row = session.execute(_ACTIVE_SERVICE, {"code": code}).first()
    if row is None:
        return None
    found, mark = row
    if found.parent is None or not found.is_active or not found.parent.is_active:
        return None
    return found, mark or ""


def for_reporter(session: Session, number: str) -> Case | None:
    """Case ``number`` with what its public view shows (category, department, events), for
    the portal to compare its reporter's phone; None for an unknown number."""
    query = (
        select(Case)
        .options(joinedload(Case.category), joinedload(Case.department), selectinload(Case.events))
        .where(Case.number == number)
    )
    return session.scalar(query)


def reported_by_phone(session: Session, phone: str, limit: int) -> list[Row[Any]]:
    """The newest ``limit`` cases whose reporter phone is ``phone`` (as stored), as rows of
    number, title, state, creation time and category name."""
    query = (
        select(Case.number, Case.title, Case.state, Case.created_at, Category.name.label("category_name"))
        .join(Category, Case.category_id == Category.id)
        .where(Case.reporter_phone == phone)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(session.execute(query))


def points(session: Session, states: Collection[CaseState], limit: int) -> list[Row[Any]]:
    """Up to ``limit`` cases in ``states`` that have a point, newest first, as rows of
    lng, lat (WGS-84), state, creation time and category name: nothing else of them."""
    query = (
        select(Case.lng, Case.lat, Case.state, Case.created_at, Category.name.label("category_name"))
        .join(Category, Case.category_id == Category.id)
        .where(Case.state.in_(list(states)), Case.lng.is_not(None), Case.lat.is_not(None))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(session.execute(query))
