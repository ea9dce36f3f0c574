"""Reading and writing territory files: GeoJSON (WGS-84, GCJ-02, BD-09) and zipped
Shapefiles, and a clear refusal of each malformed file."""

from __future__ import annotations

import io
import json

import pytest
import shapefile
import shapely

from civicgrid.geo.crs import gcj02_to_bd09, wgs84_to_gcj02
from civicgrid.geo.territory_file import (
    TerritoryFileError,
    read_territory,
    write_geojson,
    write_shapefile_zip,
)
from tests.geo.territory_data import (
    box,
    encoded,
    malformed_files,
    members_of,
    points_shapefile,
    small_territory,
    spoiled,
    with_strings_for_coordinates,
    zipped,
)

LIMIT = 10_000_000


def read(document: object, name: str = "t.geojson") -> list:  # type: ignore[type-arg]
    return read_territory(encoded(document), name, LIMIT)


def refused(data: bytes, name: str = "t.geojson", limit: int = LIMIT) -> str:
    with pytest.raises(TerritoryFileError) as caught:
        read_territory(data, name, limit)
    return str(caught.value)


def test_a_geojson_file_gives_every_attribute() -> None:
    features = read(small_territory())
    assert [f.index for f in features] == list(range(9))
    overlay = features[8]
    assert (overlay.code, overlay.level, overlay.parent, overlay.kind, overlay.overlay_group) == (
        "990201001002-Z01",
        "grid",
        "990201001002",
        "overlay",
        "self_governance",
    )
    assert overlay.inspectors is None and overlay.leader is None  # the file says nothing of staff
    assert overlay.geometry.bounds == pytest.approx((121.425, 31.205, 121.435, 31.215))


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_gcj02_and_bd09_files_are_stored_as_wgs84(system: str) -> None:
    document = small_territory()
    corner = (121.40, 31.20)
    shifted = wgs84_to_gcj02(*corner)
    if system == "bd09":
        shifted = gcj02_to_bd09(*shifted)
    document["crs"] = system
    document["features"][0]["geometry"] = box(shifted[0], shifted[1], shifted[0] + 0.04, shifted[1] + 0.02)
    first = read(document)[0].geometry.exterior.coords[0]
    assert first == pytest.approx(corner, abs=1e-6)  # about 10 cm
    assert abs(shifted[0] - corner[0]) > 1e-3  # the shift itself is hundreds of metres


def test_the_old_named_crs_of_wgs84_is_understood() -> None:
    document = small_territory()
    document["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert read(document)[0].geometry.bounds[0] == pytest.approx(121.40)


def test_inspectors_as_a_comma_list_and_codes_as_numbers_are_read() -> None:
    features = read(spoiled(4, inspectors="wang, li", leader="zhao"))
    assert features[4].inspectors == ["wang", "li"] and features[4].leader == "zhao"
    assert read(spoiled(0, code=990201))[0].code == "990201"


def test_properties_of_the_wrong_type_are_noted_for_the_checks() -> None:
    features = read(spoiled(4, name={"zh": "x"}, inspectors=[1, 2]))
    assert features[4].problems == [
        ("name", "must be text, not dict"),
        ("inspectors", "must be a list of usernames"),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (encoded(small_territory())[:500], "not valid JSON at line 1"),
        (b"\x80\x81garbage", "neither UTF-8 GeoJSON nor a zipped Shapefile"),
        (encoded([1, 2]), '"type": "FeatureCollection"'),
        (encoded({"type": "FeatureCollection"}), 'no "features" list'),
        (encoded({"type": "FeatureCollection", "features": [3]}), "feature 0: must be an object"),
        (encoded({**small_territory(), "crs": "EPSG:3857"}), "unknown \"crs\" 'EPSG:3857'"),
    ],
    ids=["truncated", "binary", "not-a-collection", "no-features", "feature-not-object", "unknown-crs"],
)
def test_malformed_geojson_is_refused_with_the_reason(data: bytes, expected: str) -> None:
    assert expected in refused(data)


@pytest.mark.parametrize("which", list(malformed_files()))
def test_each_malformed_file_of_the_shared_set_is_refused(which: str) -> None:
    malformed = malformed_files()[which]
    assert malformed.expected in refused(malformed.data, malformed.name)


def test_a_wrong_geometry_type_is_refused_naming_the_feature() -> None:
    point = {"type": "Point", "coordinates": [121.4, 31.2]}
    assert refused(encoded(spoiled(4, geometry=point))) == (
        "feature 4 (990201001001-01): geometry is Point; a region or grid is a Polygon or MultiPolygon"
    )
    assert "geometry is str" in refused(encoded(spoiled(4, geometry="POLYGON")))


def test_coordinates_as_strings_are_refused_naming_the_feature() -> None:
    document = with_strings_for_coordinates()
    message = refused(encoded(document))
    assert message.startswith("feature 4 (990201001001-01): coordinate ['121.41', '31.22']")
    assert "must be [longitude, latitude] as numbers" in message
    document["features"][4]["geometry"]["coordinates"] = "121.4,31.2"
    assert "nested lists of numbers" in refused(encoded(document))


