"""What a briefing says, on the hand-built history of October 2026 (tests/statistics_history.py):
every figure is the statistics, evaluation or map service's, with the reader's scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from sqlalchemy.orm import Session

from civicgrid.briefings.content import (
    Briefing,
    BriefingRequest,
    Masthead,
    Table,
    assemble,
    change,
    points,
    trend_words,
)
from civicgrid.domain.briefings import BriefingKind
from civicgrid.domain.errors import InvalidInput, RoleNotAllowed
from civicgrid.domain.evaluation import Scheme
from civicgrid.domain.indicators import Period
from civicgrid.domain.vocabulary import Role
from civicgrid.evaluation_file import default_scheme_path, load_scheme
from civicgrid.services import evaluation, statistics
from civicgrid.services.cases import CentreRules
from civicgrid.services.statistics import GroupBy, Query
from civicgrid.store.models import Case, User
from tests.factories import World, act, new_case
from tests.statistics_history import SH, at, build_history

OCTOBER = Period(at(10, 1, 0), at(11, 1, 0), "2026年10月")
SEPTEMBER = Period(at(9, 1, 0), at(10, 1, 0), "2026年9月")
LAST_OCTOBER = Period(datetime(2025, 10, 1, tzinfo=SH), datetime(2025, 11, 1, tzinfo=SH), "2025年10月")
LATER = at(11, 15, 12)


@pytest.fixture
def history(session: Session, world: World, rules: CentreRules) -> dict[str, Case]:
    return build_history(session, world, rules)


@pytest.fixture(scope="module")
def scheme() -> Scheme:
    return load_scheme(default_scheme_path())


def brief(
    session: Session,
    world: World,
    scheme: Scheme,
    *,
    who: str = "leader",
    kind: BriefingKind = BriefingKind.MONTHLY,
    day: date | None = date(2026, 10, 15),
    region: str | None = "T0101",
    now: datetime = LATER,
) -> Briefing:
    return assemble(
        session,
        world.users[who],
        BriefingRequest(kind, day, region),
        now,
        zone=SH,
        scheme=scheme,
        masthead=Masthead("测试中心工作简报"),
    )


def table(briefing: Briefing, key: str) -> Table:
    return next(t for t in briefing.tables if t.key == key)


def column(found: Table, label: str) -> list[object]:
    index = [c.label for c in found.columns].index(label)
    return [row[index] for row in found.rows]


def totals(
    session: Session, world: World, period: Period, keys: list[str], region: str = "T0101"
) -> dict[str, object]:
    result = statistics.table(
        session, world.users["leader"], Query(period, GroupBy.NONE, keys, region), LATER
    )
    return {key: cell.value for key, cell in result.total.values.items()}


def test_the_overview_is_the_statistics_services_beside_last_month_and_last_year(
    session: Session, world: World, history: dict[str, Case], scheme: Scheme
) -> None:
    briefing = brief(session, world, scheme)
    assert (briefing.heading, briefing.period.label, briefing.complete) == (
        "东湖街道月报",
        "2026年10月",
        True,
    )
    counts = table(briefing, "overview_counts")
    keys = ["reported", "registered", "closed", "closed_on_time", "overdue", "due_closure"]
    assert column(counts, "本期") == [totals(session, world, OCTOBER, keys)[key] for key in keys]
    # By hand (tests/store/test_statistics.py): 10 reported, 8 registered, 6 closed, 5 on time, 2 overdue.
    assert column(counts, "本期") == [10, 8, 6, 5, 2, 7]
    assert column(counts, "上期") == [totals(session, world, SEPTEMBER, keys)[key] for key in keys]
    assert column(counts, "上期")[0] == 1  # the holiday case, reported on 30 September
    assert column(counts, "环比")[0] == pytest.approx(9.0)
    assert column(counts, "去年同期") == [0] * 6 and column(counts, "同比") == [None] * 6
    rates = table(briefing, "overview_rates")
    keys = ["closure_rate", "on_time_closure_rate", "on_time_handling_rate", "satisfaction_rate"]
    assert column(rates, "本期") == [totals(session, world, OCTOBER, keys)[key] for key in keys]
    assert column(rates, "分子/分母")[0] == "6/7"
    assert briefing.summary[0].startswith(
        "2026年10月，东湖街道共受理各类问题10件，环比上升900.0%，同比无可比数据"
    )


def test_intake_problems_and_trend_add_up(
    session: Session, world: World, history: dict[str, Case], scheme: Scheme
) -> None:
    briefing = brief(session, world, scheme)
    channels = table(briefing, "channels")
    by_channel = statistics.table(
        session, world.users["leader"], Query(OCTOBER, GroupBy.CHANNEL, ["reported"], "T0101"), LATER
    )
    expected = {row.group.label: row.values["reported"].value for row in by_channel.rows}
    assert dict(zip(column(channels, "渠道")[:-1], column(channels, "上报数")[:-1], strict=True)) == expected
    assert channels.rows[-1][:3] == ["合计", 10, 1.0]
    assert column(table(briefing, "request_types"), "诉求类型") == ["未分类（巡查发现等）"]
    problems = table(briefing, "categories")
    assert problems.rows == [[1, "公用设施", "上水井盖", 10, 1.0, 1, 9.0, 8, 6]]
    trend = table(briefing, "trend")
    assert len(trend.rows) == 31 and trend.printed is False
    assert sum(column(trend, "上报数")) == 10 and sum(column(trend, "结案数")) == 6
    # 9 October: the parked and the voided case reported; only the voided one counts as
    # registered (the parked one is left out while parked), nothing closed.
    assert trend.rows[8] == ["10月9日", 2, 1, 0]
    assert {chart.key for chart in briefing.charts} >= {"trend", "channels", "request_types", "categories"}


def test_the_rankings_are_the_evaluation_services(
    session: Session, world: World, history: dict[str, Case], scheme: Scheme
) -> None:
    district = brief(session, world, scheme, region="T01")
    ranking = evaluation.ranking(session, world.users["leader"], scheme, "street", OCTOBER, LATER, "T01")
    streets = table(district, "ranking_street")
    assert streets.title == "街道考核排名"
    assert [row[:4] for row in streets.rows] == [
        [r.rank, r.group.label, r.value, r.grade] for r in ranking.rows
    ]
    departments = table(district, "ranking_department")
    ranking = evaluation.ranking(session, world.users["leader"], scheme, "department", OCTOBER, LATER, "T01")
    assert [row[:4] for row in departments.rows] == [
        [r.rank, r.group.label, r.value, r.grade] for r in ranking.rows
    ]
    # A street's briefing shows the street's own result (the default scheme ranks no communities).
    street = brief(session, world, scheme)
    assert [t.title for t in street.tables if t.key.startswith("ranking_")] == [
        "本街道考核结果",
        "部门考核排名",
    ]
    assert column(table(street, "ranking_street"), "名称") == ["东湖街道"]


def test_red_cases_hotspots_and_notable_cases(
    session: Session, world: World, rules: CentreRules, history: dict[str, Case], scheme: Scheme
) -> None:
    briefing = brief(session, world, scheme)
    red = table(briefing, "red_cases")
    # Past their deadline at LATER and still open: "open" (23 Oct) and "next_month" (2 Nov).
    assert column(red, "案件编号") == [history["open"].number, history["next_month"].number]
    assert column(red, "已超期")[0] == "23天3小时"
    assert "共2件" in red.note
    district = brief(session, world, scheme, region="T01")
    assert history["west"].number in column(table(district, "red_cases"), "案件编号")
    assert table(briefing, "grids").rows == [[1, "T010101-01", "东湖一社区网格", "综合网格", 10]]
    notable = table(briefing, "notable")
    # Supervision and a dissatisfied citizen weigh double, a repeat or a rework once.
    shown = ("extended", "open", "next_month", "rework")
    assert column(notable, "案件编号") == [history[name].number for name in shown]
    assert column(notable, "关注原因") == ["督办、群众不满意", "督办、重复反映2次", "督办", "返工"]
    # Two reports at one address make a place reported again and again.
    assert table(briefing, "places").rows == []
    for moment in (at(10, 20, 9), at(10, 21, 9)):
        new_case(session, world, rules, moment, address="东湖路1号", category="C0102")
    again = brief(session, world, scheme)
    assert table(again, "places").rows[0][1:4] == ["东湖路1号", 2, "污水井盖2次"]
    assert table(again, "places").rows[0][4] == datetime(2026, 10, 21, 9)
    assert table(again, "grids").rows[0][4] == 12


def test_a_handler_sees_their_departments_cases_only(
    session: Session, world: World, history: dict[str, Case], scheme: Scheme
) -> None:
    briefing = brief(session, world, scheme, who="handler_cg")
    # The city-management squad had the redispatched case only until it sent it back.
    assert column(table(briefing, "overview_counts"), "本期")[0] == 0
    assert "东湖城管中队承办" in briefing.scope
    # The municipal works office got every other case of the street: 8 reported in October.
    assert brief(session, world, scheme, who="handler_sz").tables[0].rows[0][1] == 8


def test_a_period_under_way_counts_until_now_and_compares_like_with_like(
    session: Session, world: World, history: dict[str, Case], scheme: Scheme
) -> None:
    now = at(10, 12, 12)
    briefing = brief(session, world, scheme, day=None, now=now)
    assert briefing.period.label == "2026年10月" and not briefing.complete
    assert briefing.compared_with == "上期为2026年9月同期，去年同期为2025年10月同期"
    assert briefing.summary[0].startswith("2026年10月（截至10月12日12:00）")
    counts = table(briefing, "overview_counts")
    first_days = Period(at(9, 1, 0), at(9, 12, 12), "")
    assert column(counts, "上期")[0] == totals(session, world, first_days, ["reported"])["reported"] == 0
    assert len(table(briefing, "trend").rows) == 12


def test_a_daily_briefing_looks_back_a_week_and_a_weekly_one_over_its_days(
    session: Session, world: World, history: dict[str, Case], scheme: Scheme
) -> None:
    daily = brief(session, world, scheme, kind=BriefingKind.DAILY, day=date(2026, 10, 9))
    assert daily.period.label == "2026年10月9日（星期五）"
    assert column(table(daily, "trend"), "日期") == [f"10月{n}日" for n in range(3, 10)]
    assert column(table(daily, "overview_counts"), "本期")[0] == 2
    weekly = brief(session, world, scheme, kind=BriefingKind.WEEKLY, day=date(2026, 10, 14))
    assert weekly.period.label == "2026年第42周（10月12日—10月18日）"
    assert weekly.file_stem == "东湖街道-周报-2026年第42周"
    assert len(table(weekly, "trend").rows) == 7


def test_what_a_briefing_refuses(session: Session, world: World, scheme: Scheme) -> None:
    with pytest.raises(RoleNotAllowed, match="outside your scope"):
        brief(session, world, scheme, who="operator", region="T0102")
    with pytest.raises(RoleNotAllowed, match="staff"):
        brief(session, world, scheme, who="citizen")
    with pytest.raises(InvalidInput, match="unknown region code 'T99'"):
        brief(session, world, scheme, region="T99")
    with pytest.raises(InvalidInput, match="future"):
        brief(session, world, scheme, day=date(2026, 11, 16))
    # Without a region, a reader gets their own.
    assert brief(session, world, scheme, who="operator", region=None).region_code == "T0101"


def test_words_for_changes() -> None:
    assert change(12, 10) == pytest.approx(0.2) and change(3, 0) is None
    assert points(0.9, 0.85) == 5.0 and points(None, 0.5) is None
    assert [trend_words(v) for v in (0.125, -0.03, 0.0, None)] == [
        "上升12.5%",
        "下降3.0%",
        "持平",
        "无可比数据",
    ]


def test_a_case_supervised_and_escalated_comes_first(
    session: Session, world: World, rules: CentreRules, history: dict[str, Case], scheme: Scheme
) -> None:
    loud = new_case(session, world, rules, at(10, 28, 9), urgency="urgent", title="路面塌陷")
    act(session, world, rules, loud, "operator", "register", at(10, 28, 9, 5))
    act(session, world, rules, loud, "supervisor", "supervise", at(10, 28, 10), note="请加快")
    act(session, world, rules, loud, "dispatcher", "escalate", at(10, 28, 11), note="超出权限")
    notable = table(brief(session, world, scheme), "notable")
    assert notable.rows[0][0] == loud.number
    assert notable.rows[0][5] == "督办、上报上级、紧急"


def test_a_scheme_that_ranks_communities_and_no_departments(
    session: Session, world: World, history: dict[str, Case], scheme: Scheme
) -> None:
    communities = replace(scheme, targets={"community": replace(scheme.targets["street"], kind="community")})
    briefing = brief(session, world, communities)
    assert [t.title for t in briefing.tables if t.key.startswith("ranking_")] == ["社区考核排名"]
    assert column(table(briefing, "ranking_community"), "名称") == ["东湖一社区"]
    assert not any(chart.key == "departments" for chart in briefing.charts)
    nothing = brief(session, world, replace(scheme, targets={}))
    assert [s.paragraphs[0] for s in nothing.sections if s.heading.endswith("考核排名")] == [
        "本期没有可考核的对象。"
    ]


def test_a_reader_without_a_region_names_one(session: Session, world: World, scheme: Scheme) -> None:
    nowhere = User(username="nowhere", full_name="无", role=Role.OPERATOR, password_hash="x")
    with pytest.raises(InvalidInput, match="say which region"):
        assemble(session, nowhere, BriefingRequest(BriefingKind.DAILY, date(2026, 10, 9)), LATER,
                 zone=SH, scheme=scheme, masthead=Masthead("简报"))  # fmt: skip
