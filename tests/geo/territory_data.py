"""Territory files for the tests: a small valid territory, and the pieces to spoil it."""

from __future__ import annotations

import copy
import json
from typing import Any

Feature = dict[str, Any]


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    """A rectangle as a GeoJSON Polygon."""
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: str, name: str, level: str, parent: str | None, geometry: Any, **more: Any) -> Feature:
    """A GeoJSON feature of a region or grid."""
    properties = {"code": code, "name": name, "level": level, "parent": parent, **more}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def small_territory() -> dict[str, Any]:
    """示例区: one street, two communities; three comprehensive grids cover them, a dedicated
    grid (a school) and a residents' self-governance overlay grid lie over them."""
    return {
        "type": "FeatureCollection",
        "features": [
            feature("990201", "示例区", "district", None, box(121.40, 31.20, 121.44, 31.22)),
            feature("990201001", "示例街道", "street", "990201", box(121.40, 31.20, 121.44, 31.22)),
            feature("990201001001", "东门社区", "community", "990201001", box(121.40, 31.20, 121.42, 31.22)),
            feature("990201001002", "西门社区", "community", "990201001", box(121.42, 31.20, 121.44, 31.22)),
            feature(
                "990201001001-01",
                "东门社区第1网格",
                "grid",
                "990201001001",
                box(121.40, 31.20, 121.41, 31.22),
                kind="comprehensive",
            ),
            feature(
                "990201001001-02",
                "东门社区第2网格",
                "grid",
                "990201001001",
                box(121.41, 31.20, 121.42, 31.22),
                kind="comprehensive",
            ),
            feature(
                "990201001002-01",
                "西门社区第1网格",
                "grid",
                "990201001002",
                box(121.42, 31.20, 121.44, 31.22),
                kind="comprehensive",
            ),
            feature(
                "990201001001-D01",
                "示例小学专属网格",
                "grid",
                "990201001001",
                box(121.402, 31.202, 121.405, 31.205),
                kind="dedicated",
            ),
            feature(
                "990201001002-Z01",
                "西门花园居民自治网格",
                "grid",
                "990201001002",
                box(121.425, 31.205, 121.435, 31.215),
                kind="overlay",
                overlay_group="self_governance",
            ),
        ],
    }


def spoiled(index: int, **changes: Any) -> dict[str, Any]:
    """The small territory with feature ``index``'s properties (or its ``geometry``) changed."""
    document = copy.deepcopy(small_territory())
    target = document["features"][index]
    if "geometry" in changes:
        target["geometry"] = changes.pop("geometry")
    target["properties"].update(changes)
    return document


def encoded(document: Any) -> bytes:
    """A document as the file's bytes."""
    return json.dumps(document, ensure_ascii=False).encode("utf-8")
