"""The benchmarks' synthetic territory passes every check of an import, at the size asked."""

from __future__ import annotations

import json

import pytest

from benchmarks.synthetic_territory import bounds, synthetic_territory
from civicgrid.geo.territory_checks import check_territory
from civicgrid.geo.territory_file import read_territory


@pytest.mark.parametrize("grids", [10, 95, 300])
def test_the_synthetic_territory_is_clean(grids: int) -> None:
    document = synthetic_territory(grids, seed=3)
    features = read_territory(json.dumps(document).encode(), "s.geojson", 10**8)
    assert sum(f.is_grid for f in features) == grids
    checked = check_territory(features)
    assert (checked.errors, checked.repairs) == ([], [])
    # Only a last community short of its ten grids may leave part of it uncovered.
    assert len(checked.warnings) == (0 if grids % 10 == 0 else 1)
    west, south, east, north = bounds(grids)
    assert features[0].geometry.bounds == pytest.approx((west, south, east, north))


def test_the_same_seed_gives_the_same_territory() -> None:
    assert synthetic_territory(50, seed=1) == synthetic_territory(50, seed=1)
    assert synthetic_territory(50, seed=1) != synthetic_territory(50, seed=2)
