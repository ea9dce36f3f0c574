"""Hotspots on H3 hexagons (Uber's hierarchical hexagonal grid): the cases of a period
counted per cell, at a resolution the map chooses (7: about 5 km², 9: about 0.1 km²)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import h3
import numpy as np

from civicgrid.domain.vocabulary import CoordinateSystem
from civicgrid.geo.crs import from_wgs84_array

#: The resolutions a centre's map uses: a district (5) down to a block (10).
MIN_RESOLUTION, MAX_RESOLUTION = 5, 10


def count_cells(points: Iterable[tuple[float, float, int]], resolution: int) -> Counter[str]:
    """How many cases lie in each cell, from distinct points (WGS-84) with their counts."""
    counts: Counter[str] = Counter()
    for lng, lat, count in points:
        counts[h3.latlng_to_cell(lat, lng, resolution)] += count
    return counts


def cell_feature(cell: str, count: int, crs: CoordinateSystem) -> dict[str, Any]:
    """The GeoJSON feature of a cell: its hexagon in ``crs`` and its count."""
    ring = np.array([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)], dtype=float)
    ring = from_wgs84_array(ring, crs)
    coordinates = [[round(float(x), 7), round(float(y), 7)] for x, y in [*ring, ring[0]]]
    return {
        "type": "Feature",
        "id": cell,
        "geometry": {"type": "Polygon", "coordinates": [coordinates]},
        "properties": {"cell": cell, "count": count},
    }