def test_coordinates_that_form_no_polygon_are_refused() -> None:
    geometry = {"type": "Polygon", "coordinates": [[[121.4, 31.2], [121.5, 31.2]]]}
    assert "do not form a Polygon" in refused(encoded(spoiled(4, geometry=geometry)))


def test_a_file_over_the_limit_is_refused_before_it_is_parsed() -> None:
    message = refused(b" " * 2048, "big.geojson", limit=1024)
    assert message == "big.geojson: the file is 2048 bytes, more than the 1024 allowed"


# --- Shapefiles ----------------------------------------------------------------------------


def test_a_shapefile_round_trip_keeps_every_attribute_and_shape() -> None:
    features = read(spoiled(4, inspectors=["wang", "li"], leader="zhao"))
    data = write_shapefile_zip(features)
    assert sorted(members_of(data)) == [f"territory.{s}" for s in ("cpg", "dbf", "prj", "shp", "shx")]
    again = read_territory(data, "layer.zip", LIMIT)
    assert [(f.code, f.name, f.level, f.parent, f.kind, f.overlay_group) for f in again] == [
        (f.code, f.name, f.level, f.parent, f.kind, f.overlay_group) for f in features
    ]
    assert again[4].inspectors == ["wang", "li"] and again[4].leader == "zhao"
    for before, after in zip(features, again, strict=True):
        assert shapely.equals_exact(
            shapely.normalize(before.geometry), shapely.normalize(after.geometry), 1e-9
        )


def test_a_geojson_written_reads_back_the_same() -> None:
    features = read(small_territory())
    document = json.loads(write_geojson(features))
    assert [f["properties"]["code"] for f in document["features"]] == [f.code for f in features]
    assert document["features"][8]["properties"]["inspectors"] == []


def test_a_region_without_boundary_is_a_null_shape() -> None:
    features = read(spoiled(0, geometry=None))
    again = read_territory(write_shapefile_zip(features), "t.zip", LIMIT)
    assert again[0].geometry is None and again[1].geometry is not None


def test_a_zip_without_a_shp_is_refused() -> None:
    assert "exactly one .shp file; it holds readme.txt" in refused(zipped(readme_txt=b"hello"), "t.zip")


def test_a_shapefile_without_its_dbf_is_refused() -> None:
    parts = members_of(write_shapefile_zip(read(small_territory())))
    parts.pop("territory.dbf")
    data = zipped(**{name.replace(".", "_"): value for name, value in parts.items()})
    assert "territory.shp has no .dbf beside it" in refused(data, "t.zip")


def test_a_truncated_zip_is_refused() -> None:
    data = write_shapefile_zip(read(small_territory()))
    assert "not a valid zip archive" in refused(data[: len(data) // 2], "t.zip")


def test_a_zip_that_unpacks_past_the_limit_is_refused() -> None:
    data = zipped(a_shp=b"\0" * 5000)
    assert "unpacks to more than the 4096 bytes" in refused(data, "t.zip", limit=4096)


def test_a_projected_prj_is_refused() -> None:
    parts = members_of(write_shapefile_zip(read(small_territory())))
    parts["territory.prj"] = b'PROJCS["CGCS2000_3_Degree_GK_CM_120E",GEOGCS["GCS_China_2000"]]'
    data = zipped(**{name.replace(".", "_"): value for name, value in parts.items()})
    assert "other than geographic WGS-84" in refused(data, "t.zip")


def test_a_cgcs2000_prj_is_accepted() -> None:
    parts = members_of(write_shapefile_zip(read(small_territory())))
    parts["territory.prj"] = b'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"]'
    data = zipped(**{name.replace(".", "_"): value for name, value in parts.items()})
    assert len(read_territory(data, "t.zip", LIMIT)) == 9


def test_a_shapefile_of_points_is_refused() -> None:
    assert "holds POINT shapes; regions and grids are polygons" in refused(points_shapefile(), "t.zip")


def test_a_shapefile_that_cannot_be_parsed_is_refused() -> None:
    data = zipped(p_shp=b"not a shapefile at all", p_dbf=b"nor a dbf")
    assert "p.shp: cannot be read as a Shapefile" in refused(data, "t.zip")


def gbk_shapefile(with_cpg: bool) -> bytes:
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    writer = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON, encoding="gbk")
    for name in ("code", "name", "level"):
        writer.field(name, "C", size=50)
    writer.shape(box(121.40, 31.20, 121.44, 31.22))
    writer.record("990201", "示例区", "district")
    writer.close()
    parts = {"d_shp": shp.getvalue(), "d_shx": shx.getvalue(), "d_dbf": dbf.getvalue()}
    if with_cpg:
        parts["d_cpg"] = b"GBK"
    return zipped(**parts)


@pytest.mark.parametrize("with_cpg", [True, False])
def test_a_gbk_shapefile_is_read_with_or_without_its_cpg(with_cpg: bool) -> None:
    (district,) = read_territory(gbk_shapefile(with_cpg), "d.zip", LIMIT)
    assert district.name == "示例区"
