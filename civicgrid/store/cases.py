"""Queries for cases; each one goes through ``scoped``."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, Select, and_, case, exists, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql.base import ExecutableOption

from civicgrid.domain.errors import NotFound
from civicgrid.domain.vocabulary import FINAL_STATES, OPEN_STATES, CaseState, GridDuty, Light, Satisfaction
from civicgrid.geo.distance import Box
from civicgrid.schemas import CaseCursor, CaseFilters
from civicgrid.store.lookups import by_code
from civicgrid.store.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseTask,
    Category,
    Department,
    Grid,
    GridStaff,
    Region,
    User,
    case_overlay_grids,
)
from civicgrid.store.scoping import in_region, scoped
from civicgrid.store.types import UTCDateTime

#: What the case file shows, loaded with the case in three statements however long its
#: history: the case joined with its many-to-one neighbours and its few joint-handling tasks
#: and overlay grids (a handful each, so their product stays small), then the events with
#: their actors, then the attachments.
CASE_FILE = (
    joinedload(Case.category),
    joinedload(Case.region).defer(Region.boundary),
    joinedload(Case.grid),
    joinedload(Case.department),
    joinedload(Case.merged_into),
    joinedload(Case.inspector),
    joinedload(Case.overlay_grids).defer(Grid.boundary),
    joinedload(Case.tasks).joinedload(CaseTask.department),
    selectinload(Case.events).joinedload(CaseEvent.actor),
    selectinload(Case.attachments).joinedload(Attachment.uploaded_by),
)


#: What a list row shows of a case's references, each read in one statement for the whole
#: page, without the boundaries of regions and grids, which no row shows. (Joined into the
#: page's own statement they would let the database plan the page from the region's side and
#: sort a street's whole history.)
LIST_ROW_LOADS: tuple[ExecutableOption, ...] = (
    selectinload(Case.category),
    selectinload(Case.region).defer(Region.boundary),
    selectinload(Case.grid).defer(Grid.boundary),
    selectinload(Case.department),
)


def get_visible(
    session: Session,
    actor: User,
    number: str,
    *,
    for_update: bool = False,
    case_file: bool = False,
    options: Sequence[ExecutableOption] = (),
) -> Case:
    """The case ``number`` if ``actor`` may see it, else NotFound; locked for writing if
    asked, with everything the case file shows loaded (``case_file``), and with ``options``
    loading what the caller needs of it in the same round."""
    query = scoped(select(Case).where(Case.number == number), actor).options(*options)
    if for_update:
        # PostgreSQL locks the case's row (not the rows joined to it); SQLite serialises
        # writers and the version check catches the rest.
        query = query.with_for_update(of=Case)
    if case_file:
        query = query.options(*CASE_FILE)
    case = session.execute(query).unique().scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case '{number}' that you may see", zh=f"没有找到案件「{number}」，或您无权查看")
    return case


def is_visible(session: Session, actor: User, number: str) -> bool:
    """Whether ``actor`` may see the case ``number`` (e.g. still, after an action)."""
    query = scoped(select(Case).where(Case.number == number), actor).with_only_columns(Case.id)
    return session.scalar(query) is not None


def filtered(
    session: Session, actor: User, filters: CaseFilters, now: datetime, *, by_time: bool = False
) -> Select[tuple[Case]]:
    """The actor's cases narrowed by ``filters``, newest first (``by_time``: the query walks
    a time index, which scope only sifts; see ``scoping.in_region``)."""
    # Red and yellow are a few open cases: they are found through the clock's indexes, and
    # the scope only sifts them (through a region's index the database would read its whole
    # history to find them).
    by_time = by_time or filters.light in (Light.RED, Light.YELLOW)
    query = scoped(select(Case), actor, by_time=by_time)
    if filters.state:
        query = query.where(Case.state.in_(filters.state))
    if filters.light is not None:
        query = query.where(light_is(filters.light, now))
    if filters.region_code:
        query = query.where(in_region(by_code(session, Region, filters.region_code), by_time=by_time))
    if filters.grid_code:
        grid_id = by_code(session, Grid, filters.grid_code).id
        # A case counts in its own grid and in the overlay grids it lies in. Both sides are
        # found through an index (the grid's cases, the overlay's list of cases), so a grid's
        # cases never cost a walk through every case.
        in_overlay = select(case_overlay_grids.c.case_id).where(case_overlay_grids.c.grid_id == grid_id)
        query = query.where(or_(Case.grid_id == grid_id, Case.id.in_(in_overlay)))
    if filters.department_code:
        query = query.where(Case.department_id == by_code(session, Department, filters.department_code).id)
    if filters.category_code:
        category = by_code(session, Category, filters.category_code)
        query = query.where(
            or_(Case.category_id == category.id, Case.category_id.in_(_children(category.id)))
        )
    if filters.channel:
        query = query.where(Case.channel.in_(filters.channel))
    if filters.created_from:
        query = query.where(Case.created_at >= filters.created_from)
    if filters.created_to:
        query = query.where(Case.created_at < filters.created_to)
    if filters.q:
        query = query.where(text_matches(filters.q))
    return query.order_by(Case.created_at.desc(), Case.id.desc())


def text_matches(q: str) -> ColumnElement[bool]:
    """The cases whose number, title or address contains ``q`` (the list's text search)."""
    pattern = f"%{q}%"
    return or_(Case.number.like(pattern), Case.title.like(pattern), Case.address.like(pattern))


def light_is(light: Light, now: datetime) -> ColumnElement[bool]:
    """The cases whose open stage shows ``light`` at ``now``: the list's light filter, and
    every count by light (the dashboard's, the map's clusters), so that they always agree."""
    if light is Light.RED:
        return Case.deadline_at <= now
    if light is Light.YELLOW:
        return and_(Case.warning_at <= now, Case.deadline_at > now)
    return Case.warning_at > now


def light_of(now: datetime) -> ColumnElement[str | None]:
    """The light of each case at ``now`` as a column: 'red', 'yellow', 'green', or NULL
    when no clock runs (finished or suspended cases)."""
    order = (Light.RED, Light.YELLOW, Light.GREEN)  # as light_at decides: red before the rest
    return case(*((light_is(light, now), literal(light.value)) for light in order), else_=None)


def open_counts(
    session: Session, actor: User, filters: CaseFilters, now: datetime
) -> list[tuple[CaseState, Light | None, int]]:
    """How many of the cases ``actor``'s list shows with ``filters`` (open ones when the
    filters name no state) are in each state and light, counted in one GROUP BY."""
    if not filters.state:
        filters = filters.model_copy(update={"state": list(OPEN_STATES)})
    lights = list(Light)
    query = (
        filtered(session, actor, filters, now)
        .order_by(None)
        .with_only_columns(
            Case.state,
            func.count(),
            *(func.sum(case((light_is(light, now), 1), else_=0)) for light in lights),
        )
        .group_by(Case.state)
    )
    counted: list[tuple[CaseState, Light | None, int]] = []
    for state, total, *by_light in session.execute(query):
        lit = [int(n or 0) for n in by_light]
        counted += [(CaseState(state), light, n) for light, n in zip(lights, lit, strict=True) if n]
        if int(total) > sum(lit):
            counted.append((CaseState(state), None, int(total) - sum(lit)))
    return counted


def most_overdue(
    session: Session, actor: User, filters: CaseFilters, now: datetime, limit: int
) -> list[Case]:
    """The ``limit`` red cases of the actor's list (with ``filters``) furthest past their
    deadline, read along the deadline index, with what a list row shows loaded."""
    red = filters.model_copy(update={"light": Light.RED})
    query = (
        filtered(session, actor, red, now, by_time=True).order_by(None).order_by(Case.deadline_at, Case.id)
    )
    return list(session.scalars(query.options(*LIST_ROW_LOADS).limit(limit)))


#: The most candidates the duplicate hint reads around one point (same grid or in the box).
NEARBY_CANDIDATES = 500


def nearby(
    session: Session, actor: User, category_id: int, grid_id: int | None, box: Box, since: datetime
) -> list[Case]:
    """Open cases of ``category_id`` created since ``since`` that ``actor`` may see, in grid
    ``grid_id`` or with a coordinate in ``box``: the candidates of the duplicate hint, read
    through the lat/lng index (and the grid's), the newest first."""
    in_box = and_(Case.lat.between(box.min_lat, box.max_lat), Case.lng.between(box.min_lng, box.max_lng))
    place = in_box if grid_id is None else or_(in_box, Case.grid_id == grid_id)
    query = scoped(select(Case), actor).where(
        place, Case.category_id == category_id, Case.created_at >= since, Case.state.not_in(FINAL_STATES)
    )
    query = query.order_by(Case.created_at.desc(), Case.id.desc()).limit(NEARBY_CANDIDATES)
    return list(session.scalars(query.options(*LIST_ROW_LOADS)))


def reported_by(query: Select[tuple[Case]], actor: User, since: datetime) -> Select[tuple[Case]]:
    """``query`` narrowed to the cases ``actor`` reported (wrote the first event of) since ``since``."""
    first = exists().where(CaseEvent.case_id == Case.id, CaseEvent.seq == 1, CaseEvent.actor_id == actor.id)
    return query.where(Case.created_at >= since, first)


def rated(query: Select[tuple[Case]], satisfaction: Satisfaction) -> Select[tuple[Case]]:
    """``query`` narrowed to the cases the citizen rated ``satisfaction`` at the call-back."""
    return query.where(Case.satisfaction == satisfaction)


def in_own_grids(query: Select[tuple[Case]], actor: User) -> Select[tuple[Case]]:
    """``query`` narrowed to the cases in the grids ``actor`` serves as inspector (their
    appointments, and the grid of their account), if they serve any; else unchanged."""
    served = select(GridStaff.grid_id).where(
        GridStaff.user_id == actor.id, GridStaff.duty == GridDuty.INSPECTOR
    )
    if actor.grid_id is not None:
        served = served.union(select(literal(actor.grid_id)))
    own = served.subquery()
    return query.where(or_(Case.grid_id.in_(select(own)), ~select(own).exists()))


def _children(category_id: int) -> Select[tuple[int]]:
    return select(Category.id).where(Category.parent_id == category_id)


def page(
    session: Session, query: Select[tuple[Case]], after: CaseCursor | None, page_size: int
) -> tuple[list[Case], CaseCursor | None]:
    """The ``page_size`` cases of ``query`` (newest first) that come after ``after``, with
    what a list shows loaded up front (no N+1), and the cursor of the next page if any.

    Keyset paging: the page starts where the last one ended, by an index range, so page
    1,000 costs what page 1 does."""
    if after is not None:
        query = query.where(tuple_(Case.created_at, Case.id) < tuple_(after.created_at, after.id))
    rows = session.scalars(query.options(*LIST_ROW_LOADS).limit(page_size + 1)).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    return list(rows), CaseCursor(rows[-1].created_at, rows[-1].id) if more else None


#: Cases read per round of an export: a few thousand rows' worth of memory at a time.
EXPORT_BATCH = 2000


def in_batches(
    session: Session,
    query: Select[tuple[Case]],
    columns: Sequence[ColumnElement[Any]],
    size: int | None = None,
) -> Iterator[Sequence[Row[Any]]]:
    """Every case of ``query`` (scoped and filtered as the list is), newest first, as rows
    of ``columns`` followed by the case's created_at and id, ``size`` rows a round.

    Each round starts where the last one ended, by the same index range as the list's
    keyset pages, so the millionth row costs what the first does and no round holds more
    than ``size`` rows (default ``EXPORT_BATCH``)."""
    size = size or EXPORT_BATCH
    statement = (
        query.order_by(None)
        .with_only_columns(*columns, Case.created_at, Case.id)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(size)
    )
    after: tuple[datetime, int] | None = None
    while True:
        page = statement
        if after is not None:
            page = statement.where(tuple_(Case.created_at, Case.id) < tuple_(*after))
        rows = session.execute(page).fetchall()
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = (rows[-1][-2], rows[-1][-1])


#: A text search is counted among this many of the newest cases its list shows without it.
TEXT_SEARCH_COUNT_WITHIN = 20_000


def count_list(
    session: Session,
    query: Select[tuple[Case]],
    filters: CaseFilters,
    build: Callable[[CaseFilters], Select[tuple[Case]]],
    limit: int,
    within: int | None = None,
) -> tuple[int, bool]:
    """The total of ``query``, the list that ``build`` makes of ``filters``, as ``count_up_to``
    gives it.

    A text search has no index to narrow it: counting its matches over a whole history would
    read every case in the list's scope. So it is counted among the ``within`` newest cases
    (default ``TEXT_SEARCH_COUNT_WITHIN``) the list shows without the search, read along the
    time index; when there are that many, the total is what was found among them, marked as
    an estimate ("1,234+": at least that many)."""
    if not filters.q:
        return count_up_to(session, query, limit)
    within = within or TEXT_SEARCH_COUNT_WITHIN
    unsearched = build(filters.model_copy(update={"q": None}))
    hit = case((text_matches(filters.q), 1), else_=0)
    newest = unsearched.with_only_columns(hit.label("hit")).limit(within).subquery()
    scanned, hits = session.execute(select(func.count(), func.coalesce(func.sum(newest.c.hit), 0))).one()
    return min(int(hits), limit), hits > limit or scanned >= within


def count_up_to(session: Session, query: Select[tuple[Case]], limit: int) -> tuple[int, bool]:
    """How many cases ``query`` finds, counting no further than ``limit``, and whether
    there are more: a full count of a large list reads every matching row on every page."""
    found = query.order_by(None).with_only_columns(Case.id).limit(limit + 1).subquery()
    total = session.scalar(select(func.count()).select_from(found)) or 0
    return min(total, limit), total > limit


def last_event(case: Case, action: str) -> CaseEvent | None:
    """The newest event of ``case`` with ``action``."""
    return next((event for event in reversed(case.events) if event.action == action), None)


class UrgencyCursor(NamedTuple):
    """Where a page of a queue sorted by urgency ended: its last case's light rank, due time
    and id."""

    rank: int
    due: datetime
    id: int


#: Stands for "no deadline" when sorting by due time (final and untimed cases sort last).
NO_DEADLINE = datetime(9999, 1, 1, tzinfo=UTC)


def _urgency_key(now: datetime) -> tuple[ColumnElement[int], ColumnElement[datetime], ColumnElement[int]]:
    # Red (due), then yellow (warned), then green, then cases with no running clock; within
    # a light the earliest deadline first; then the newest case.
    rank = case(
        (Case.deadline_at <= now, 0),
        (Case.warning_at <= now, 1),
        (Case.deadline_at.is_not(None), 2),
        else_=3,
    )
    due = func.coalesce(Case.deadline_at, literal(NO_DEADLINE, UTCDateTime()))
    return rank, due, -Case.id


def page_by_urgency(
    session: Session,
    query: Select[tuple[Case]],
    after: UrgencyCursor | None,
    page_size: int,
    now: datetime,
) -> tuple[list[Case], UrgencyCursor | None]:
    """The ``page_size`` cases of ``query`` in a queue's order — red, yellow, green, then
    untimed; the nearest deadline first — after ``after``, and the cursor of the next page."""
    key = _urgency_key(now)
    query = query.order_by(None)
    if after is not None:
        query = query.where(tuple_(*key) > tuple_(after.rank, literal(after.due, UTCDateTime()), -after.id))
    rows = session.execute(
        query.add_columns(key[0]).options(*LIST_ROW_LOADS).order_by(*key).limit(page_size + 1)
    ).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    if not more:
        return [row[0] for row in rows], None
    last, rank = rows[-1]
    return [row[0] for row in rows], UrgencyCursor(rank, last.deadline_at or NO_DEADLINE, last.id)


def encode_urgency_cursor(cursor: UrgencyCursor) -> str:
    """The opaque text of an urgency cursor (URL-safe base64 of "rank|time|id")."""
    raw = f"{cursor.rank}|{cursor.due.astimezone(UTC).isoformat(timespec='microseconds')}|{cursor.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_urgency_cursor(text: str) -> UrgencyCursor:
    """The position an urgency cursor names; ValueError unless it is exactly one we give out."""
    problem = "not a cursor this list gave out"
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode()
        rank, moment, number = raw.split("|")
        cursor = UrgencyCursor(int(rank), datetime.fromisoformat(moment), int(number))
        exact = encode_urgency_cursor(cursor) == text
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise ValueError(problem) from None
    if cursor.rank not in range(4) or cursor.id <= 0 or not exact:
        raise ValueError(problem)
    return cursor
