"""The geo endpoints: where a point lies (with its staff), the map's layers, cases as points
and hotspots, each in the coordinate system asked for and scoped like the case list."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import h3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import CoordinateSystem, GridDuty, GridKind
from civicgrid.geo import mapdata
from civicgrid.geo.crs import from_wgs84, wgs84_to_gcj02
from civicgrid.store.models import Grid, GridStaff
from tests.api.helpers import Headers, assert_error, new_case
from tests.factories import World, square

Login = Callable[[str], Headers]


def staff(session: Session, world: World) -> None:
    """Two inspectors and a leader for 东湖一社区's grid, one inspector for 西山's."""
    g1, g3 = world.grids["g1"], world.grids["g3"]
    session.add_all(
        [
            GridStaff(grid=g1, user=world.users["inspector"], duty=GridDuty.INSPECTOR),
            GridStaff(grid=g1, user=world.users["supervisor"], duty=GridDuty.INSPECTOR),
            GridStaff(grid=g1, user=world.users["leader"], duty=GridDuty.LEADER),
            GridStaff(grid=g3, user=world.users["operator_west"], duty=GridDuty.INSPECTOR),
        ]
    )
    session.commit()


def resolve(client: TestClient, headers: Headers, lng: float, lat: float, **extra: str) -> Any:
    return client.get("/api/v1/geo/resolve", params={"lng": lng, "lat": lat, **extra}, headers=headers)


# --- resolution -------------------------------------------------------------------------


def test_a_point_resolves_to_its_region_path_grids_and_staff(
    client: TestClient, login: Login, session: Session, world: World
) -> None:
    staff(session, world)
    reply = resolve(client, login("operator"), 120.005, 30.005)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [r["code"] for r in body["regions"]] == ["T01", "T0101", "T010101"]
    assert [r["level"] for r in body["regions"]] == ["district", "street", "community"]
    [grid] = body["grids"]
    assert grid["code"] == "T010101-01" and grid["owner"] is True
    assert [i["username"] for i in grid["inspectors"]] == sorted(
        ["inspector", "supervisor"], key=lambda u: world.users[u].id
    )
    assert grid["leader"]["username"] == "leader"


def test_the_base_grid_is_listed_first_then_dedicated_then_overlay(
    client: TestClient, login: Login, session: Session, world: World
) -> None:
    for code, kind, corner, size in (
        ("T010101-Z01", GridKind.OVERLAY, (120.000, 30.000), 0.008),
        ("T010101-D01", GridKind.DEDICATED, (120.004, 30.004), 0.002),
    ):
        session.add(
            Grid(code=code, name=code, kind=kind, region=world.regions["c1"], boundary=square(*corner, size))
        )
    session.commit()
    grids = resolve(client, login("operator"), 120.005, 30.005).json()["grids"]
    assert [(g["code"], g["owner"]) for g in grids] == [
        ("T010101-01", False),
        ("T010101-D01", True),
        ("T010101-Z01", False),
    ]


def test_a_point_on_the_shared_edge_belongs_to_the_grid_with_the_lower_code(
    client: TestClient, login: Login
) -> None:
    # 东湖一社区's grid ends at 120.01 where 东湖二社区's begins; both are the same size.
    grids = resolve(client, login("operator"), 120.01, 30.005).json()["grids"]
    assert [(g["code"], g["owner"]) for g in grids] == [("T010101-01", True), ("T010102-01", False)]


def test_a_point_given_in_gcj02_or_bd09_resolves_like_its_wgs84_point(
    client: TestClient, login: Login
) -> None:
    # Near the grid's east edge (120.01): unshifted, these coordinates lie in the next grid.
    wgs = (120.006, 30.005)
    for crs in (CoordinateSystem.GCJ02, CoordinateSystem.BD09):
        lng, lat = from_wgs84(*wgs, crs)
        assert lng > 120.01  # the shift alone would move the point into the next grid
        body = resolve(client, login("operator"), lng, lat, crs=crs).json()
        assert body["crs"] == crs and (body["lng"], body["lat"]) == (lng, lat)
        assert body["grids"][0]["code"] == "T010101-01"


def test_a_point_outside_the_territory_is_refused_with_the_point(client: TestClient, login: Login) -> None:
    body = assert_error(resolve(client, login("admin"), 100.0, 25.0), 422, "invalid")
    assert "(100.0, 25.0)" in body["detail"] and "outside the territory" in body["detail"]


def test_a_point_in_a_community_but_in_no_grid_gives_the_community(
    client: TestClient, login: Login, session: Session, world: World
) -> None:
    world.regions["c1"].boundary = square(120.00, 30.00, 0.02)  # larger than its grid
    session.commit()
    body = resolve(client, login("operator"), 120.015, 30.015).json()
    assert [r["code"] for r in body["regions"]] == ["T01", "T0101", "T010101"] and body["grids"] == []


@pytest.mark.parametrize("params", [{"lng": "east"}, {"lng": "200"}, {"lat": "nan"}, {"crs": "utm"}])
def test_bad_coordinates_are_refused(client: TestClient, login: Login, params: dict[str, str]) -> None:
    reply = client.get(
        "/api/v1/geo/resolve", params={"lng": "120", "lat": "30", **params}, headers=login("operator")
    )
    assert_error(reply, 422, "invalid_request")


# --- layers ------------------------------------------------------------------------------


def codes(reply: Any) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [f["properties"]["code"] for f in reply.json()["features"]]


def test_the_grid_layer_shows_a_street_its_own_grids_only(client: TestClient, login: Login) -> None:
    assert codes(client.get("/api/v1/geo/grids", headers=login("operator"))) == ["T010101-01", "T010102-01"]
    assert codes(client.get("/api/v1/geo/grids", headers=login("operator_west"))) == ["T010201-01"]
    assert len(codes(client.get("/api/v1/geo/grids", headers=login("leader")))) == 3
    assert_error(client.get("/api/v1/geo/grids", headers=login("citizen")), 403, "forbidden")


def test_the_region_layer_is_geojson_in_the_asked_system(
    client: TestClient, login: Login, session: Session, world: World
) -> None:
    world.regions["east"].boundary = square(120.00, 30.00, 0.02)
    world.regions["c1"].boundary = square(120.00, 30.00)
    world.regions["c3"].boundary = square(120.10, 30.00)
    session.commit()
    wgs = client.get("/api/v1/geo/regions", headers=login("operator")).json()
    assert wgs["type"] == "FeatureCollection" and wgs["crs"] == "wgs84"
    assert [f["id"] for f in wgs["features"]] == ["T0101", "T010101"]
    assert wgs["features"][1]["properties"] == {
        "code": "T010101",
        "name": "东湖一社区",
        "level": "community",
        "parent": "T0101",
    }
    gcj = client.get("/api/v1/geo/regions", params={"crs": "gcj02"}, headers=login("operator")).json()
    corner = wgs["features"][1]["geometry"]["coordinates"][0]
    shifted = gcj["features"][1]["geometry"]["coordinates"][0]
    for (x, y), (gx, gy) in zip(corner, shifted, strict=True):
        assert (gx, gy) == pytest.approx(wgs84_to_gcj02(x, y), abs=2e-7)


def circle(lng: float, lat: float, radius: float, vertices: int) -> dict[str, Any]:
    ring = [
        [
            lng + radius * math.cos(2 * math.pi * i / vertices),
            lat + radius * math.sin(2 * math.pi * i / vertices),
        ]
        for i in range(vertices)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_boundaries_are_simplified_more_at_lower_zoom_and_each_layer_is_built_once(
    client: TestClient, login: Login, session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[tuple[str, int]] = []
    real = mapdata._build

    def counting(session: Session, name: mapdata.Layer, zoom: int, crs: Any) -> list[mapdata.MapFeature]:
        builds.append((name, zoom))
        return real(session, name, zoom, crs)

    monkeypatch.setattr(mapdata, "_build", counting)
    world.grids["g1"].boundary = circle(120.005, 30.005, 0.005, 2000)
    session.commit()

    def vertices(zoom: int) -> int:
        reply = client.get("/api/v1/geo/grids", params={"zoom": zoom}, headers=login("operator"))
        return len(reply.json()["features"][0]["geometry"]["coordinates"][0])

    far, near = vertices(10), vertices(20)
    assert far < 20 < 100 < near
    assert vertices(10) == far and builds == [("grids", 10), ("grids", 20)]
    # A territory change gives a new revision: the layer is built afresh, with the change.
    world.grids["g1"].boundary = square(120.0, 30.0)
    session.commit()
    assert vertices(10) == 5 and builds[-1] == ("grids", 10) and len(builds) == 3


# --- cases as points ----------------------------------------------------------------------


def test_cases_are_points_in_the_box_filtered_like_the_list(client: TestClient, login: Login) -> None:
    operator = login("operator")
    inside = new_case(client, operator, lng=120.005, lat=30.005)
    other = new_case(client, operator, lng=120.015, lat=30.005, category_code="C0201")
    box = {"bbox": "120.0,30.0,120.01,30.01"}
    body = client.get("/api/v1/geo/cases", params=box, headers=operator).json()
    assert body["truncated"] is False
    [feature] = body["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [120.005, 30.005]}
    assert feature["properties"] == {
        "number": inside["number"],
        "state": "reported",
        "light": inside["light"],
        "category_code": "C0101",
        "category_name": inside["category_name"],
    }
    wide = {"bbox": "119,29,121,31"}
    numbers = [
        f["id"] for f in client.get("/api/v1/geo/cases", params=wide, headers=operator).json()["features"]
    ]
    assert numbers == [other["number"], inside["number"]]  # newest first
    by_category = client.get("/api/v1/geo/cases", params={**wide, "category_code": "C02"}, headers=operator)
    assert [f["id"] for f in by_category.json()["features"]] == [other["number"]]
    capped = client.get("/api/v1/geo/cases", params={**wide, "limit": 1}, headers=operator).json()
    assert capped["truncated"] is True and [f["id"] for f in capped["features"]] == [other["number"]]
    assert (
        client.get("/api/v1/geo/cases", params=wide, headers=login("operator_west")).json()["features"] == []
    )


def test_case_points_come_in_the_asked_system_and_so_does_the_box(client: TestClient, login: Login) -> None:
    operator = login("operator")
    new_case(client, operator, lng=120.005, lat=30.005)
    gx, gy = wgs84_to_gcj02(120.005, 30.005)
    # A GCJ-02 box that holds the GCJ-02 point but not the WGS-84 one.
    box = f"{gx - 0.0005},{gy - 0.0005},{gx + 0.0005},{gy + 0.0005}"
    body = client.get("/api/v1/geo/cases", params={"bbox": box, "crs": "gcj02"}, headers=operator).json()
    [feature] = body["features"]
    assert feature["geometry"]["coordinates"] == pytest.approx([gx, gy], abs=1e-7)


def test_the_case_layer_is_capped_by_the_setting(client: TestClient, login: Login) -> None:
    operator = login("operator")
    for _ in range(3):
        new_case(client, operator)
    client.app.state.settings.map_case_limit = 2  # type: ignore[attr-defined]
    body = client.get(
        "/api/v1/geo/cases", params={"bbox": "119,29,121,31", "limit": 50}, headers=operator
    ).json()
    assert len(body["features"]) == 2 and body["truncated"] is True


@pytest.mark.parametrize(
    "bbox, reason",
    [
        ("120,30,121", "four numbers"),
        ("a,b,c,d", "four numbers"),
        ("121,30,120,31", "west < east"),
        ("120,31,121,30", "south < north"),
        ("120,30,121,inf", "finite"),
        ("-200,30,121,31", "-180"),
    ],
)
def test_a_bad_box_is_refused_with_the_reason(
    client: TestClient, login: Login, bbox: str, reason: str
) -> None:
    body = assert_error(
        client.get("/api/v1/geo/cases", params={"bbox": bbox}, headers=login("operator")), 422, "invalid"
    )
    assert reason in body["detail"]


# --- hotspots ------------------------------------------------------------------------------


def test_hotspots_count_cases_per_grid_with_overlays_and_filters(
    client: TestClient, login: Login, session: Session, world: World
) -> None:
    session.add(
        Grid(
            code="T010101-Z01",
            name="自治网格",
            kind=GridKind.OVERLAY,
            overlay_group="self_governance",
            region=world.regions["c1"],
            boundary=square(120.000, 30.000, 0.004),
        )
    )
    session.commit()
    operator = login("operator")
    new_case(client, operator, lng=120.001, lat=30.001)
    new_case(client, operator, lng=120.002, lat=30.002, category_code="C0201")
    new_case(client, operator, lng=120.008, lat=30.008)
    new_case(client, operator, lng=120.015, lat=30.005)
    counts = client.get("/api/v1/geo/hotspots/grids", headers=operator).json()["grids"]
    assert [(c["code"], c["count"]) for c in counts] == [
        ("T010101-01", 3),
        ("T010101-Z01", 2),
        ("T010102-01", 1),
    ]
    by_category = client.get("/api/v1/geo/hotspots/grids", params={"category_code": "C01"}, headers=operator)
    assert [(c["code"], c["count"]) for c in by_category.json()["grids"]] == [
        ("T010101-01", 2),
        ("T010101-Z01", 1),
        ("T010102-01", 1),
    ]
    later = client.get(
        "/api/v1/geo/hotspots/grids", params={"created_from": "2026-10-01T00:00:00+08:00"}, headers=operator
    )
    assert later.json()["grids"] == []
    assert client.get("/api/v1/geo/hotspots/grids", headers=login("operator_west")).json()["grids"] == []


def test_hotspots_count_cases_per_hexagon(client: TestClient, login: Login) -> None:
    operator = login("operator")
    for lng, lat in ((120.001, 30.001), (120.001, 30.001), (120.015, 30.005), (120.015, 30.005)):
        new_case(client, operator, lng=lng, lat=lat)
    body = client.get("/api/v1/geo/hotspots/hexagons", params={"resolution": 9}, headers=operator).json()
    counts = {f["properties"]["cell"]: f["properties"]["count"] for f in body["features"]}
    assert counts == {h3.latlng_to_cell(30.001, 120.001, 9): 2, h3.latlng_to_cell(30.005, 120.015, 9): 2}
    hexagon = body["features"][0]["geometry"]["coordinates"][0]
    assert len(hexagon) == 7 and hexagon[0] == hexagon[-1]
    coarse = client.get("/api/v1/geo/hotspots/hexagons", params={"resolution": 5}, headers=operator).json()
    assert [f["properties"]["count"] for f in coarse["features"]] == [4]
    gcj = client.get(
        "/api/v1/geo/hotspots/hexagons", params={"resolution": 5, "crs": "gcj02"}, headers=operator
    ).json()
    x, y = coarse["features"][0]["geometry"]["coordinates"][0][0]
    assert gcj["features"][0]["geometry"]["coordinates"][0][0] == pytest.approx(
        wgs84_to_gcj02(x, y), abs=1e-6
    )
    too_fine = client.get("/api/v1/geo/hotspots/hexagons", params={"resolution": 15}, headers=operator)
    assert_error(too_fine, 422, "invalid_request")


def test_hexagon_hotspots_are_filtered_and_scoped_like_the_grid_hotspots(
    client: TestClient, login: Login
) -> None:
    operator = login("operator")
    new_case(client, operator, lng=120.001, lat=30.001)
    new_case(client, operator, lng=120.001, lat=30.001, category_code="C0201")
    new_case(client, operator, lng=120.015, lat=30.005, category_code="C0201")

    def counts(headers: Headers, **params: object) -> dict[str, int]:
        reply = client.get(
            "/api/v1/geo/hotspots/hexagons", params={"resolution": 9, **params}, headers=headers
        )
        assert reply.status_code == 200, reply.text
        return {f["properties"]["cell"]: f["properties"]["count"] for f in reply.json()["features"]}

    here, there = h3.latlng_to_cell(30.001, 120.001, 9), h3.latlng_to_cell(30.005, 120.015, 9)
    assert counts(operator) == {here: 2, there: 1}
    assert counts(operator, category_code="C0201") == {here: 1, there: 1}
    assert counts(operator, created_from="2026-10-01T00:00:00+08:00") == {}
    assert counts(operator, created_to="2026-10-01T00:00:00+08:00") == {here: 2, there: 1}
    assert counts(login("operator_west")) == {}


def test_layers_beyond_the_cache_size_push_out_the_oldest(
    client: TestClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mapdata, "CACHED_LAYERS", 2)
    for zoom in (10, 11, 12):
        assert (
            len(codes(client.get("/api/v1/geo/grids", params={"zoom": zoom}, headers=login("leader")))) == 3
        )
    assert len(mapdata._cache) == 2 and {key[3] for key in mapdata._cache} == {11, 12}


def test_staff_without_a_region_resolve_nothing(
    client: TestClient, login: Login, session: Session, world: World
) -> None:
    world.users["handler_hw"].region = None
    session.commit()
    reply = resolve(client, login("handler_hw"), 120.005, 30.005)
    assert "outside your scope" in assert_error(reply, 403, "forbidden")["detail"]
