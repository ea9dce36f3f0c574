"""Territory files for the tests: a small valid territory, and the pieces to spoil it."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from typing import Any, NamedTuple

import shapefile

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


def zipped(**members: bytes) -> bytes:
    """A zip archive of ``members``, each keyword's ``_`` standing for the name's dot."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name.replace("_", "."), data)
    return out.getvalue()


def members_of(data: bytes) -> dict[str, bytes]:
    """The members of a zip archive by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def points_shapefile() -> bytes:
    """A zipped Shapefile of points: the wrong geometry type for a territory."""
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    writer = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POINT)
    writer.field("code", "C")
    writer.point(121.4, 31.2)
    writer.record("x")
    writer.close()
    return zipped(p_shp=shp.getvalue(), p_shx=shx.getvalue(), p_dbf=dbf.getvalue())


def with_strings_for_coordinates() -> dict[str, Any]:
    """The small territory with one corner of feature 4 written as strings."""
    geometry = box(121.40, 31.20, 121.41, 31.22)
    geometry["coordinates"][0][2] = ["121.41", "31.22"]
    return spoiled(4, geometry=geometry)


class Malformed(NamedTuple):
    """A file that cannot be read as a territory, and what its refusal must say."""

    name: str
    data: bytes
    expected: str


def malformed_files() -> dict[str, Malformed]:
    """The malformed files every way in (file reader, command line, API) must refuse, by id."""
    from civicgrid.geo.territory_file import read_territory, write_shapefile_zip

    shapefile_zip = write_shapefile_zip(read_territory(encoded(small_territory()), "t.geojson", 10**8))
    parts = members_of(shapefile_zip)
    without_dbf = {name.replace(".", "_"): data for name, data in parts.items() if not name.endswith(".dbf")}
    return {
        "truncated-json": Malformed(
            "t.geojson", encoded(small_territory())[:300], "not valid JSON at line 1"
        ),
        "zip-without-shp": Malformed("t.zip", zipped(readme_txt=b"hello"), "exactly one .shp file"),
        "shp-without-dbf": Malformed("t.zip", zipped(**without_dbf), "territory.shp has no .dbf beside it"),
        "geojson-point": Malformed(
            "t.geojson",
            encoded(spoiled(4, geometry={"type": "Point", "coordinates": [121.4, 31.2]})),
            "feature 4 (990201001001-01): geometry is Point",
        ),
        "shapefile-of-points": Malformed("t.zip", points_shapefile(), "holds POINT shapes"),
        "coordinates-as-strings": Malformed(
            "t.geojson", encoded(with_strings_for_coordinates()), "must be [longitude, latitude] as numbers"
        ),
    }
