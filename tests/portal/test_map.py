"""The public map: open, registered cases as rough points (the centre of a cell of about
200 m), each with its class, state and day only; the grids as a plain background; tiles
only from the configured server, which the page's CSP then allows."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.api.app import create_app
from civicgrid.geo.crs import wgs84_to_gcj02
from civicgrid.portal.service import METRES_PER_DEGREE, snap
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from tests import factories
from tests.factories import World


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * METRES_PER_DEGREE * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * METRES_PER_DEGREE)


@pytest.mark.parametrize(("lng", "lat"), [(120.00517, 30.00483), (116.39742, 39.90923), (-0.1276, 51.5072)])
def test_points_are_snapped_to_the_centre_of_their_cell(lng: float, lat: float) -> None:
    centre = snap(lng, lat, 200)
    assert centre != (lng, lat)
    assert _metres(centre, (lng, lat)) <= 100 * math.sqrt(2) + 1
    # Every point of the cell shows at the same place.
    assert snap(*centre, 200) == pytest.approx(centre)
    assert snap(centre[0] + 0.0001, centre[1] - 0.0001, 200) == pytest.approx(centre)


@pytest.fixture
def cases(session: Session, world: World, rules: CentreRules, now: datetime) -> dict[str, str]:
    """A registered case at an exact address, a fresh report, and a closed case."""
    made = {}
    registered = factories.new_case(
        session, world, rules, now, lng=120.00517, lat=30.00483, title="张三家门口井盖缺失",
        description="东湖一社区3号楼张三报", address="东湖路3号", reporter_name="张三",
        reporter_phone="13800138000",
    )  # fmt: skip
    factories.act(session, world, rules, registered, "operator", "register", now)
    made["registered"] = registered.number
    made["reported"] = factories.new_case(session, world, rules, now, lng=120.0151, lat=30.0051).number
    closed = factories.new_case(session, world, rules, now, lng=120.1051, lat=30.0051, actor="operator_west")
    factories.act(session, world, rules, closed, "operator_west", "void", now, note="重复")
    made["voided"] = closed.number
    session.commit()
    return made


def test_the_map_shows_open_registered_cases_roughly_and_nothing_personal(
    client: TestClient, cases: dict[str, str], settings: Settings
) -> None:
    reply = client.get("/portal/map/data")
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
    data = reply.json()
    [cell] = data["cells"]  # the fresh report and the voided case are not on the map
    assert cell["count"] == 1 and cell["cases"] == [
        {"category": "上水井盖", "state": "立案", "date": "2026-09-30"}
    ]
    assert (cell["lng"], cell["lat"]) != (120.00517, 30.00483)
    assert _metres((cell["lng"], cell["lat"]), (120.00517, 30.00483)) <= settings.portal_map_cell_m
    text = json.dumps(data, ensure_ascii=False)
    for personal in (
        "张三",
        "13800138000",
        "东湖路3号",
        "3号楼",
        cases["registered"],
        "井盖缺失",
        "120.00517",
    ):
        assert personal not in text, personal
    assert sorted(f["properties"]["name"] for f in data["grids"]["features"]) == [
        "东湖一社区网格", "东湖二社区网格", "西山社区网格",
    ]  # fmt: skip
    assert all(set(f["properties"]) == {"name"} for f in data["grids"]["features"])


def test_the_map_page_without_tiles_and_with_them(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    plain = client.get("/portal/map")
    assert plain.status_code == 200 and 'data-tiles=""' in plain.text
    assert "img-src 'self' data:;" in plain.headers["content-security-policy"]
    assert "/assets/leaflet/dist/leaflet.js" in plain.text and "unpkg" not in plain.text
    tiles = settings.model_copy(
        update={
            "map_tile_url": "https://{s}.tiles.example.org/{z}/{x}/{y}.png",
            "map_tile_attribution": "<b>地图</b> © 示例",
            "map_tile_crs": "gcj02",
        }
    )
    application = create_app(tiles, app.state.engine)
    application.state.session_factory = app.state.session_factory
    application.state.read_session_factory = app.state.read_session_factory
    with TestClient(application) as other:
        page = other.get("/portal/map")
        data = other.get("/portal/map/data").json()
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: https://*.tiles.example.org;" in policy and "script-src 'self';" in policy
    assert 'data-tiles="https://{s}.tiles.example.org/{z}/{x}/{y}.png"' in page.text
    assert "&lt;b&gt;地图&lt;/b&gt;" in page.text and "<b>地图</b>" not in page.text
    # GCJ-02 tiles: the map's points and grids are shifted as the tiles are.
    assert data["crs"] == "gcj02"
    ring = data["grids"]["features"][0]["geometry"]["coordinates"][0]
    corner = list(wgs84_to_gcj02(120.0, 30.0))
    assert any(point == pytest.approx(corner, abs=1e-6) for point in ring), ring
    assert [120.0, 30.0] not in ring


@pytest.mark.parametrize(
    "template",
    [
        "javascript:alert(1)//{z}/{x}/{y}",
        "https://tiles.example.org/tile.png",
        "https://tiles.example.org/{z}/{x}/{y}.png'; script-src *",
    ],
)
def test_a_tile_url_must_be_a_plain_template(template: str) -> None:
    with pytest.raises(ValueError, match="map_tile_url"):
        Settings(map_tile_url=template)
