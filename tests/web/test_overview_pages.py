"""一张图 and 指挥大屏 without a browser: the frame each page serves (its settings for the
script, the tiles' host in the Content-Security-Policy), who finds them in the navigation,
and the page session reading the map's and the dashboard's API, and nothing else."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import Role
from civicgrid.geo.crs import wgs84_to_gcj02
from civicgrid.services.cases import CentreRules
from tests import factories
from tests.factories import World, square
from tests.web.conftest import csrf_of

Pages = Callable[[str], TestClient]
CONFIG = re.compile(r'data-config="([^"]*)"')
TILES = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&style=8&x={x}&y={y}&z={z}"


def config_of(page: str) -> dict[str, Any]:
    """The settings a page hands its script."""
    found = CONFIG.search(page)
    assert found, "the page carries no data-config"
    config: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return config


@pytest.fixture
def cases(session: Session, world: World, rules: CentreRules, now: datetime) -> None:
    """A case in each street, and boundaries for the communities."""
    world.regions["c1"].boundary = square(120.00, 30.00)
    world.regions["c3"].boundary = square(120.10, 30.00)
    factories.new_case(session, world, rules, now - timedelta(days=20))
    factories.new_case(session, world, rules, now, actor="operator_west", lng=120.105, lat=30.005)
    session.commit()


def test_the_map_page_hands_its_script_the_tiles_the_area_and_the_colours(pages: Pages, cases: None) -> None:
    reply = pages("supervisor").get("/map")
    assert reply.status_code == 200
    config = config_of(reply.text)
    assert config["tiles"] == "" and config["crs"] == "wgs84"
    # Where the map opens: the extent of 东湖's grids (two squares side by side).
    assert config["extent"] == pytest.approx([120.0, 30.0, 120.02, 30.01])
    assert config["gridCount"] == 2
    assert config["lights"]["red"] == {"label": "红灯(超期)", "colour": "#c62828"}
    assert config["gridKinds"]["overlay"]["label"] == "叠加网格"
    assert "reported" in config["openStates"] and "closed" not in config["openStates"]
    assert config["liveUrl"] == "/live/events" and config["refreshSeconds"] == 30
    assert config["today"] == "2026-09-30" and config["utcOffset"] == "+08:00"
    # No inline script: the page loads its scripts as files, Leaflet from the pinned package.
    assert "<script>" not in reply.text
    assert '<script src="/assets/leaflet/dist/leaflet.js" defer>' in reply.text
    assert "img-src 'self' data:;" in reply.headers["Content-Security-Policy"]


def test_with_gcj02_tiles_the_map_opens_in_gcj02_and_the_policy_allows_their_host(
    app: FastAPI, pages: Pages, cases: None
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"map_tile_url": TILES, "map_tile_crs": "gcj02", "map_tile_subdomains": "1234"}
    )
    client = pages("leader")
    for path in ("/map", "/dashboard"):
        reply = client.get(path)
        assert reply.status_code == 200
        policy = reply.headers["Content-Security-Policy"]
        assert "img-src 'self' data: https://*.is.autonavi.com;" in policy
        assert "script-src 'self';" in policy and "connect-src 'self';" in policy
        config = config_of(reply.text)
        assert config["tiles"] == TILES and config["crs"] == "gcj02" and config["subdomains"] == "1234"
        west, south = wgs84_to_gcj02(120.0, 30.0)
        assert config["extent"][:2] == pytest.approx([west, south])
    # Every other page allows the same images (one policy for the site).
    assert "is.autonavi.com" in client.get("/workbench").headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "username, linked",
    [
        ("leader", True),
        ("supervisor", True),
        ("dispatcher", True),
        ("admin", True),
        ("operator", False),
        ("handler_cg", False),
        ("inspector", False),
    ],
)
def test_the_navigation_links_the_big_picture_for_those_who_oversee(
    pages: Pages, username: str, linked: bool
) -> None:
    client = pages(username)
    page = client.get("/workbench").text
    assert ('href="/map">一张图</a>' in page) is linked
    assert ('href="/dashboard">指挥大屏</a>' in page) is linked
    # The pages themselves show any staff member their own area's map and figures.
    assert client.get("/map").status_code == 200
    assert client.get("/dashboard").status_code == 200


def test_the_dashboard_offers_the_district_its_streets(pages: Pages) -> None:
    leader = pages("leader")
    page = leader.get("/dashboard").text
    assert (
        '<option value="T0101">东湖街道</option>' in page
        and '<option value="T0102">西山街道</option>' in page
    )
    assert '<span id="screen-scope">测试区</span>' in page
    narrowed = leader.get("/dashboard?region=T0102").text
    assert '<span id="screen-scope">西山街道</span>' in narrowed
    assert config_of(narrowed)["region"] == "T0102"
    # The map opens on the street chosen (西山's one grid), not on the whole district.
    assert config_of(narrowed)["extent"] == pytest.approx([120.10, 30.0, 120.11, 30.01])
    # An unknown or foreign region is the whole area again; a street has nothing to choose.
    assert config_of(leader.get("/dashboard?region=NOPE").text)["region"] == ""
    street = pages("supervisor").get("/dashboard?region=T0102").text
    assert 'name="region"' not in street and config_of(street)["region"] == ""
    assert '<span id="screen-scope">东湖街道</span>' in street


def test_the_page_session_reads_the_map_and_the_dashboard_and_nothing_else(
    pages: Pages, cases: None, page_clock: Callable[[datetime], None], now: datetime
) -> None:
    client = pages("operator")
    reads = (
        "/api/v1/dashboard",
        "/api/v1/geo/regions",
        "/api/v1/geo/grids?bbox=119,29,121,31",
        "/api/v1/geo/cases?bbox=119,29,121,31",
        "/api/v1/geo/cases/clusters?bbox=119,29,121,31&zoom=10",
        "/api/v1/geo/grids/T010101-01/summary",
        "/api/v1/geo/hotspots/grids",
        "/api/v1/geo/hotspots/hexagons",
    )
    for path in reads:
        reply = client.get(path)
        assert reply.status_code == 200, (path, reply.text)
        # Reading a page's data counts as using the page: the idle clock starts over.
        assert "civicgrid_session=" in reply.headers["set-cookie"], path
    assert len(client.get("/api/v1/geo/cases?bbox=119,29,121,31").json()["features"]) == 1
    # The cookie opens no other route, and authorises no change at all.
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/api/v1/statistics/table?period=month").status_code == 401
    csrf = csrf_of(client.get("/workbench").text)
    body = {
        "channel": "hotline_12345",
        "category_code": "C0101",
        "title": "井盖",
        "lng": 120.005,
        "lat": 30.005,
    }
    assert client.post("/api/v1/cases", json=body, headers={"X-CSRF-Token": csrf}).status_code == 401
    # Idle too long: the data is refused as the pages are.
    page_clock(now + timedelta(minutes=31))
    reply = client.get("/api/v1/dashboard")
    assert reply.status_code == 401 and "idle" in reply.json()["detail"]
    client.cookies.clear()
    assert client.get("/api/v1/dashboard").status_code == 401


def test_a_forged_or_revoked_session_reads_nothing(pages: Pages) -> None:
    client = pages("leader")
    stolen = client.cookies.get("civicgrid_session") or ""
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/workbench").text)})
    client.cookies.set("civicgrid_session", stolen)
    assert client.get("/api/v1/dashboard").status_code == 401
    client.cookies.set("civicgrid_session", "not-a-signed-value")
    assert client.get("/api/v1/geo/grids").status_code == 401


def test_a_citizen_has_neither_page_nor_data(app: FastAPI, pages: Pages) -> None:
    client = pages("citizen")
    assert client.get("/map").status_code == 403
    assert client.get("/api/v1/dashboard").status_code == 403
    assert client.get("/api/v1/geo/grids").status_code == 403
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get("/map").status_code == 303
    assert anonymous.get("/api/v1/dashboard").status_code == 401


def test_staff_without_an_area_get_an_empty_map(pages: Pages, session: Session, world: World) -> None:
    factories.user(session, "nowhere", Role.SUPERVISOR)
    session.commit()
    client = pages("nowhere")
    reply = client.get("/map")
    assert reply.status_code == 200
    assert config_of(reply.text)["extent"] is None and config_of(reply.text)["gridCount"] == 0
    assert 'name="region_code"' in reply.text and '<option value="T0101">' not in reply.text
    assert client.get("/api/v1/geo/grids").json()["features"] == []
