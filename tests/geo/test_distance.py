"""Distances on the ground and the box a distance search reads first."""

from __future__ import annotations

import math

import pytest

from civicgrid.geo.distance import EARTH_RADIUS_M, box_around, distance_m


def test_known_distances() -> None:
    assert distance_m(120.0, 30.0, 120.0, 30.0) == 0
    assert distance_m(120.0, 30.0, 120.0, 31.0) == pytest.approx(math.pi * EARTH_RADIUS_M / 180)
    # A degree of longitude at 30° north is cos(30°) of one at the equator.
    assert distance_m(120.0, 30.0, 120.001, 30.0) == pytest.approx(96.3, abs=0.1)
    assert distance_m(0.0, 0.0, 180.0, 0.0) == pytest.approx(math.pi * EARTH_RADIUS_M)


@pytest.mark.parametrize(("lng", "lat"), [(120.0, 30.0), (-70.0, -50.0), (10.0, 88.5), (179.99, 0.0)])
def test_the_box_holds_the_whole_circle(lng: float, lat: float) -> None:
    box = box_around(lng, lat, 100)
    for bearing in range(0, 360, 15):
        # A point 99.9 m away in this direction (on a sphere, small distances).
        d = 99.9 / EARTH_RADIUS_M
        theta = math.radians(bearing)
        lat2 = math.degrees(
            math.asin(
                math.sin(math.radians(lat)) * math.cos(d)
                + math.cos(math.radians(lat)) * math.sin(d) * math.cos(theta)
            )
        )
        lng2 = lng + math.degrees(
            math.atan2(
                math.sin(theta) * math.sin(d) * math.cos(math.radians(lat)),
                math.cos(d) - math.sin(math.radians(lat)) * math.sin(math.radians(lat2)),
            )
        )
        assert distance_m(lng, lat, lng2, lat2) == pytest.approx(99.9, rel=1e-6)
        assert box.min_lat <= lat2 <= box.max_lat and box.min_lng <= lng2 <= box.max_lng


def test_near_a_pole_the_box_takes_every_longitude() -> None:
    box = box_around(0.0, 89.5, 100_000)
    assert (box.min_lng, box.max_lng, box.max_lat) == (-180.0, 180.0, 90.0)
