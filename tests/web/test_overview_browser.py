"""一张图 and 指挥大屏 in a real browser (headless chromium) on the demo district, with a
second street beside it (江北街道, with one overdue case) and a leader of 江滨街道 alone:
the map draws every grid and every open case in its light's colour, a grid's popup names
its inspector, a point opens its case; the dashboard's red count is the case list's; a
street leader sees the street only. Each page is photographed at 1920×1080 and 1366×768."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.api.app import create_app
from civicgrid.demo import DEMO_PASSWORD, DISTRICT_CODE, STREET_CODE, load_demo
from civicgrid.domain.vocabulary import LIGHT_LABELS, OPEN_STATES, Channel, GridKind, Light, RegionLevel, Role
from civicgrid.schemas import CaseCreate
from civicgrid.services.calendar import centre_rules
from civicgrid.services.cases import create_case
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Grid, Region, User
from tests.web.conftest import LiveServer, _free_port

WIDE = {"width": 1920, "height": 1080}
OFFICE = {"width": 1366, "height": 768}
OPEN = [state.value for state in OPEN_STATES]
NORTH_STREET = f"{DISTRICT_CODE}009"


def _rect(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _second_street(session: Session, now: datetime) -> str:
    """江北街道 south of 江滨, one community with one grid, and a case there reported three
    weeks ago (overdue); a leader of 江滨街道 alone. The case's number."""
    district = session.scalars(select(Region).where(Region.code == DISTRICT_CODE)).one()
    street = Region(
        code=NORTH_STREET,
        name="江北街道",
        level=RegionLevel.STREET,
        parent=district,
        path=f"{district.path}{NORTH_STREET}/",
        boundary=_rect(120.150, 30.247, 120.170, 30.258),
    )
    community = Region(
        code=f"{NORTH_STREET}001",
        name="江北一社区",
        level=RegionLevel.COMMUNITY,
        parent=street,
        path=f"{street.path}{NORTH_STREET}001/",
        boundary=_rect(120.150, 30.247, 120.170, 30.258),
    )
    session.add_all([street, community])
    session.add(
        Grid(
            code=f"{NORTH_STREET}001-01",
            name="江北一社区第1网格<b>加粗</b>",
            kind=GridKind.COMPREHENSIVE,
            region=community,
            boundary=_rect(120.150, 30.247, 120.170, 30.258),
        )
    )
    jiangbin = session.scalars(select(Region).where(Region.code == STREET_CODE)).one()
    leader = session.scalars(select(User).where(User.username == "leader")).one()
    session.add(
        User(
            username="leader_jb",
            full_name="江滨街道领导",
            password_hash=leader.password_hash,
            role=Role.LEADER,
            region=jiangbin,
            is_active=True,
        )
    )
    session.flush()
    reporter = session.scalars(select(User).where(User.username == "dispatcher_qu")).one()
    rules = centre_rules(session, Settings(environment="test", secret_key="x" * 40))
    report = CaseCreate(
        channel=Channel.HOTLINE_12345,
        category_code="E0501",
        title="江北路占道经营",
        lng=120.160,
        lat=30.252,
    )
    return create_case(session, reporter, report, rules, now - timedelta(days=21)).number


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """The real server on the demo district with its 300 cases and 江北街道; the number of
    江北's case."""
    path = tmp_path_factory.mktemp("overview") / "demo.db"
    settings = Settings(
        environment="test", database_url=f"sqlite:///{path}", secret_key="overview-secret-" * 3
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        load_demo(session, centre_rules(session, settings), now)
        north = _second_street(session, now)
        session.commit()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", settings), north
    server.should_exit = True
    thread.join(10)
    engine.dispose()


@pytest.fixture
def open_as(browser: Any, district: tuple[LiveServer, str]) -> Iterator[Callable[..., Any]]:
    """A page signed in as ``username`` at ``viewport``; every page error and refused
    resource (Content-Security-Policy) is kept in ``page.problems``."""
    server, _ = district
    contexts: list[Any] = []

    def open_page(username: str, viewport: dict[str, int] = OFFICE) -> Any:
        context = browser.new_context(
            viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=server.url
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        page.problems = problems
        page.goto("/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/workbench")
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def api(district: tuple[LiveServer, str]) -> Iterator[Callable[[str], httpx.Client]]:
    """The JSON API as a user, with a bearer token (not the page's session)."""
    server, _ = district
    clients: list[httpx.Client] = []

    def as_user(username: str) -> httpx.Client:
        client = httpx.Client(base_url=server.url, timeout=30)
        clients.append(client)
        reply = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
        client.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
        return client

    yield as_user
    for client in clients:
        client.close()


Api = Callable[[str], httpx.Client]


def open_cases(client: httpx.Client) -> dict[str, str | None]:
    """Every open case the user's case list holds: number → light."""
    found: dict[str, str | None] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"state": OPEN, "page_size": 200}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/cases", params=params).json()
        found.update({item["number"]: item["light"] for item in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return found


def drawn_map(page: Any) -> dict[str, Any]:
    """What the map holds once loaded: grids by kind, and each point's number, light and class."""
    page.wait_for_function(
        "() => { const m = document.getElementById('map') || document.getElementById('screen-map');"
        " return m && m.civicMap && m.dataset.casesLoaded && m.civicMap.state.grids.size > 0; }"
    )
    result: dict[str, Any] = page.evaluate(
        """() => {
          const element = document.getElementById('map') || document.getElementById('screen-map');
          const c = element.civicMap;
          const kinds = {};
          for (const shape of c.state.grids.values()) {
            const kind = shape.feature.properties.kind;
            kinds[kind] = (kinds[kind] || 0) + 1;
          }
          const points = c.layers.cases.getLayers().map((m) => ({
            number: m.options.number, light: m.options.light || null, icon: m.options.icon.options.className,
          }));
          return {kinds: kinds, points: points, clustered: c.state.clustered,
                  streets: c.layers.streets.getLayers().length, communities: c.layers.communities.getLayers().length};
        }"""
    )
    return result


def rgb(colour: str) -> str:
    """'#c62828' as the browser's computed 'rgb(198, 40, 40)'."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_the_map_draws_every_grid_and_every_open_case_in_its_light(
    open_as: Callable[..., Any], api: Api, district: tuple[LiveServer, str], screenshots: Path
) -> None:
    _, north = district
    page = open_as("leader", WIDE)
    page.goto("/map")
    drawn = drawn_map(page)
    # The demo's 47 grids (20 comprehensive, 25 overlay "20+25", 2 dedicated) and 江北's one.
    assert drawn["kinds"] == {"comprehensive": 21, "overlay": 25, "dedicated": 2}
    assert drawn["streets"] == 2 and drawn["communities"] == 7
    # A name with markup is shown as text.
    tooltip = page.evaluate(
        f"() => {{ const t = document.getElementById('map').civicMap.state.grids.get('{NORTH_STREET}001-01')"
        ".getTooltip().getContent(); return [t instanceof HTMLElement, t.textContent, t.children.length]; }"
    )
    assert tooltip == [True, "江北一社区第1网格<b>加粗</b>(综合网格)", 0]
    # Every open case of the leader's list, as a point in its own light (none clustered
    # on the server: the demo is far below the map's case limit).
    expected = open_cases(api("leader"))
    assert drawn["clustered"] is False
    assert {p["number"]: p["light"] for p in drawn["points"]} == expected
    assert north in expected and len(expected) > 100
    for point in drawn["points"]:
        assert point["icon"] == f"case-point light-{point['light'] or 'none'}", point
    assert {p["light"] for p in drawn["points"]} >= {"red", "yellow", "green"}
    # The points shown on their own (not in a cluster) are painted in their light's colour.
    colours = page.evaluate(
        "() => [...document.querySelectorAll('.case-point')].map(e => [e.className, getComputedStyle(e).backgroundColor])"
    )
    assert colours, "no single point is shown"
    for class_name, colour in colours:
        light = re.search(r"light-(\w+)", class_name).group(1)  # type: ignore[union-attr]
        if light != "none":
            assert colour == rgb(LIGHT_LABELS[Light(light)][1]), class_name
    assert page.problems == []


def test_a_grid_shows_its_inspector_and_a_point_opens_its_case(open_as: Callable[..., Any]) -> None:
    page = open_as("supervisor")
    page.goto("/map")
    drawn_map(page)
    # Click inside 望江社区's first grid, clear of its overlay grids (its south-west corner).
    spot = page.evaluate(
        """() => { const c = document.getElementById('map').civicMap;
          const shape = c.state.grids.get('990101001001-01');
          const b = shape.getBounds();
          const at = L.latLng(b.getSouth() + (b.getNorth() - b.getSouth()) * 0.04, b.getWest() + (b.getEast() - b.getWest()) * 0.04);
          const p = c.map.latLngToContainerPoint(at);
          const r = document.getElementById('map').getBoundingClientRect();
          return [p.x + r.left, p.y + r.top]; }"""
    )
    page.mouse.click(spot[0], spot[1])
    popup = page.locator(".grid-popup[data-grid='990101001001-01']")
    expect(popup.locator("h3")).to_have_text("望江社区第1网格")
    expect(popup.locator(".grid-inspectors")).not_to_have_text("未配置")
    expect(popup.locator(".popup-month caption")).to_contain_text("本网格")
    # A point opens its case (in a new tab, so the map stays as it is).
    page.evaluate("() => document.getElementById('map').civicMap.map.closePopup()")
    number = page.evaluate(
        """() => { const c = document.getElementById('map').civicMap; const m = c.layers.cases.getLayers()[0];
          c.layers.cases.zoomToShowLayer(m, () => {}); return m.options.number; }"""
    )
    page.wait_for_timeout(800)
    with page.context.expect_page() as opened:
        page.evaluate(
            f"() => document.getElementById('map').civicMap.layers.cases.getLayers()"
            f".find(m => m.options.number === '{number}').fire('click')"
        )
    case_page = opened.value
    case_page.wait_for_load_state()
    assert case_page.url.endswith(f"/cases/{number}")
    expect(case_page.locator(".case-head .number")).to_have_text(number)


def dashboard_figures(page: Any) -> dict[str, Any]:
    page.wait_for_function("() => document.getElementById('screen').dataset.loaded")
    figures: dict[str, Any] = page.evaluate(
        """() => ({
          red: document.getElementById('kpi-red').textContent,
          open: document.getElementById('kpi-open').textContent,
          scope: document.getElementById('screen-scope').textContent,
          redCases: [...document.querySelectorAll('#red-cases .red-number')].map(e => e.textContent),
          departments: document.querySelectorAll('#departments tbody tr').length,
          charts: [...document.querySelectorAll('.chart canvas')].length,
        })"""
    )
    return figures


def test_the_dashboards_red_count_is_the_case_lists(
    open_as: Callable[..., Any], api: Api, district: tuple[LiveServer, str]
) -> None:
    _, north = district
    client = api("leader")
    for name, viewport in (("1920", WIDE), ("1366", OFFICE)):
        page = open_as("leader", viewport)
        page.goto("/dashboard")
        figures = dashboard_figures(page)
        red = client.get("/api/v1/cases", params={"light": "red", "page_size": 1}).json()["total"]
        assert int(figures["red"].replace(",", "")) == red > 0
        assert int(figures["open"].replace(",", "")) == len(open_cases(client))
        assert figures["scope"] == "示范区" and north in figures["redCases"]
        assert figures["departments"] >= 5 and figures["charts"] == 5
        drawn_map(page)
        # One screen: nothing scrolls at either size.
        overflow = page.evaluate(
            "() => [document.documentElement.scrollWidth - innerWidth, document.documentElement.scrollHeight - innerHeight]"
        )
        assert overflow == [0, 0], (name, overflow)
        assert page.problems == []


def test_a_street_leader_sees_the_street_only(
    open_as: Callable[..., Any], api: Api, district: tuple[LiveServer, str], screenshots: Path
) -> None:
    _, north = district
    street = api("leader_jb")
    page = open_as("leader_jb", WIDE)
    page.goto("/dashboard")
    figures = dashboard_figures(page)
    assert figures["scope"] == "江滨街道"
    red = street.get("/api/v1/cases", params={"light": "red", "page_size": 1}).json()["total"]
    everywhere = api("leader").get("/api/v1/cases", params={"light": "red", "page_size": 1}).json()["total"]
    assert int(figures["red"]) == red == everywhere - 1
    assert north not in figures["redCases"]
    drawn = drawn_map(page)
    assert sum(drawn["kinds"].values()) == 47 and north not in {p["number"] for p in drawn["points"]}
    assert page.locator("select[name=region]").count() == 0
    page.wait_for_timeout(1200)  # the charts' first drawing grows in
    page.screenshot(path=screenshots / "dashboard-1920.png")
    page.goto("/map")
    drawn = drawn_map(page)
    assert drawn["kinds"] == {"comprehensive": 20, "overlay": 25, "dedicated": 2} and drawn["streets"] == 1
    assert {p["number"]: p["light"] for p in drawn["points"]} == open_cases(street)
    page.screenshot(path=screenshots / "map-1920.png")
    assert page.problems == []


def test_the_district_narrows_its_dashboard_to_a_street(
    open_as: Callable[..., Any], api: Api, district: tuple[LiveServer, str], screenshots: Path
) -> None:
    _, north = district
    page = open_as("leader", OFFICE)
    page.goto("/dashboard")
    dashboard_figures(page)
    page.select_option("select[name=region]", STREET_CODE)
    page.wait_for_url(f"**/dashboard?region={STREET_CODE}")
    figures = dashboard_figures(page)
    assert figures["scope"] == "江滨街道" and north not in figures["redCases"]
    red = api("leader").get(
        "/api/v1/cases", params={"light": "red", "region_code": STREET_CODE, "page_size": 1}
    )
    assert int(figures["red"]) == red.json()["total"]
    drawn = drawn_map(page)
    assert north not in {p["number"] for p in drawn["points"]}
    page.wait_for_timeout(1200)
    page.screenshot(path=screenshots / "dashboard-1366.png")
    page = open_as("leader_jb", OFFICE)
    page.goto("/map")
    drawn_map(page)
    page.select_option("select[name=heat]", "hexagons")
    page.wait_for_function("() => document.getElementById('map').civicMap.layers.heat.getLayers().length > 0")
    page.screenshot(path=screenshots / "map-1366.png")
    assert page.problems == []


def _stream(*events: tuple[str, dict[str, Any]]) -> str:
    """An event stream's body (the browser reconnects when it ends, after ``retry`` ms)."""
    lines = ["retry: 60000", ""]
    for name, data in events:
        lines += [f"event: {name}", f"data: {json.dumps(data, ensure_ascii=False)}", ""]
    return "\n".join(lines) + "\n"


def _requests_with_a_live_event(page: Any, lng: float, lat: float) -> dict[str, int]:
    """Open the dashboard with an event stream that brings one case event at (lng, lat);
    how often the figures and the points were asked for in the six seconds that follow."""
    event = {
        "number": "JD-1",
        "state": "reported",
        "state_label": "上报",
        "light": "green",
        "lng": lng,
        "lat": lat,
    }
    body = _stream(("case", event))
    page.route(
        "**/live/events",
        lambda route: route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body),
    )
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto("/dashboard")
    dashboard_figures(page)
    page.wait_for_timeout(6000)
    return {
        "figures": sum("/api/v1/dashboard" in url for url in asked),
        "points": sum("/api/v1/geo/cases" in url for url in asked),
    }


def test_live_events_bring_fresh_data_and_a_missing_stream_is_no_error(open_as: Callable[..., Any]) -> None:
    # Without the stream (this server has none): no error, and the dashboard says it polls.
    page = open_as("leader")
    page.goto("/dashboard")
    dashboard_figures(page)
    expect(page.locator("#screen-live")).to_have_text("每30秒刷新")
    assert page.problems == []
    # With one: an event far from the map's view brings fresh figures, not fresh points; an
    # event in the view brings both (each loaded once more than at the page's first load).
    far = _requests_with_a_live_event(open_as("leader"), 10.0, 10.0)
    near = _requests_with_a_live_event(open_as("leader"), 120.16, 30.27)
    # (A load of the map's cases is one or two requests, points and counts per square.)
    assert far["figures"] == near["figures"] == 2, (far, near)
    assert far["points"] > 0 and near["points"] == 2 * far["points"], (far, near)
