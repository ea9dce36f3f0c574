"""Point-in-polygon: which grids a (lng, lat) point lies in, through a Shapely STRtree."""

from __future__ import annotations

from collections.abc import Sequence

from shapely import STRtree
from shapely.geometry import Point, shape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from civicgrid.domain.vocabulary import GridKind
from civicgrid.store.models import Grid

#: Which grid a case belongs to when several cover its point: the base cover first.
_PREFERENCE = {GridKind.COMPREHENSIVE: 0, GridKind.DEDICATED: 1, GridKind.OVERLAY: 2}


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
        """Every grid whose polygon holds the point, comprehensive grids first."""
        point = Point(lng, lat)
        hits = self._tree.query(point, predicate="intersects")
        return sorted((self._grids[i] for i in hits), key=lambda grid: (_PREFERENCE[grid.kind], grid.code))

    def locate(self, lng: float, lat: float) -> Grid | None:
        """The grid a case at the point belongs to, or None outside the territory."""
        found = self.grids_at(lng, lat)
        return found[0] if found else None
