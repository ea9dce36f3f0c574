"""Point-in-polygon: which grids a (lng, lat) point lies in, through a Shapely STRtree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shapely import STRtree
from shapely.geometry import Point, shape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from civicgrid.domain.vocabulary import GridKind
from civicgrid.store.models import Grid

#: Which grid a case belongs to when several cover its point: the most specific one. A
#: dedicated grid (a school, a market) lies inside the base cover and has its own inspector,
#: so it comes before the comprehensive grid around it; an overlay grid is laid over the
#: base cover for its own statistics and owns a case only where nothing else covers it.
_PREFERENCE = {GridKind.DEDICATED: 0, GridKind.COMPREHENSIVE: 1, GridKind.OVERLAY: 2}


@dataclass(frozen=True)
class Placement:
    """Where a point lies: the grid a case there belongs to, and the overlay grids over it."""

    grid: Grid | None
    overlays: list[Grid]


class GridIndex:
    """The grids of the territory, indexed by their boundary polygons (WGS-84)."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        self._grids = [grid for grid in grids if grid.boundary]
        self._shapes = [shape(grid.boundary) for grid in self._grids]
        self._tree = STRtree(self._shapes)

    @classmethod
    def from_session(cls, session: Session) -> GridIndex:
        """An index of every grid in the store."""
        return cls(session.scalars(select(Grid).options(selectinload(Grid.region))).all())

    def grids_at(self, lng: float, lat: float) -> list[Grid]:
        """Every grid whose polygon holds the point, the most specific first: dedicated,
        comprehensive, overlay; within a kind the smallest area first, then the code, so
        overlapping dedicated grids always give the same answer."""
        hits = self._tree.query(Point(lng, lat), predicate="intersects")
        ranked = sorted(
            hits, key=lambda i: (_PREFERENCE[self._grids[i].kind], self._shapes[i].area, self._grids[i].code)
        )
        return [self._grids[i] for i in ranked]

    def place(self, lng: float, lat: float) -> Placement:
        """The grid a case at the point belongs to (None outside the territory) and the
        overlay grids it also counts in."""
        found = self.grids_at(lng, lat)
        grid = found[0] if found else None
        return Placement(grid, [g for g in found if g.kind is GridKind.OVERLAY and g is not grid])
