"""Point → grid: the most specific grid that covers a point owns the case; the overlay grids
laid over the base cover keep it for their statistics."""

from __future__ import annotations

from civicgrid.domain.vocabulary import GridKind
from civicgrid.geo.index import GridIndex
from civicgrid.store.models import Grid
from tests.factories import square


def grid(code: str, kind: GridKind, lng: float, lat: float, size: float) -> Grid:
    return Grid(code=code, name=code, kind=kind, boundary=square(lng, lat, size))


BASE = grid("G-01", GridKind.COMPREHENSIVE, 120.00, 30.00, 0.010)
SCHOOL = grid("G-D01", GridKind.DEDICATED, 120.002, 30.002, 0.002)
ESTATE = grid("G-Z01", GridKind.OVERLAY, 120.001, 30.001, 0.005)
INDEX = GridIndex([ESTATE, SCHOOL, BASE, Grid(code="G-X", name="无边界", kind=GridKind.OVERLAY)])


def test_a_dedicated_grid_owns_its_point_before_the_comprehensive_grid() -> None:
    assert INDEX.grids_at(120.003, 30.003) == [SCHOOL, BASE, ESTATE]
    placement = INDEX.place(120.003, 30.003)
    assert placement.grid is SCHOOL
    assert placement.overlays == [ESTATE]


def test_outside_the_dedicated_grid_the_comprehensive_grid_owns_the_point() -> None:
    assert INDEX.place(120.0015, 30.0015).grid is BASE
    assert INDEX.place(120.0015, 30.0015).overlays == [ESTATE]
    assert INDEX.place(120.009, 30.009).grid is BASE
    assert INDEX.place(120.009, 30.009).overlays == []


def test_overlapping_dedicated_grids_the_smallest_then_the_code_wins() -> None:
    # The market's code sorts first, but the school's grid is smaller: the school owns the point.
    market = grid("G-D00", GridKind.DEDICATED, 120.000, 30.000, 0.006)
    same_size = grid("G-D02", GridKind.DEDICATED, 120.002, 30.002, 0.002)
    index = GridIndex([market, same_size, SCHOOL, BASE])
    assert index.grids_at(120.003, 30.003) == [SCHOOL, same_size, market, BASE]
    assert GridIndex([same_size, SCHOOL]).place(120.003, 30.003).grid is SCHOOL


def test_an_overlay_alone_owns_its_point_and_is_not_listed_twice() -> None:
    index = GridIndex([ESTATE])
    placement = index.place(120.002, 30.002)
    assert placement.grid is ESTATE and placement.overlays == []


def test_a_point_outside_every_grid_has_no_placement() -> None:
    placement = INDEX.place(121.0, 31.0)
    assert placement.grid is None and placement.overlays == []
