"""Coordinate conversion at the edges: GCJ-02 and BD-09 in, WGS-84 inside."""

from __future__ import annotations

import pytest

from civicgrid.domain.vocabulary import CoordinateSystem
from civicgrid.geo.crs import gcj02_to_bd09, gcj02_to_wgs84, out_of_china, to_wgs84, wgs84_to_gcj02

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
