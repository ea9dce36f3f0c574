"""The workbench: each role's queues, sorted by light and deadline, filtered, paged, counted."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import GridDuty
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Case, GridStaff
from civicgrid.web import routes
from tests import factories
from tests.factories import World

Pages = Callable[[str], TestClient]
NUMBER = re.compile(r'class="case-link" href="/cases/([^"]+)"')
NEXT = re.compile(r'<a class="button" href="(/workbench\?[^"]+)">下一页</a>')


@pytest.fixture
def lit(session: Session, world: World, rules: CentreRules, now: datetime) -> dict[str, Case]:
    """Reported cases in 东湖, one per light (their clock set directly: it is a cache), and one
    with no clock; plus one in 西山, out of the east's scope."""
    hour = timedelta(hours=1)
    clocks = {
        "green_late": (now + 3 * hour, now + 4 * hour),
        "none": (None, None),
        "green": (now + hour, now + 2 * hour),
        "red": (now - 2 * hour, now - hour),
        "yellow": (now - hour, now + hour),
    }
    cases = {}
    for name, (warning, deadline) in clocks.items():
        case = factories.new_case(session, world, rules, now, title=f"{name} 井盖")
        case.warning_at, case.deadline_at = warning, deadline
        cases[name] = case
    cases["west"] = factories.new_case(
        session, world, rules, now, actor="operator_west", title="west 井盖", lng=120.105, lat=30.005
    )
    session.commit()
    return cases


def numbers(page: str) -> list[str]:
    return NUMBER.findall(page)


def test_a_queue_goes_red_yellow_green_then_untimed_page_by_page(
    pages: Pages, lit: dict[str, Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    client = pages("operator")
    seen: list[str] = []
    url: str | None = "/workbench?queue=to_register"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += numbers(page.text)
        found = NEXT.search(page.text)
        url = html.unescape(found.group(1)) if found else None
    order = ["red", "yellow", "green", "green_late", "none"]
    assert seen == [lit[name].number for name in order]


def test_remaining_time_and_lights_show_in_chinese(pages: Pages, lit: dict[str, Case]) -> None:
    page = pages("operator").get("/workbench").text
    assert "红灯(超期)" in page and "黄灯(临期)" in page and "绿灯(正常)" in page
    assert "已超时 1小时" in page or "已超时 1工作小时" in page
    assert re.search(r"剩余 \d", page)
    assert "2026年9月30日 10:00" in page  # the registration time, in the centre's zone


def test_the_navigation_counts_each_queue(pages: Pages, lit: dict[str, Case]) -> None:
    page = pages("operator").get("/workbench").text
    assert re.search(r'待立案 <span class="count">5</span>', page)
    assert re.search(r'全部案件 <span class="count">5</span>', page)
    leader = pages("leader").get("/workbench").text
    assert re.search(r'红灯案件 <span class="count">1</span>', leader)
    assert re.search(r'全部案件 <span class="count">6</span>', leader)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("light=red", ["red"]),
        ("light=yellow", ["yellow"]),
        ("state=reported", ["red", "yellow", "green", "green_late", "none"]),
        ("state=closed", []),
        ("q=yellow", ["yellow"]),
        ("category_code=C01", ["red", "yellow", "green", "green_late", "none"]),
        ("category_code=E01", []),
        ("channel=hotline_12345", ["red", "yellow", "green", "green_late", "none"]),
        ("channel=web", []),
        ("region_code=T010101", ["red", "yellow", "green", "green_late", "none"]),
        ("grid_code=T010102-01", []),
        ("date_from=2026-09-30&date_to=2026-09-30", ["red", "yellow", "green", "green_late", "none"]),
        ("date_from=2026-10-01", []),
    ],
)
def test_filters(pages: Pages, lit: dict[str, Case], query: str, expected: list[str]) -> None:
    page = pages("operator").get(f"/workbench?queue=to_register&{query}")
    assert page.status_code == 200
    assert numbers(page.text) == [lit[name].number for name in expected]


def test_the_leader_sees_the_whole_district_newest_first(pages: Pages, lit: dict[str, Case]) -> None:
    page = pages("leader").get("/workbench?queue=all").text
    assert numbers(page) == [case.number for case in sorted(lit.values(), key=lambda c: c.id, reverse=True)]
    assert "最新在前" in page


