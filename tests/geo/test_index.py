"""Point → grid: the most specific grid that covers a point owns the case; the overlay grids
laid over the base cover keep it for their statistics."""

from __future__ import annotations

import numpy as np

from civicgrid.domain.vocabulary import GridKind
from civicgrid.geo.index import GridIndex, Placement, Territory
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


def test_a_point_in_a_hole_is_outside_the_grid_and_the_grid_in_the_hole_owns_it() -> None:
    # A comprehensive grid around a lake: the lake is a hole, and a park grid fills part of it.
    outer = square(120.00, 30.00, 0.010)["coordinates"][0]
    lake = [[120.003, 30.003], [120.003, 30.007], [120.007, 30.007], [120.007, 30.003], [120.003, 30.003]]
    ring = Grid(
        code="G-01",
        name="环湖",
        kind=GridKind.COMPREHENSIVE,
        boundary={"type": "Polygon", "coordinates": [outer, lake]},
    )
    park = grid("G-D01", GridKind.DEDICATED, 120.004, 30.004, 0.001)
    index = GridIndex([ring, park])
    assert index.place(120.0045, 30.0045).grid is park
    assert index.grids_at(120.006, 30.006) == []  # in the lake, outside the park
    assert index.grids_at(120.003, 30.005) == [ring]  # the hole's edge belongs to the ring
    assert index.place(120.001, 30.001).grid is ring


def band(code: str, west: float, south: float, east: float, north: float) -> Grid:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return Grid(
        code=code, name=code, kind=GridKind.OVERLAY, boundary={"type": "Polygon", "coordinates": [ring]}
    )


def test_where_overlays_of_two_groups_cross_a_point_counts_in_both() -> None:
    public = band("G-P01", 120.000, 30.004, 120.010, 30.006)  # a street, west to east
    estate = band("G-Z02", 120.004, 30.000, 120.0055, 30.010)  # a residents' block, south to north
    index = GridIndex([BASE, public, estate])
    crossing = index.place(120.005, 30.005)
    assert crossing.grid is BASE and crossing.overlays == [estate, public]  # the smaller first
    assert index.place(120.009, 30.005).overlays == [public]


def test_batch_location_agrees_with_one_point_at_a_time() -> None:
    index = GridIndex([ESTATE, SCHOOL, BASE])
    rng = np.random.default_rng(6)
    lngs = rng.uniform(119.998, 120.012, 2000)
    lats = rng.uniform(29.998, 30.012, 2000)
    # Points on edges and corners too, where several grids meet.
    lngs = np.r_[lngs, 120.002, 120.010, 120.0, 119.9]
    lats = np.r_[lats, 30.003, 30.010, 30.0, 30.0]
    owners = index.locate(lngs, lats)
    expected = [index.place(x, y).grid for x, y in zip(lngs, lats, strict=True)]
    assert [index.grids[i] if i >= 0 else None for i in owners] == expected
    assert owners[-1] == -1 and {g for g in expected if g} == {SCHOOL, BASE}


def test_an_empty_index_places_nothing() -> None:
    index: GridIndex[Grid] = GridIndex([])
    assert len(index) == 0 and index.nearest(120, 30) is None
    assert list(index.locate([120.0], [30.0])) == [-1]
    assert index.place_many([120.0], [30.0]) == [Placement(None, [])]


def test_a_territory_without_grids_has_no_nearest_district_and_unknown_regions_no_path() -> None:
    territory = Territory([], [])
    assert territory.nearest_root(120.0, 30.0) is None
    assert territory.path(None) == [] and territory.path(7) == []
    assert territory.region_at(120.0, 30.0) is None


def test_batch_hits_agree_with_the_tree_on_overlapping_irregular_grids() -> None:
    rng = np.random.default_rng(7)
    grids = []
    for number in range(60):
        lng, lat, radius = rng.uniform(120.0, 120.1), rng.uniform(30.0, 30.1), rng.uniform(0.001, 0.02)
        sides = int(rng.integers(3, 9))
        ring = [
            [lng + radius * np.cos(2 * np.pi * k / sides), lat + radius * np.sin(2 * np.pi * k / sides)]
            for k in range(sides)
        ]
        kind = [GridKind.COMPREHENSIVE, GridKind.DEDICATED, GridKind.OVERLAY][number % 3]
        boundary = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        grids.append(Grid(code=f"G-{number:02d}", name="", kind=kind, boundary=boundary))
    index = GridIndex(grids)
    # Random points, and every vertex of every grid (on the boundary, often of several).
    vertices = np.array([xy for g in grids for xy in g.boundary["coordinates"][0]])  # type: ignore[index]
    lngs = np.r_[rng.uniform(119.98, 120.12, 3000), vertices[:, 0], np.nan]
    lats = np.r_[rng.uniform(29.98, 30.12, 3000), vertices[:, 1], 30.05]
    point, grid = index.hits(lngs, lats)
    found = {(int(p), index.grids[g].code) for p, g in zip(point, grid, strict=True)}
    expected = {
        (p, g.code) for p, (x, y) in enumerate(zip(lngs, lats, strict=True)) for g in index.grids_at(x, y)
    }
    assert found == expected and len(found) > 3000
    one_by_one = [index.place(x, y) for x, y in zip(lngs, lats, strict=True)]
    assert [index.grids[i] if i >= 0 else None for i in index.locate(lngs, lats)] == [
        placement.grid for placement in one_by_one
    ]
    assert index.place_many(lngs, lats) == one_by_one
    assert sum(len(placement.overlays) for placement in one_by_one) > 100  # overlays placed too
