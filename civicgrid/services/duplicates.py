"""The duplicate hint at intake: before an operator registers a report, the open cases of
the same category close to it (in the same grid, or within a short distance) registered
lately, nearest first, so the report can be merged (合并) into one of them instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import CoordinateSystem
from civicgrid.geo.crs import to_wgs84
from civicgrid.geo.distance import box_around, distance_m
from civicgrid.geo.index import territory_index
from civicgrid.store import cases as case_queries
from civicgrid.store import geo as geo_queries
from civicgrid.store.lookups import by_code
from civicgrid.store.models import Case, Category, User


@dataclass(frozen=True)
class Nearby:
    """A case that may be the same problem, and how close it is."""

    case: Case
    #: Metres from the point; None for a case in the same grid without a coordinate.
    distance_m: float | None
    same_grid: bool


@dataclass(frozen=True)
class NearbyFound:
    """What the hint found around a point."""

    grid_code: str | None
    cases: list[Nearby]


def nearby_cases(
    session: Session,
    actor: User,
    category_code: str,
    lng: float,
    lat: float,
    crs: CoordinateSystem,
    *,
    radius_m: float,
    days: int,
    now: datetime,
    limit: int,
) -> NearbyFound:
    """The open cases of category ``category_code`` that ``actor`` may see, registered in
    the last ``days`` days, in the grid of the point (lng, lat) or within ``radius_m`` of
    it: nearest first, at most ``limit``."""
    category = by_code(session, Category, category_code)
    lng, lat = to_wgs84(lng, lat, crs)
    grid = territory_index(session, geo_queries.territory_mark(session)).grids.place(lng, lat).grid
    found = []
    for case in case_queries.nearby(
        session,
        actor,
        category.id,
        grid.id if grid else None,
        box_around(lng, lat, radius_m),
        since=now - timedelta(days=days),
    ):
        distance = (
            distance_m(lng, lat, case.lng, case.lat)
            if case.lng is not None and case.lat is not None
            else None
        )
        same_grid = grid is not None and case.grid_id == grid.id
        if same_grid or (distance is not None and distance <= radius_m):
            found.append(Nearby(case, distance, same_grid))
    found.sort(key=lambda near: (near.distance_m is None, near.distance_m or 0.0, -near.case.id))
    return NearbyFound(grid.code if grid else None, found[:limit])
