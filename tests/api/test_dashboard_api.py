"""The dashboard (指挥大屏): every figure agrees with the case list (``/api/v1/cases``) and
the statistics table (``/api/v1/statistics/table``) for the same user, and a street's
leader sees the street only."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import OPEN_STATES, Channel, Role
from civicgrid.services import dashboard as dashboard_service
from civicgrid.services.cases import CentreRules
from civicgrid.services.dashboard import HEADLINE, Recent
from civicgrid.store import cases as case_queries
from civicgrid.store.db import make_session_factory
from civicgrid.store.models import User
from tests import factories
from tests.api.helpers import Headers, assert_error
from tests.factories import World, build_world

Login = Callable[[str], Headers]
OPEN = [state.value for state in OPEN_STATES]


@pytest.fixture
def history(session: Session, world: World, rules: CentreRules, now: datetime) -> dict[str, str]:
    return make_history(session, world, rules, now)


def make_history(session: Session, world: World, rules: CentreRules, now: datetime) -> dict[str, str]:
    """Cases of 东湖 and 西山 over the last weeks, in several states and lights (some past
    their deadline), one closed and one dispatched to each street's squad; and a leader of
    东湖街道 alone."""
    made: dict[str, str] = {}
    for key, days, channel, category in (
        ("today", 0, Channel.HOTLINE_12345, "C0101"),
        ("yesterday", 1, Channel.WECHAT, "E0501"),
        ("week", 6, Channel.INSPECTOR, "E0501"),
        ("fortnight", 14, Channel.HOTLINE_12345, "C0102"),
        ("month", 25, Channel.HOTLINE_12345, "E0101"),
    ):
        case = factories.new_case(
            session, world, rules, now - timedelta(days=days), channel=channel, category=category
        )
        made[key] = case.number
        if key in ("week", "fortnight", "month"):
            factories.act(session, world, rules, case, "operator", "register", now - timedelta(days=days))
        if key in ("fortnight", "month"):
            at = now - timedelta(days=days - 1)
            factories.act(session, world, rules, case, "dispatcher", "dispatch", at, department_code="D-CG-E")
        if key == "fortnight":  # parked (挂账): open, with no light
            factories.act(
                session, world, rules, case, "supervisor", "suspend", now - timedelta(days=3), note="挂账跟踪"
            )
        if key == "month":
            for actor, action in (("handler_cg", "accept"), ("handler_cg", "handle"), ("inspector", "check")):
                factories.act(session, world, rules, case, actor, action, now - timedelta(days=10))
            factories.act(session, world, rules, case, "operator", "close", now - timedelta(days=9))
    west = factories.new_case(
        session, world, rules, now - timedelta(days=12), actor="operator_west", lng=120.105, lat=30.005
    )
    factories.act(session, world, rules, west, "operator_west", "register", now - timedelta(days=12))
    factories.act(
        session,
        world,
        rules,
        west,
        "dispatcher_west",
        "dispatch",
        now - timedelta(days=11),
        department_code="D-CG-W",
    )
    made["west"] = west.number
    world.users["leader_east"] = factories.user(
        session, "leader_east", Role.LEADER, region=world.regions["east"]
    )
    session.commit()
    return made


def get(client: TestClient, headers: Headers, path: str, **params: Any) -> Any:
    reply = client.get(path, params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def listed_total(client: TestClient, headers: Headers, **params: Any) -> int:
    total: int = get(client, headers, "/api/v1/cases", **params)["total"]
    return total


@pytest.mark.parametrize("username", ["leader", "leader_east", "supervisor", "handler_cg"])
def test_every_figure_agrees_with_the_list_and_the_statistics(
    client: TestClient, login: Login, history: dict[str, str], username: str
) -> None:
    headers = login(username)
    board = get(client, headers, "/api/v1/dashboard")
    # Open cases, by light and by state, as the case list counts them.
    lights = {row["light"]: row["count"] for row in board["open_by_light"]}
    assert board["red_total"] == lights["red"] == listed_total(client, headers, light="red")
    for light in ("yellow", "green"):
        assert lights[light] == listed_total(client, headers, light=light), light
    assert board["open_total"] == sum(lights.values()) == listed_total(client, headers, state=OPEN)
    # The parked case (挂账) is open, with no light.
    assert lights[None] == listed_total(client, headers, state="suspended") == 1
    for row in board["open_by_state"]:
        assert row["count"] == listed_total(client, headers, state=row["state"]), row
    # The red list: the list's red cases, the most overdue first.
    red = get(client, headers, "/api/v1/cases", light="red", page_size=200)["items"]
    assert [c["number"] for c in board["red_cases"]] == [
        c["number"] for c in sorted(red, key=lambda c: (c["deadline_at"], c["number"]))
    ][: len(board["red_cases"])]
    assert all(c["overdue_seconds"] > 0 for c in board["red_cases"])

    def table(**params: Any) -> Any:
        return get(client, headers, "/api/v1/statistics/table", **params)

    # Intake by channel today and this month: the table's 上报数 by channel.
    for period, field in (("day", "today"), ("month", "month")):
        rows = table(period=period, group_by="channel", indicators="reported")["rows"]
        counted = {row["group"]["key"]: row["values"]["reported"]["value"] for row in rows}
        assert {row["channel"]: row[field] for row in board["intake"] if row[field]} == counted, period
    assert (
        board["today_reported"]
        == table(period="day", indicators="reported")["total"]["values"]["reported"]["value"]
    )
    # The month's headline: the table's total row.
    month = table(period="month", indicators=",".join(HEADLINE))
    assert board["month"] == month["total"]["values"] and board["month_label"] == month["period_label"]
    # Top categories: the most reported small classes of the month.
    categories = table(period="month", group_by="category", indicators="reported")["rows"]
    expected = sorted(
        (
            (row["group"]["key"], row["values"]["reported"]["value"])
            for row in categories
            if row["group"]["key"] != "none"
        ),
        key=lambda pair: (-pair[1], pair[0]),
    )
    assert [(c["code"], c["count"]) for c in board["top_categories"]] == [p for p in expected if p[1]][:10]
    # The trend: the table grouped by day over the same 30 days.
    first, last = board["trend"][0]["day"], board["trend"][-1]["day"]
    daily = table(**{"from": first, "to": last, "group_by": "day", "indicators": "reported,closed"})
    assert len(board["trend"]) == 30 and last == "2026-09-30"
    assert [(d["day"], d["reported"], d["closed"]) for d in board["trend"]] == [
        (row["group"]["key"], row["values"]["reported"]["value"], row["values"]["closed"]["value"])
        for row in daily["rows"]
    ]
    # Departments: the table grouped by department, ranked by 按期处置率.
    departments = table(
        period="month",
        group_by="department",
        indicators="due_handling,handled,handled_on_time,overdue,on_time_handling_rate",
    )["rows"]
    by_code = {row["group"]["key"]: row["values"] for row in departments}
    for row in board["departments"]:
        values = by_code[row["code"]]
        assert row["on_time_handling_rate"] == values["on_time_handling_rate"]
        assert (row["due_handling"], row["overdue"]) == (
            values["due_handling"]["value"],
            values["overdue"]["value"],
        )
    rates = [row["on_time_handling_rate"]["value"] for row in board["departments"] if row["rank"] is not None]
    assert rates == sorted(rates, reverse=True)


def test_a_street_leader_sees_the_street_and_the_district_both(
    client: TestClient, login: Login, history: dict[str, str]
) -> None:
    district = get(client, login("leader"), "/api/v1/dashboard")
    street = get(client, login("leader_east"), "/api/v1/dashboard")
    assert (district["scope_label"], street["scope_label"]) == ("测试区", "东湖街道")
    assert history["west"] in [c["number"] for c in district["red_cases"]]
    assert history["west"] not in [c["number"] for c in street["red_cases"]]
    assert district["open_total"] == street["open_total"] + 1
    assert {row["code"] for row in district["departments"]} == {"D-CG-E", "D-CG-W"}
    assert {row["code"] for row in street["departments"]} == {"D-CG-E"}
    # The district narrowed to 东湖 is what 东湖's leader sees.
    narrowed = get(client, login("leader"), "/api/v1/dashboard", region="T0101")
    assert narrowed["region_code"] == "T0101"
    for key in (
        "open_total",
        "red_total",
        "open_by_light",
        "open_by_state",
        "intake",
        "month",
        "trend",
        "top_categories",
    ):
        assert narrowed[key] == street[key], key
    assert_error(
        client.get("/api/v1/dashboard", params={"region": "T0102"}, headers=login("leader_east")),
        403,
        "forbidden",
    )


def test_the_departments_are_ranked_with_ties_sharing_a_rank(
    client: TestClient, login: Login, history: dict[str, str]
) -> None:
    board = get(client, login("leader"), "/api/v1/dashboard")
    ranks = [
        (row["code"], row["rank"], row["on_time_handling_rate"]["display"]) for row in board["departments"]
    ]
    # 东湖城管: one handled on time of two due (the other overdue); 西山城管: due later.
    assert ranks[0][0] == "D-CG-E" and ranks[0][1] == 1
    assert [rank for _, rank, display in ranks if display == "—"] == [None] * sum(
        d == "—" for _, _, d in ranks
    )


def test_the_dashboard_is_for_staff(client: TestClient, login: Login) -> None:
    assert_error(client.get("/api/v1/dashboard", headers=login("citizen")), 403, "forbidden")
    assert client.get("/api/v1/dashboard").status_code == 401
    assert_error(
        client.get("/api/v1/dashboard", params={"region": "X9"}, headers=login("leader")), 422, "invalid"
    )


def test_a_dashboard_serves_its_scope_for_ten_seconds(
    app: FastAPI,
    client: TestClient,
    login: Login,
    history: dict[str, str],
    clock: Callable[[datetime], None],
    now: datetime,
) -> None:
    seconds = [100.0]
    app.state.dashboards = Recent(clock=lambda: seconds[0])
    first = get(client, login("leader"), "/api/v1/dashboard")
    # Another screen of the same scope, a moment later: the same figures, not counted again.
    clock(now + timedelta(seconds=5))
    seconds[0] += 5
    assert get(client, login("admin"), "/api/v1/dashboard")["generated_at"] == first["generated_at"]
    # Another scope, or another region asked for, is counted for itself.
    assert get(client, login("leader_east"), "/api/v1/dashboard")["scope_label"] == "东湖街道"
    narrowed = get(client, login("leader"), "/api/v1/dashboard", region="T0101")
    assert narrowed["generated_at"] != first["generated_at"]
    # Ten seconds on, it is counted afresh.
    seconds[0] += 5
    assert get(client, login("leader"), "/api/v1/dashboard")["generated_at"] != first["generated_at"]


def test_the_parts_read_side_by_side_equal_the_parts_read_in_turn(
    fresh_engine: Engine, rules: CentreRules, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_session_factory(fresh_engine)() as session:
        make_history(session, build_world(session), rules, now)
    threads: list[str] = []
    counted = case_queries.open_counts

    def open_counts(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return counted(*args, **kwargs)

    monkeypatch.setattr(case_queries, "open_counts", open_counts)
    reader = make_session_factory(fresh_engine, read_only=True)
    zone = ZoneInfo("Asia/Shanghai")
    for username in ("leader", "leader_east", "handler_cg"):
        with reader() as session:
            actor = session.scalars(select(User).where(User.username == username)).one()
            in_turn = dashboard_service.dashboard(session, actor, now, zone)
            side_by_side = dashboard_service.dashboard(session, actor, now, zone, reader=reader)
        assert side_by_side == in_turn, username
        assert side_by_side.open_total > 0 and side_by_side.trend
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("civicgrid-dashboard")
