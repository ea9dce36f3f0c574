"""Queries behind the map: the territory's revision mark, the grids' staff, and cases as
points and counts. Case queries start from ``civicgrid.store.cases.filtered``, so they are
scoped and filtered exactly like the case list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, select, union_all
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import GridDuty
from civicgrid.schemas import CaseFilters
from civicgrid.store.cases import filtered, light_of
from civicgrid.store.models import (
    Case,
    Category,
    Grid,
    GridStaff,
    TerritoryRevision,
    User,
    case_overlay_grids,
)


def territory_mark(session: Session) -> str:
    """The territory's revision mark (changes with every write of a grid or region)."""
    return session.scalar(select(TerritoryRevision.mark).where(TerritoryRevision.id == 1)) or ""


def grid_staff(session: Session, grid_ids: Sequence[int]) -> dict[int, list[tuple[GridDuty, User]]]:
    """The active inspectors and leaders of the grids, by grid id, in one statement, each
    grid's people by duty then user id (the first inspector is the one new cases get)."""
    rows = session.execute(
        select(GridStaff.grid_id, GridStaff.duty, User)
        .join(User, User.id == GridStaff.user_id)
        .where(GridStaff.grid_id.in_(grid_ids), User.is_active)
        .order_by(GridStaff.grid_id, GridStaff.duty, User.id)
    )
    staff: dict[int, list[tuple[GridDuty, User]]] = {}
    for grid_id, duty, user in rows:
        staff.setdefault(grid_id, []).append((duty, user))
    return staff


def grids(session: Session, grid_ids: Sequence[int]) -> list[Grid]:
    """The grids with ``grid_ids``."""
    return list(session.scalars(select(Grid).where(Grid.id.in_(grid_ids))))


def case_points(
    session: Session,
    actor: User,
    filters: CaseFilters,
    now: datetime,
    bbox: tuple[float, float, float, float],
    limit: int,
) -> tuple[list[tuple[Any, ...]], bool]:
    """The newest ``limit`` cases the actor's case list shows with ``filters`` whose point
    lies in ``bbox`` (WGS-84: west, south, east, north), as rows of number, state, point,
    clock and category; and whether more were left out."""
    west, south, east, north = bbox
    query = (
        filtered(session, actor, filters, now)
        .join(Category, Category.id == Case.category_id)
        .where(Case.lng.between(west, east), Case.lat.between(south, north))
        .with_only_columns(
            Case.number,
            Case.state,
            Case.lng,
            Case.lat,
            Case.warning_at,
            Case.deadline_at,
            Category.code,
            Category.name,
        )
        .limit(limit + 1)
    )
    rows = [tuple(row) for row in session.execute(query)]
    return rows[:limit], len(rows) > limit


def counts_per_grid(
    session: Session, actor: User, filters: CaseFilters, now: datetime
) -> list[tuple[Any, ...]]:
    """How many of the cases the actor's list shows with ``filters`` lie in each grid (a
    case counts in its own grid and in each overlay grid it lies in), as rows of grid code,
    name, kind and count, most first; counted by the database in one statement."""
    cases = filtered(session, actor, filters, now).order_by(None).with_only_columns(Case.id, Case.grid_id)
    chosen = cases.subquery()
    own = select(chosen.c.grid_id.label("grid_id")).where(chosen.c.grid_id.is_not(None))
    overlay = select(case_overlay_grids.c.grid_id.label("grid_id")).join(
        chosen, chosen.c.id == case_overlay_grids.c.case_id
    )
    placed = union_all(own, overlay).subquery()
    count = func.count().label("count")
    query = (
        select(Grid.code, Grid.name, Grid.kind, count)
        .join(placed, placed.c.grid_id == Grid.id)
        .group_by(Grid.id, Grid.code, Grid.name, Grid.kind)
        .order_by(count.desc(), Grid.code)
    )
    return [tuple(row) for row in session.execute(query)]


def counts_per_point(
    session: Session, actor: User, filters: CaseFilters, now: datetime
) -> list[tuple[float, float, int]]:
    """The distinct points (lng, lat) of the cases the actor's list shows with ``filters``,
    each with how many cases lie there, grouped by the database."""
    chosen = (
        filtered(session, actor, filters, now)
        .order_by(None)
        .where(Case.lng.is_not(None), Case.lat.is_not(None))
        .with_only_columns(Case.lng, Case.lat)
        .subquery()
    )
    query = select(chosen.c.lng, chosen.c.lat, func.count()).group_by(chosen.c.lng, chosen.c.lat)
    return [(lng, lat, count) for lng, lat, count in session.execute(query)]


def _cell_index(offset: ColumnElement[float], size: float, dialect: str) -> ColumnElement[int]:
    """floor(offset / size) for an ``offset`` that is never negative: SQLite truncates a
    cast (which is the floor there), PostgreSQL rounds it, so it takes floor() first."""
    if dialect == "postgresql":
        return cast(func.floor(offset / size), Integer)
    return cast(offset / size, Integer)


def case_clusters(
    session: Session,
    actor: User,
    filters: CaseFilters,
    now: datetime,
    bbox: tuple[float, float, float, float],
    size: float,
    by_place: bool = True,
) -> list[tuple[int, int, int, float, float, int, int, int]]:
    """The cases the actor's list shows with ``filters`` whose point lies in ``bbox``
    (WGS-84), gathered into the cells of a lattice of ``size`` degrees anchored at
    (-180, -90), so a cell stays the same as the map moves: per cell its column, row, count,
    mean point and the counts of red, yellow and green cases; one GROUP BY.

    ``by_place``: find the cases through the index of their points, which pays in a small
    box; in a wide one (a district seen whole) the filters' indexes (the open states) find
    fewer rows, and SQLite, which cannot tell how much of the territory a box covers, is
    kept off the point index by testing an expression of the column instead."""
    west, south, east, north = bbox
    dialect = session.get_bind().dialect.name
    lng, lat = (Case.lng, Case.lat) if by_place else (Case.lng + 0.0, Case.lat + 0.0)
    chosen = (
        filtered(session, actor, filters, now)
        .order_by(None)
        .where(lng.between(west, east), lat.between(south, north))
        .with_only_columns(
            _cell_index(Case.lng + 180.0, size, dialect).label("column"),
            _cell_index(Case.lat + 90.0, size, dialect).label("row"),
            Case.lng.label("lng"),
            Case.lat.label("lat"),
            light_of(now).label("light"),
        )
        .subquery()
    )

    def lit(light: str) -> ColumnElement[int]:
        return func.sum(case((chosen.c.light == light, 1), else_=0))

    query = select(
        chosen.c.column,
        chosen.c.row,
        func.count(),
        func.avg(chosen.c.lng),
        func.avg(chosen.c.lat),
        lit("red"),
        lit("yellow"),
        lit("green"),
    ).group_by(chosen.c.column, chosen.c.row)
    return [
        (int(c), int(r), int(n), float(x), float(y), int(red or 0), int(yellow or 0), int(green or 0))
        for c, r, n, x, y, red, yellow, green in session.execute(query)
    ]
