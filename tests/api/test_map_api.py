"""What the map page reads beside the geo layers: grids of a view only, case clusters for
views with too many points, and a grid's summary (its people, open cases, this month),
each agreeing with the case list and the statistics table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import OPEN_STATES, GridKind
from civicgrid.geo.crs import wgs84_to_gcj02
from civicgrid.services.cases import CentreRules
from civicgrid.services.geo import cluster_size
from civicgrid.store.models import Grid
from tests import factories
from tests.api.helpers import Headers, assert_error
from tests.api.test_geo_api import staff
from tests.factories import World, square

Login = Callable[[str], Headers]
OPEN = [state.value for state in OPEN_STATES]


@pytest.fixture
def aged(session: Session, world: World, rules: CentreRules, now: datetime) -> dict[str, str]:
    """Cases of 东湖一社区's grid reported 0, 2 and 20 days ago (green to red at ``now``), one
    of them registered; one case in 东湖二社区 and one in 西山."""
    made = {}
    for key, days, lng in (("fresh", 0, 120.001), ("older", 2, 120.002), ("old", 20, 120.003)):
        case = factories.new_case(session, world, rules, now - timedelta(days=days), lng=lng, lat=30.001)
        made[key] = case.number
        if key == "older":
            factories.act(session, world, rules, case, "operator", "register", now)
    made["c2"] = factories.new_case(
        session, world, rules, now - timedelta(days=5), lng=120.015, lat=30.005
    ).number
    made["west"] = factories.new_case(
        session, world, rules, now - timedelta(days=5), actor="operator_west", lng=120.105, lat=30.005
    ).number
    session.commit()
    return made


def listed(client: TestClient, headers: Headers, **params: Any) -> list[dict[str, Any]]:
    reply = client.get("/api/v1/cases", params={"page_size": 200, **params}, headers=headers)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


# --- the grids of a view ----------------------------------------------------------------


def test_the_grid_and_region_layers_can_be_cut_to_a_view(
    client: TestClient, login: Login, session: Session, world: World
) -> None:
    world.regions["c1"].boundary = square(120.00, 30.00)
    world.regions["c2"].boundary = square(120.01, 30.00)
    session.commit()
    leader = login("leader")

    def codes(path: str, **params: Any) -> list[str]:
        reply = client.get(path, params=params, headers=leader)
        assert reply.status_code == 200, reply.text
        return [f["properties"]["code"] for f in reply.json()["features"]]

    assert codes("/api/v1/geo/grids") == ["T010101-01", "T010102-01", "T010201-01"]
    assert codes("/api/v1/geo/grids", bbox="120.001,30.001,120.002,30.002") == ["T010101-01"]
    # A box touching two grids, one reaching in only by its edge.
    assert codes("/api/v1/geo/grids", bbox="120.005,30.005,120.01,30.006") == ["T010101-01", "T010102-01"]
    assert codes("/api/v1/geo/grids", bbox="121,31,121.1,31.1") == []
    assert codes("/api/v1/geo/regions", bbox="120.012,30.001,120.013,30.002") == ["T010102"]
    # The box comes in the asked system, like the points of /geo/cases.
    gx, gy = wgs84_to_gcj02(120.0015, 30.0015)
    gcj = f"{gx - 0.0001},{gy - 0.0001},{gx + 0.0001},{gy + 0.0001}"
    assert codes("/api/v1/geo/grids", bbox=gcj, crs="gcj02") == ["T010101-01"]
    assert_error(client.get("/api/v1/geo/grids", params={"bbox": "1,2,3"}, headers=leader), 422, "invalid")


# --- clusters ---------------------------------------------------------------------------


def test_clusters_count_every_case_of_the_box_with_its_light(
    client: TestClient, login: Login, aged: dict[str, str]
) -> None:
    operator = login("operator")
    box = {"bbox": "119.9,29.9,120.2,30.2", "state": OPEN}
    points = client.get("/api/v1/geo/cases", params=box, headers=operator).json()["features"]
    assert {f["id"] for f in points} == {aged[k] for k in ("fresh", "older", "old", "c2")}
    for zoom in (10, 14, 17):
        reply = client.get("/api/v1/geo/cases/clusters", params={**box, "zoom": zoom}, headers=operator)
        assert reply.status_code == 200, reply.text
        clusters = reply.json()["features"]
        assert sum(f["properties"]["count"] for f in clusters) == len(points)
        for light in ("red", "yellow", "green"):
            assert sum(f["properties"][light] for f in clusters) == sum(
                f["properties"]["light"] == light for f in points
            ), (zoom, light)
    # Far out, the grid's three and its neighbour's one fall in one square; close in, apart.
    far = client.get("/api/v1/geo/cases/clusters", params={**box, "zoom": 8}, headers=operator).json()
    assert [f["properties"]["count"] for f in far["features"]] == [4]
    near = client.get("/api/v1/geo/cases/clusters", params={**box, "zoom": 18}, headers=operator).json()
    assert sorted(f["properties"]["count"] for f in near["features"]) == [1, 1, 1, 1]
    # A cluster sits at the mean of its cases.
    [alone] = [f for f in near["features"] if f["geometry"]["coordinates"][0] == pytest.approx(120.015)]
    assert alone["geometry"]["coordinates"] == pytest.approx([120.015, 30.005])
    assert {f["properties"]["red"] for f in far["features"]} == {
        sum(f["properties"]["light"] == "red" for f in points)
    }


def test_clusters_are_filtered_and_scoped_like_the_list(
    client: TestClient, login: Login, aged: dict[str, str]
) -> None:
    wide = {"bbox": "119,29,121,31", "zoom": 8}
    west = client.get("/api/v1/geo/cases/clusters", params=wide, headers=login("operator_west")).json()
    assert [f["properties"]["count"] for f in west["features"]] == [1]
    red = client.get("/api/v1/geo/cases/clusters", params={**wide, "light": "red"}, headers=login("operator"))
    red_total = sum(f["properties"]["count"] for f in red.json()["features"])
    assert red_total == len(listed(client, login("operator"), light="red")) > 0
    gcj = client.get(
        "/api/v1/geo/cases/clusters",
        params={**wide, "zoom": 16, "crs": "gcj02"},
        headers=login("operator_west"),
    ).json()
    [feature] = gcj["features"]
    assert feature["geometry"]["coordinates"] == pytest.approx(
        list(wgs84_to_gcj02(120.105, 30.005)), abs=1e-6
    )
    assert_error(
        client.get("/api/v1/geo/cases/clusters", params=wide, headers=login("citizen")), 403, "forbidden"
    )
    missing = client.get(
        "/api/v1/geo/cases/clusters", params={"bbox": "119,29,121,31"}, headers=login("leader")
    )
    assert_error(missing, 422, "invalid_request")


def test_a_cluster_square_is_eighty_pixels_of_its_zoom() -> None:
    assert cluster_size(0) == pytest.approx(80 * 360 / 256)
    assert cluster_size(10) == pytest.approx(cluster_size(11) * 2)


# --- a grid's summary -------------------------------------------------------------------


def test_a_grid_shows_its_people_open_cases_and_month_as_the_list_and_table_count_them(
    client: TestClient, login: Login, session: Session, world: World, aged: dict[str, str]
) -> None:
    staff(session, world)
    supervisor = login("supervisor")
    reply = client.get("/api/v1/geo/grids/T010101-01/summary", headers=supervisor)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["code"], body["kind"], body["kind_label"], body["region_name"]) == (
        "T010101-01",
        "comprehensive",
        "综合网格",
        "东湖一社区",
    )
    assert [p["username"] for p in body["inspectors"]] == sorted(
        ["inspector", "supervisor"], key=lambda name: world.users[name].id
    )
    assert body["leader"]["username"] == "leader"
    in_grid = listed(client, supervisor, grid_code="T010101-01", state=OPEN)
    assert body["open_total"] == len(in_grid) == 3
    for light in ("red", "yellow", "green"):
        assert body["open_by_light"][light] == sum(item["light"] == light for item in in_grid), light
    assert body["open_by_light"]["red"] >= 1
    # The most urgent first: red before the others.
    assert body["open_cases"][0]["light"] == "red" and body["open_cases"][0]["number"] == aged["old"]
    table = client.get(
        "/api/v1/statistics/table",
        params={"period": "month", "group_by": "grid", "indicators": ",".join(body["month"])},
        headers=supervisor,
    ).json()
    [row] = [r for r in table["rows"] if r["group"]["key"] == "T010101-01"]
    assert body["month"] == row["values"]
    assert body["month_label"] == table["period_label"] == "2026年9月"
    assert body["month_labels"]["closure_rate"] == "结案率"


def test_an_overlay_grid_counts_the_cases_that_lie_in_it(
    client: TestClient, login: Login, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    overlay = Grid(
        code="T010101-Z01",
        name="江景花园居民自治网格",
        kind=GridKind.OVERLAY,
        region=world.regions["c1"],
        boundary=square(120.0, 30.0, 0.004),
    )
    session.add(overlay)
    session.flush()
    factories.new_case(session, world, rules, now, lng=120.002, lat=30.002)
    session.commit()
    body = client.get("/api/v1/geo/grids/T010101-Z01/summary", headers=login("operator")).json()
    assert body["kind_label"] == "叠加网格" and body["open_total"] == 1
    # Statistics count a case in the grid that owns it, so the overlay's month is empty.
    assert body["month"]["reported"]["value"] == 0


def test_a_grid_outside_ones_area_is_refused_and_an_unknown_one_is_not_found(
    client: TestClient, login: Login
) -> None:
    assert_error(
        client.get("/api/v1/geo/grids/T010201-01/summary", headers=login("operator")), 403, "forbidden"
    )
    assert client.get("/api/v1/geo/grids/T010201-01/summary", headers=login("leader")).status_code == 200
    assert_error(client.get("/api/v1/geo/grids/NOPE/summary", headers=login("leader")), 404, "not_found")
    assert_error(
        client.get("/api/v1/geo/grids/T010101-01/summary", headers=login("citizen")), 403, "forbidden"
    )
    assert client.get("/api/v1/geo/grids/T010101-01/summary").status_code == 401
