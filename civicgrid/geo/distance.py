"""Distances on the ground between WGS-84 points, and the box around a point that a
distance search reads first (on the cases' lat/lng index)."""

from __future__ import annotations

import math
from typing import NamedTuple

#: The mean radius of the earth (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8


class Box(NamedTuple):
    """A lng/lat box, in degrees."""

    min_lng: float
    min_lat: float
    max_lng: float
    max_lat: float


def distance_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """The great-circle distance between two points, in metres (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lng2 - lng1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def box_around(lng: float, lat: float, radius_m: float) -> Box:
    """A box holding every point within ``radius_m`` of (lng, lat): a little larger than
    the circle, never smaller, so the exact distance decides at the edge."""
    d_lat = math.degrees(radius_m / EARTH_RADIUS_M)
    # A degree of longitude shrinks towards the poles; near them, take every longitude.
    widest = max(abs(lat) + d_lat, 0.0)
    d_lng = 180.0 if widest >= 89.0 else d_lat / math.cos(math.radians(widest))
    return Box(lng - d_lng, max(lat - d_lat, -90.0), lng + d_lng, min(lat + d_lat, 90.0))
