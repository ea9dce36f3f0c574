"""The duplicate hint at intake, on SQLite and PostgreSQL: open cases of the same category
in the point's grid or within 100 m, registered in the last 7 days, nearest first, and
only those the caller may see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from civicgrid.geo.crs import wgs84_to_gcj02
from tests.api.helpers import Headers, assert_error, new_case

#: The point about to be reported: in 东湖一社区's grid, 50 m from the next grid.
POINT = (120.0095, 30.005)


def nearby(client: TestClient, headers: Headers, **query: Any) -> Any:
    params = {"category_code": "C0101", "lng": POINT[0], "lat": POINT[1], **query}
    return client.get("/api/v1/cases/nearby", params=params, headers=headers)


def test_open_cases_of_the_category_in_the_grid_or_within_100_m_nearest_first(
    client: TestClient, login: Callable[[str], Headers], clock: Callable[[datetime], None], now: datetime
) -> None:
    operator = login("operator")

    def report(lng: float | None, lat: float | None, **fields: Any) -> str:
        where = (
            {"lng": lng, "lat": lat}
            if lng is not None
            else {"lng": None, "lat": None, "grid_code": "T010101-01"}
        )
        return str(new_case(client, operator, **where, **fields)["number"])

    clock(now - timedelta(days=8))
    report(120.0096, 30.005, title="八天前的")  # too old
    clock(now - timedelta(days=6))
    close = report(120.0096, 30.005, title="10 米")
    clock(now)
    across = report(120.0102, 30.005, title="隔壁网格 68 米")
    far_in_grid = report(120.001, 30.001, title="同网格 930 米")
    no_point = report(None, None, title="同网格无坐标")
    report(120.012, 30.005, title="隔壁网格 240 米")  # too far, another grid
    report(120.0096, 30.005, category_code="C0102", title="别的小类")
    merged = report(120.0095, 30.005, title="已合并")
    reply = client.post(
        f"/api/v1/cases/{merged}/actions/merge", json={"merge_into": close, "note": "重复"}, headers=operator
    )
    assert reply.status_code == 200, reply.text

    reply = nearby(client, operator)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["grid_code"] == "T010101-01" and body["radius_m"] == 100 and body["days"] == 7
    found = [
        (item["number"], item["distance_m"] is not None and round(item["distance_m"]), item["same_grid"])
        for item in body["items"]
    ]
    assert found == [
        (close, 10, True),
        (across, 67, False),
        (far_in_grid, 932, True),
        (no_point, False, True),
    ]
    assert body["items"][0]["title"] == "10 米" and body["items"][0]["state"] == "reported"
    # The same point written as a Chinese web map gives it (GCJ-02) finds the same cases.
    lng, lat = wgs84_to_gcj02(*POINT)
    shifted = nearby(client, operator, lng=lng, lat=lat, crs="gcj02").json()
    assert [item["number"] for item in shifted["items"]] == [number for number, *_ in found]
    assert [item["number"] for item in nearby(client, operator, limit=2).json()["items"]] == [close, across]
    # Another street's operator sees none of them; the case list's scope applies.
    assert nearby(client, login("operator_west")).json()["items"] == []
    assert nearby(client, login("handler_cg")).json()["items"] == []
    # A point outside every grid still finds what is within 100 m.
    outside = nearby(client, operator, lng=120.0095, lat=30.0105).json()
    assert outside["grid_code"] is None and outside["items"] == []


def test_the_hint_refuses_bad_input_with_a_reason(
    client: TestClient, login: Callable[[str], Headers]
) -> None:
    operator = login("operator")
    assert_error(nearby(client, operator, category_code="NOPE"), 422, "invalid")
    assert_error(nearby(client, operator, lng=200), 422, "invalid_request", "query.lng")
    assert_error(nearby(client, operator, crs="mars"), 422, "invalid_request", "query.crs")
    reply = client.get("/api/v1/cases/nearby", params={"category_code": "C0101"}, headers=operator)
    assert_error(reply, 422, "invalid_request", "query.lng")
    assert_error(nearby(client, {}), 401, "unauthenticated")
