"""A synthetic territory of any size for benchmarks: a district of streets of communities,
each community tiled by eight comprehensive grids (cut at random, so no two alike) with a
dedicated grid inside one of them and a residents' self-governance overlay grid across its
middle, ten grids a community. Every check of ``import-territory`` passes on it.

    from benchmarks.synthetic_territory import synthetic_territory
    document = synthetic_territory(grids=10_000)   # a GeoJSON FeatureCollection (dict)
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

#: Where the district's south-west corner lies, and a community's size in degrees (about
#: 950 m × 890 m at 30° N).
ORIGIN = (120.0, 30.0)
COMMUNITY_SIZE = (0.01, 0.008)
#: Communities per street: a block of STREET_BLOCK × STREET_BLOCK.
STREET_BLOCK = 8
GRIDS_PER_COMMUNITY = 10
DISTRICT_CODE = "990900"


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring]]}


def _feature(
    code: str, name: str, level: str, parent: str | None, geometry: Any, **more: Any
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent": parent, **more},
        "geometry": geometry,
    }


def layout(grids: int) -> tuple[int, int, int]:
    """(communities, columns, rows) of the lattice of communities holding ``grids`` grids."""
    communities = max(1, math.ceil(grids / GRIDS_PER_COMMUNITY))
    columns = math.ceil(math.sqrt(communities))
    return communities, columns, math.ceil(communities / columns)


def bounds(grids: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the district holding ``grids`` grids."""
    _, columns, rows = layout(grids)
    return (
        ORIGIN[0],
        ORIGIN[1],
        ORIGIN[0] + columns * COMMUNITY_SIZE[0],
        ORIGIN[1] + rows * COMMUNITY_SIZE[1],
    )


def _community_grids(
    code: str, box: tuple[float, float, float, float], rng: random.Random
) -> list[dict[str, Any]]:
    west, south, east, north = box
    width, height = east - west, north - south
    cuts = [west] + [west + width * (k + rng.uniform(-0.2, 0.2)) / 4 for k in (1, 2, 3)] + [east]
    features = []
    number = 0
    for left, right in itertools.pairwise(cuts):
        middle = south + height * rng.uniform(0.35, 0.65)
        for low, high in ((south, middle), (middle, north)):
            number += 1
            features.append(
                _feature(
                    f"{code}-{number:02d}",
                    f"第{number}网格",
                    "grid",
                    code,
                    _box(left, low, right, high),
                    kind="comprehensive",
                )
            )
    first = features[0]["geometry"]["coordinates"][0]
    x0, y0, x1, y1 = first[0][0], first[0][1], first[2][0], first[2][1]
    school = (x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.3, x0 + (x1 - x0) * 0.6, y0 + (y1 - y0) * 0.6)
    features.append(_feature(f"{code}-D01", "学校专属网格", "grid", code, _box(*school), kind="dedicated"))
    estate = (west + width * 0.3, south + height * 0.25, west + width * 0.7, south + height * 0.75)
    features.append(
        _feature(
            f"{code}-Z01",
            "小区居民自治网格",
            "grid",
            code,
            _box(*estate),
            kind="overlay",
            overlay_group="self_governance",
        )
    )
    return features


def synthetic_territory(grids: int = 10_000, seed: int = 20261125) -> dict[str, Any]:
    """A territory of ``grids`` grids (ten a community; the last community may have fewer)
    as a GeoJSON FeatureCollection in WGS-84: district, streets, communities, then grids."""
    rng = random.Random(seed)
    communities, columns, _rows = layout(grids)
    width, height = COMMUNITY_SIZE
    regions = [_feature(DISTRICT_CODE, "基准区", "district", None, _box(*bounds(grids)))]
    street_codes: dict[tuple[int, int], str] = {}
    grid_features: list[dict[str, Any]] = []
    members: dict[str, list[tuple[float, float, float, float]]] = {}
    community_features = []
    for index in range(communities):
        column, row = index % columns, index // columns
        block = (column // STREET_BLOCK, row // STREET_BLOCK)
        street = street_codes.setdefault(block, f"{DISTRICT_CODE}{len(street_codes) + 1:03d}")
        code = f"{street}{len(members.setdefault(street, [])) + 1:03d}"
        west, south = ORIGIN[0] + column * width, ORIGIN[1] + row * height
        box = (west, south, west + width, south + height)
        members[street].append(box)
        community_features.append(_feature(code, f"社区{index + 1}", "community", street, _box(*box)))
        grid_features.extend(_community_grids(code, box, rng))
    for street, boxes in members.items():
        extent = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        regions.append(_feature(street, f"街道{street[-3:]}", "street", DISTRICT_CODE, _box(*extent)))
    return {"type": "FeatureCollection", "features": regions + community_features + grid_features[:grids]}
