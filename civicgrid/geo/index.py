"""Point-in-polygon: which grids a (lng, lat) point lies in, through a Shapely STRtree.

Building the tree costs far more than a case creation's other work, so each process keeps
one index per database and rebuilds it only when the territory's revision mark changed
(``civicgrid.store.models.TerritoryRevision``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any, Generic, Protocol, TypeVar

from shapely import STRtree
from shapely.geometry import Point, shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import GridKind
from civicgrid.store.models import Grid

#: Which grid a case belongs to when several cover its point: the most specific one. A
#: dedicated grid (a school, a market) lies inside the base cover and has its own inspector,
#: so it comes before the comprehensive grid around it; an overlay grid is laid over the
#: base cover for its own statistics and owns a case only where nothing else covers it.
_PREFERENCE = {GridKind.DEDICATED: 0, GridKind.COMPREHENSIVE: 1, GridKind.OVERLAY: 2}


class Bounded(Protocol):
    """What the index needs of a grid."""

    @property
    def code(self) -> str: ...
    @property
    def kind(self) -> GridKind: ...
    @property
    def boundary(self) -> dict[str, Any] | None: ...


G = TypeVar("G", bound=Bounded)


@dataclass(frozen=True)
class GridShape:
    """A grid as the cached index holds it: plain data, bound to no session."""

    id: int
    code: str
    kind: GridKind
    boundary: dict[str, Any] | None


@dataclass(frozen=True)
class Placement(Generic[G]):
    """Where a point lies: the grid a case there belongs to, and the overlay grids over it."""

    grid: G | None
    overlays: list[G]


class GridIndex(Generic[G]):
    """The grids of the territory, indexed by their boundary polygons (WGS-84)."""

    def __init__(self, grids: Sequence[G]) -> None:
        self._grids = [grid for grid in grids if grid.boundary]
        self._shapes = [shape(grid.boundary) for grid in self._grids]
        self._tree = STRtree(self._shapes)

    def grids_at(self, lng: float, lat: float) -> list[G]:
        """Every grid whose polygon holds the point, the most specific first: dedicated,
        comprehensive, overlay; within a kind the smallest area first, then the code, so
        overlapping dedicated grids always give the same answer."""
        hits = self._tree.query(Point(lng, lat), predicate="intersects")
        ranked = sorted(
            hits, key=lambda i: (_PREFERENCE[self._grids[i].kind], self._shapes[i].area, self._grids[i].code)
        )
        return [self._grids[i] for i in ranked]

    def place(self, lng: float, lat: float) -> Placement[G]:
        """The grid a case at the point belongs to (None outside the territory) and the
        overlay grids it also counts in."""
        found = self.grids_at(lng, lat)
        grid = found[0] if found else None
        return Placement(grid, [g for g in found if g.kind is GridKind.OVERLAY and g is not grid])


#: Per database: the revision mark an index was built on, and the index.
_built: dict[str, tuple[str, GridIndex[GridShape]]] = {}
_building = Lock()


def territory_index(session: Session, mark: str) -> GridIndex[GridShape]:
    """The index of the store's grids at revision ``mark`` (read in the caller's transaction),
    built once per process and mark."""
    database = str(session.get_bind().engine.url)
    built = _built.get(database)
    if built is None or built[0] != mark:
        with _building:  # one build per change, however many requests arrive meanwhile
            built = _built.get(database)
            if built is None or built[0] != mark:
                built = (mark, build_index(session))
                _built[database] = built
    return built[1]


def build_index(session: Session) -> GridIndex[GridShape]:
    """An index of the grids in use (retired ones take no new cases), as the session sees them."""
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.kind, Grid.boundary).where(
            Grid.boundary.is_not(None), Grid.retired_at.is_(None)
        )
    )
    return GridIndex([GridShape(*row) for row in rows])
