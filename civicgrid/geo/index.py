"""Point-in-polygon: which grids and regions a (lng, lat) point lies in, through Shapely 2
STRtrees over prepared geometries; a batch of points (an import, the benchmark) goes through
a bucket lattice and one vectorised Shapely test of all candidate pairs instead.

Building the trees costs far more than a case creation's other work, so each process keeps
one index per database and rebuilds it only when the territory's revision mark changed
(``civicgrid.store.models.TerritoryRevision``): a write through another process changes the
stored mark too, and the next request of this one sees it.

Which grid owns a point where several cover it: the most specific kind first (dedicated,
then comprehensive, then overlay), then the smallest area, then the lowest code. A point on
the shared edge of two comprehensive grids lies in both (boundaries count as inside), so
the smaller grid wins, and between equal ones the lower code: the answer never depends on
the order the grids were loaded in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from threading import Lock
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely import STRtree
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import GridKind, RegionLevel
from civicgrid.store.models import Grid, Region

#: Which grid a case belongs to when several cover its point: the most specific one. A
#: dedicated grid (a school, a market) lies inside the base cover and has its own inspector,
#: so it comes before the comprehensive grid around it; an overlay grid is laid over the
#: base cover for its own statistics and owns a case only where nothing else covers it.
_PREFERENCE = {GridKind.DEDICATED: 0, GridKind.COMPREHENSIVE: 1, GridKind.OVERLAY: 2}
#: Regions deepest first: the community a point lies in says more than its street.
_DEPTH = {RegionLevel.COMMUNITY: 0, RegionLevel.STREET: 1, RegionLevel.DISTRICT: 2}


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
    region_id: int | None = None


@dataclass(frozen=True)
class RegionShape:
    """A region as the cached index holds it."""

    id: int
    code: str
    name: str
    level: RegionLevel
    path: str
    parent_id: int | None
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
        self._shapes = np.array([shape(grid.boundary) for grid in self._grids], dtype=object)
        # Prepared once: every later point test on a polygon reuses its edge index.
        shapely.prepare(self._shapes)
        self._tree = STRtree(self._shapes)
        # One rank per grid, the order of ownership above (kind, area, code), as an integer
        # so that a batch picks each point's owner with one sort.
        areas = shapely.area(self._shapes)
        order = sorted(
            range(len(self._grids)),
            key=lambda i: (_PREFERENCE[self._grids[i].kind], areas[i], self._grids[i].code),
        )
        self._rank = np.empty(len(order), dtype=np.int64)
        self._rank[order] = np.arange(len(order))
        self._is_overlay = np.array([g.kind is GridKind.OVERLAY for g in self._grids], dtype=bool)

    def __len__(self) -> int:
        return len(self._grids)

    @property
    def grids(self) -> list[G]:
        """The indexed grids, by position."""
        return self._grids

    def grids_at(self, lng: float, lat: float) -> list[G]:
        """Every grid whose polygon holds the point (its boundary included), the owner first:
        dedicated, comprehensive, overlay; within a kind the smallest area first, then the
        code, so overlapping grids always give the same answer."""
        hits = self._tree.query(shapely.Point(lng, lat), predicate="intersects")
        return [self._grids[i] for i in sorted(hits, key=lambda i: self._rank[i])]

    def place(self, lng: float, lat: float) -> Placement[G]:
        """The grid a case at the point belongs to (None outside the territory) and the
        overlay grids it also counts in."""
        found = self.grids_at(lng, lat)
        grid = found[0] if found else None
        return Placement(grid, [g for g in found if g.kind is GridKind.OVERLAY and g is not grid])

    def hits(self, lngs: ArrayLike, lats: ArrayLike) -> NDArray[np.int64]:
        """Every (point, grid) pair where the point lies in the grid (its boundary
        included), as a 2 × n array of positions, for a whole batch at once.

        No point becomes a geometry (making a million of them costs more than the rest):
        each point's bucket of a regular lattice over the territory is arithmetic, the
        bucket lists the grids whose bounds reach it, and Shapely tests all candidate pairs
        in one vectorised call on the prepared polygons."""
        x, y = np.asarray(lngs, dtype=float), np.asarray(lats, dtype=float)
        buckets = self._buckets
        if buckets is None:
            return np.zeros((2, 0), dtype=np.int64)
        point, bucket = buckets.bucket_of(x, y)
        first, last = buckets.start[bucket], buckets.start[bucket + 1]
        point, member = _expand(point, first, last - first)
        grid = buckets.members[member]
        inside = shapely.intersects_xy(self._shapes[grid], x[point], y[point])
        return np.vstack((point[inside], grid[inside]))

    @cached_property
    def _buckets(self) -> _Buckets | None:
        return _Buckets.of(shapely.bounds(self._shapes)) if len(self._grids) else None

    def locate(self, lngs: ArrayLike, lats: ArrayLike) -> NDArray[np.int64]:
        """For each point, the position (in ``grids``) of the grid that owns it, or -1 outside
        every grid, for a whole batch at once (imports, the benchmark)."""
        lng_array = np.asarray(lngs, dtype=float)
        owner = np.full(lng_array.shape[0], -1, dtype=np.int64)
        point, grid = self.hits(lng_array, lats)
        if point.size:
            # Sort the pairs by point, then by rank: each point's first pair is its owner.
            order = np.lexsort((self._rank[grid], point))
            point, grid = point[order], grid[order]
            first = np.flatnonzero(np.r_[True, point[1:] != point[:-1]])
            owner[point[first]] = grid[first]
        return owner

    def place_many(self, lngs: ArrayLike, lats: ArrayLike) -> list[Placement[G]]:
        """``place`` for a whole batch of points at once (an import's rows): one vectorised
        test of all candidate pairs, then each point's grids in the order of ownership."""
        found: list[list[int]] = [[] for _ in range(np.asarray(lngs).shape[0])]
        point, grid = self.hits(lngs, lats)
        for i in np.lexsort((self._rank[grid], point)):
            found[point[i]].append(int(grid[i]))
        placements = []
        for positions in found:
            grids = [self._grids[i] for i in positions]
            owner = grids[0] if grids else None
            placements.append(
                Placement(owner, [g for g in grids if g.kind is GridKind.OVERLAY and g is not owner])
            )
        return placements

    def nearest(self, lng: float, lat: float) -> G | None:
        """The grid nearest to a point (for a point outside the territory)."""
        if not self._grids:
            return None
        return self._grids[int(self._tree.nearest(shapely.Point(lng, lat)))]


#: Buckets of the batch lattice per grid: smaller buckets mean fewer candidate grids per
#: point (about (1 + 1/4)² with 16) for a little more memory.
BUCKETS_PER_GRID = 16


@dataclass(frozen=True)
class _Buckets:
    """A regular lattice over the grids' extent; ``members[start[b]:start[b + 1]]`` are
    the grids whose bounds reach bucket ``b`` (edges included)."""

    west: float
    south: float
    side: float
    columns: int
    rows: int
    start: NDArray[np.int64]
    members: NDArray[np.int64]

    @classmethod
    def of(cls, bounds: NDArray[np.float64]) -> _Buckets:
        west, south = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        east, north = float(bounds[:, 2].max()), float(bounds[:, 3].max())
        area = (east - west) * (north - south)
        side = math.sqrt(area / (BUCKETS_PER_GRID * len(bounds))) if area > 0 else 0.0
        side = side or max(east - west, north - south, 1e-9)
        columns, rows = int((east - west) // side) + 1, int((north - south) // side) + 1
        # The same arithmetic as for points, so a point on a grid's edge finds the grid.
        x0, x1 = (
            ((bounds[:, 0] - west) // side).astype(np.int64),
            ((bounds[:, 2] - west) // side).astype(np.int64),
        )
        y0, y1 = (
            ((bounds[:, 1] - south) // side).astype(np.int64),
            ((bounds[:, 3] - south) // side).astype(np.int64),
        )
        width = x1 - x0 + 1
        grid, cell = _expand(np.arange(len(bounds)), np.zeros(len(bounds), np.int64), width * (y1 - y0 + 1))
        bucket = (y0[grid] + cell // width[grid]) * columns + x0[grid] + cell % width[grid]
        order = np.argsort(bucket, kind="stable")
        start = np.searchsorted(bucket[order], np.arange(columns * rows + 1)).astype(np.int64)
        return cls(west, south, side, columns, rows, start, grid[order])

    def bucket_of(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The positions of the points inside the lattice, and their buckets."""
        fx, fy = (x - self.west) // self.side, (y - self.south) // self.side
        # NaN fails every comparison: such points lie nowhere.
        inside = np.flatnonzero((fx >= 0) & (fx < self.columns) & (fy >= 0) & (fy < self.rows))
        return inside, fy[inside].astype(np.int64) * self.columns + fx[inside].astype(np.int64)


def _expand(
    owner: NDArray[np.int64], first: NDArray[np.int64], count: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each ``owner[i]`` repeated ``count[i]`` times, beside the run first[i], first[i] + 1, …"""
    repeated = np.repeat(owner, count)
    offsets = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    return repeated, np.repeat(first, count) + offsets


class Territory:
    """The cached territory of one database at one revision: the grid index of every grid
    that takes cases (retired ones left out), and the region tree with its polygons."""

    def __init__(self, grids: Sequence[GridShape], regions: Sequence[RegionShape]) -> None:
        self.grids = GridIndex(grids)
        self.regions = {region.id: region for region in regions}
        self._by_code = {region.code: region for region in regions}
        bounded = [region for region in regions if region.boundary]
        self._region_list = sorted(bounded, key=lambda r: (_DEPTH[r.level], r.code))
        self._region_shapes = np.array([shape(r.boundary) for r in self._region_list], dtype=object)
        shapely.prepare(self._region_shapes)
        self._region_tree = STRtree(self._region_shapes)

    def path(self, region_id: int | None) -> list[RegionShape]:
        """The regions from the root down to ``region_id`` (empty for None or one unknown)."""
        region = self.regions.get(region_id) if region_id is not None else None
        if region is None:
            return []
        codes = [code for code in region.path.split("/") if code]
        return [self._by_code[code] for code in codes if code in self._by_code]

    def region_at(self, lng: float, lat: float) -> RegionShape | None:
        """The deepest region whose polygon holds the point (regions without one are skipped)."""
        hits = self._region_tree.query(shapely.Point(lng, lat), predicate="intersects")
        return self._region_list[int(min(hits))] if len(hits) else None

    def nearest_root(self, lng: float, lat: float) -> RegionShape | None:
        """The district (root region) of the grid nearest to a point outside the territory."""
        grid = self.grids.nearest(lng, lat)
        path = self.path(grid.region_id) if grid is not None else []
        return path[0] if path else None


#: Per database: the revision mark a territory was built on, and the territory.
_built: dict[str, tuple[str, Territory]] = {}
_building = Lock()


def territory_index(session: Session, mark: str) -> Territory:
    """The territory of the store at revision ``mark`` (read in the caller's transaction),
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


def build_index(session: Session) -> Territory:
    """The territory as the session sees it: grids that take cases (not retired, with a
    boundary) and every region that is not retired."""
    grid_rows = session.execute(
        select(Grid.id, Grid.code, Grid.kind, Grid.boundary, Grid.region_id).where(
            Grid.boundary.is_not(None), Grid.retired_at.is_(None)
        )
    )
    region_rows = session.execute(
        select(
            Region.id, Region.code, Region.name, Region.level, Region.path, Region.parent_id, Region.boundary
        ).where(Region.retired_at.is_(None))
    )
    return Territory([GridShape(*row) for row in grid_rows], [RegionShape(*row) for row in region_rows])
