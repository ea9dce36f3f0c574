"""Coordinate conversion at the edges: GCJ-02 and BD-09 in, WGS-84 inside."""

from __future__ import annotations

import math

import numpy as np
import pytest

from civicgrid.domain.vocabulary import CoordinateSystem
from civicgrid.geo.crs import (
    bd09_to_gcj02,
    bd09_to_gcj02_published,
    from_wgs84,
    from_wgs84_array,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    wgs84_to_gcj02,
)

# Reference values published with the gcoord library's tests (GCJ-02 point 123°E, 45°N).
GCJ02_123_45_AS_WGS84 = (122.99395597, 44.99804071)
GCJ02_123_45_AS_BD09 = (123.00636499, 45.00636899)


def test_known_conversions_match_the_reference_values() -> None:
    assert gcj02_to_wgs84(123, 45) == pytest.approx(GCJ02_123_45_AS_WGS84, abs=5e-6)
    assert gcj02_to_bd09(123, 45) == pytest.approx(GCJ02_123_45_AS_BD09, abs=5e-8)


@pytest.mark.parametrize(
    "point", [(120.1493, 30.2771), (116.3975, 39.9087), (113.2644, 23.1291), (87.6168, 43.8256)]
)
def test_round_trips_inside_china_are_exact_to_centimetres(point: tuple[float, float]) -> None:
    gcj = wgs84_to_gcj02(*point)
    # The shift is real: hundreds of metres (more than 1e-3 degrees) in some direction.
    assert max(abs(gcj[0] - point[0]), abs(gcj[1] - point[1])) > 1e-3
    assert to_wgs84(*gcj, CoordinateSystem.GCJ02) == pytest.approx(point, abs=1e-7)
    # BD-09's published inverse is itself approximate: within 2e-6 degrees (about 20 cm).
    assert to_wgs84(*gcj02_to_bd09(*gcj), CoordinateSystem.BD09) == pytest.approx(point, abs=2e-6)


def test_points_outside_china_are_not_shifted() -> None:
    assert out_of_china(2.35, 48.85)
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert to_wgs84(2.35, 48.85, CoordinateSystem.GCJ02) == (2.35, 48.85)
    assert to_wgs84(120.0, 30.0, CoordinateSystem.WGS84) == (120.0, 30.0)


def test_conversions_match_coordtransform_published_results() -> None:
    """Reference pairs published in the example of the coordtransform library
    (wandergis/coordtransform, test/app.js), all from the point (116.404, 39.915).

    Its GCJ-02 → WGS-84 is the one-step approximation (a few centimetres off); ours
    iterates, so it is compared within 1e-6 degrees and checked by the exact forward shift."""
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12
    )
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)
    assert bd09_to_gcj02_published(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=1e-12
    )
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-6)
    assert gcj02_to_bd09(*bd09_to_gcj02(116.404, 39.915)) == pytest.approx((116.404, 39.915), abs=1e-9)
    wgs = gcj02_to_wgs84(116.404, 39.915)
    assert wgs == pytest.approx((116.39775550083061, 39.91359571849836), abs=1e-6)
    assert wgs84_to_gcj02(*wgs) == pytest.approx((116.404, 39.915), abs=1e-9)


@pytest.mark.parametrize(
    "wgs, gcj",
    [
        ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
        ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
        ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
    ],
)
def test_conversions_match_eviltransform_test_suite(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    """Reference pairs of the eviltransform library's test suite (googollee/eviltransform,
    python/test.py), given there as (lat, lng); both directions."""
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)
    assert to_wgs84(*gcj, CoordinateSystem.GCJ02) == pytest.approx(wgs, abs=1e-9)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The distance between two nearby points (equirectangular; fine within a city)."""
    lat = math.radians((a[1] + b[1]) / 2)
    return 6371008.8 * math.hypot(math.radians(a[0] - b[0]) * math.cos(lat), math.radians(a[1] - b[1]))


@pytest.mark.parametrize("system", list(CoordinateSystem))
def test_round_trips_across_china_stay_within_half_a_metre(system: CoordinateSystem) -> None:
    rng = np.random.default_rng(4)
    for lng, lat in zip(rng.uniform(73.5, 135.0, 400), rng.uniform(18.0, 53.5, 400), strict=True):
        there = from_wgs84(lng, lat, system)
        assert metres(to_wgs84(*there, system), (lng, lat)) < 0.5
        # And the other way round: a point given in the system, stored, shown again.
        assert metres(from_wgs84(*to_wgs84(lng, lat, system), system), (lng, lat)) < 0.5


def test_array_conversion_matches_one_point_at_a_time() -> None:
    coords = np.array([[116.404, 39.915], [121.5272106, 31.1774276], [2.35, 48.85], [87.6168, 43.8256]])
    for system in CoordinateSystem:
        expected = [from_wgs84(lng, lat, system) for lng, lat in coords]
        assert from_wgs84_array(coords, system) == pytest.approx(np.array(expected), abs=1e-12)