def test_all_cases_page_by_cursor(
    pages: Pages, lit: dict[str, Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "PAGE_SIZE", 4)
    client = pages("leader")
    first = client.get("/workbench?queue=all").text
    second = client.get(html.unescape(NEXT.search(first).group(1))).text  # type: ignore[union-attr]
    assert len(numbers(first)) == 4 and len(numbers(second)) == 2
    assert not set(numbers(first)) & set(numbers(second))


def test_htmx_gets_only_the_queue(pages: Pages, lit: dict[str, Case]) -> None:
    reply = pages("operator").get("/workbench?queue=to_register&light=red", headers={"HX-Request": "true"})
    assert reply.status_code == 200
    assert "<html" not in reply.text and numbers(reply.text) == [lit["red"].number]


@pytest.mark.parametrize(
    "query",
    ["cursor=bogus", "date_from=yesterday", "light=purple", "state=nonsense", "colour=red", "q=" + "x" * 101],
)
def test_bad_filters_are_refused_with_a_reason(pages: Pages, lit: dict[str, Case], query: str) -> None:
    reply = pages("operator").get(f"/workbench?{query}")
    assert reply.status_code == 422
    assert "<h1>" in reply.text and ("有误" in reply.text or "翻页" in reply.text)


def test_an_unknown_code_in_a_filter_is_named(pages: Pages, lit: dict[str, Case]) -> None:
    reply = pages("operator").get("/workbench?region_code=NOWHERE")
    assert reply.status_code == 422 and "NOWHERE" in reply.text


@pytest.mark.parametrize(
    ("username", "title", "first_tab"),
    [
        ("operator", "受理工作台", "待立案"),
        ("dispatcher", "派遣工作台", "待派遣"),
        ("handler_sz", "处置工作台", "待签收"),
        ("inspector", "网格员工作台", "待核查"),
        ("supervisor", "督办工作台", "红灯案件"),
        ("leader", "领导工作台", "红灯案件"),
        ("admin", "管理工作台", "全部案件"),
    ],
)
def test_each_role_lands_on_its_workbench(pages: Pages, username: str, title: str, first_tab: str) -> None:
    client = pages(username)
    landing = client.get("/", follow_redirects=True)
    assert f'<h1 class="page-title">{title}</h1>' in landing.text
    current = re.search(r'class="tab current" aria-current="page">\s*(\S+)', landing.text)
    assert current and current.group(1) == first_tab
    assert "unknown" not in client.get("/workbench?queue=unknown").text


def test_my_registrations_today(
    pages: Pages, lit: dict[str, Case], page_clock: Callable[[datetime], None], now: datetime
) -> None:
    page = pages("operator").get("/workbench?queue=mine_today").text
    assert sorted(numbers(page)) == sorted(lit[name].number for name in lit if name != "west")
    assert re.search(r'今日登记 <span class="count">5</span>', page)
    assert numbers(pages("operator_west").get("/workbench?queue=mine_today").text) == [lit["west"].number]
    assert numbers(pages("dispatcher").get("/workbench?queue=all").text)  # sees them, reported none
    page_clock(now + timedelta(days=1))
    assert numbers(pages("operator").get("/workbench?queue=mine_today").text) == []


def test_cases_not_satisfied_at_the_call_back_wait_for_the_supervisors(
    pages: Pages, session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    rated = {}
    for satisfaction in ("satisfied", "not_satisfied", "basically_satisfied"):
        case = factories.new_case(session, world, rules, now, title=f"{satisfaction} 井盖")
        for actor, action, fields in (
            ("operator", "register", {}),
            ("dispatcher", "dispatch", {"department_code": "D-SZ-E"}),
            ("handler_sz", "accept", {}),
            ("handler_sz", "handle", {}),
            ("inspector", "check", {}),
            ("operator", "close", {}),
            ("operator", "revisit", {"satisfaction": satisfaction, "note": "电话回访"}),
        ):
            factories.act(session, world, rules, case, actor, action, now, **fields)
        rated[satisfaction] = case
    archived = rated.pop("basically_satisfied")
    factories.act(session, world, rules, archived, "operator", "archive", now)
    session.commit()
    for username in ("supervisor", "leader"):
        page = pages(username).get("/workbench?queue=dissatisfied").text
        assert numbers(page) == [rated["not_satisfied"].number]
        assert re.search(r'不满意回访 <span class="count">1</span>', page)


def test_an_inspector_s_verification_and_check_queues_hold_the_grids_they_serve(
    pages: Pages, lit: dict[str, Case], session: Session, world: World, rules: CentreRules, now: datetime
) -> None:
    other_grid = factories.new_case(session, world, rules, now, title="二社区 井盖", lng=120.015, lat=30.005)
    session.commit()
    east = [*sorted(lit[name].number for name in lit if name != "west"), other_grid.number]
    inspector = pages("inspector")
    assert sorted(numbers(inspector.get("/workbench?queue=to_verify").text)) == sorted(
        east
    )  # serves no grid yet
    session.add(GridStaff(grid=world.grids["g1"], user=world.users["inspector"], duty=GridDuty.INSPECTOR))
    session.commit()
    page = inspector.get("/workbench?queue=to_verify").text
    assert sorted(numbers(page)) == sorted(lit[name].number for name in lit if name != "west")
    assert re.search(r'待核实 <span class="count">5</span>', page)
    assert other_grid.number in numbers(inspector.get("/workbench?queue=all").text)  # the community's cases
    world.users["inspector"].grid = world.grids["g2"]  # the grid of the account counts too
    session.commit()
    assert sorted(numbers(inspector.get("/workbench?queue=to_verify").text)) == sorted(east)


def test_extensions_wait_on_the_leaders_workbench_who_alone_decide_them(pages: Pages) -> None:
    tabs = re.compile(r'<a href="/workbench\?queue=[^"]+" class="tab[^>]*>\s*(\S+)')
    leader = tabs.findall(pages("leader").get("/workbench").text)
    supervisor = tabs.findall(pages("supervisor").get("/workbench").text)
    assert leader == ["红灯案件", "黄灯案件", "延期待批", "挂账案件", "不满意回访", "全部案件"]
    assert supervisor == ["红灯案件", "黄灯案件", "挂账案件", "不满意回访", "全部案件"]
