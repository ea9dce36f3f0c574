"""The statistics on a hand-built history (tests/statistics_history.py), each figure
worked out by hand below, on SQLite and PostgreSQL."""

from __future__ import annotations

import tomllib
from datetime import date, datetime

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from civicgrid.domain.errors import InvalidInput, RoleNotAllowed
from civicgrid.domain.evaluation import parse_scheme
from civicgrid.domain.indicators import Period, PeriodKind
from civicgrid.domain.vocabulary import GridDuty, Role
from civicgrid.evaluation_file import default_scheme_path, load_scheme
from civicgrid.schemas_statistics import StatisticsRow, StatisticsTable
from civicgrid.services import evaluation, statistics
from civicgrid.services.cases import CentreRules
from civicgrid.services.statistics import GroupBy, Query
from civicgrid.store.models import Case, GridStaff
from tests.factories import World, act, new_case, user
from tests.statistics_history import DEADLINES, SH, at, build_history

OCTOBER = Period.containing(PeriodKind.MONTH, date(2026, 10, 15), SH)
LATER = at(11, 15, 12)
EVERY = [
    "reported", "registered", "voided", "accurate_registered", "registered_on_time", "public_verified", "inspector_reported",
    "closed", "closed_on_time", "due_open", "due_closure", "handled", "handled_on_time", "handled_late",
    "due_unhandled", "due_handling", "overdue", "rework", "verified", "due_verification", "checked",
    "checked_on_time", "due_check", "dispatched", "misdispatched", "accurate_dispatched", "dispatch_done",
    "dispatched_on_time", "due_dispatch", "revisited", "rated", "satisfied", "merged",
    "not_satisfied", "supervised_overdue", "grid_registered", "missed_reports",
]  # fmt: skip

#: October in 东湖街道, by hand (see the history's comments):
#: reported: parked, voided, paused, extended, rework, late, open, duplicate, redispatched,
#: next_month = 10 (holiday was reported on 30 Sep). registered: the same less the parked
#: one and the duplicate (never registered) = 8, of which 1 voided. closed: holiday,
#: paused, extended, rework, late, redispatched = 6, all but late on time = 5; due and open
#: at the end of October: open (23 Oct) = 1 (next_month is due 2 Nov; parked has no running
#: clock and is left out; voided never reached handling). Dispatches in October: parked,
#: paused, extended, rework, late, open, redispatched twice, next_month = 9, one refused.
#: Rated 3: holiday satisfied, rework basically satisfied, extended not satisfied = 1.
#: Overdue: late (handled after its deadline) and open (due 23 Oct, still open); of these
#: only open was supervised (26 Oct) = 1 (extended was supervised but handled on time).
#: Every 东湖 case lies in the inspector's grid: 网格立案数 = 立案数 = 8; all came by the
#: hotline, so all but the voided one are 漏报 = 7.
EAST = {
    "reported": 10, "registered": 8, "voided": 1, "accurate_registered": 7, "registered_on_time": 8, "public_verified": 8,
    "inspector_reported": 0, "closed": 6, "closed_on_time": 5, "due_open": 1, "due_closure": 7,
    "handled": 6, "handled_on_time": 5, "handled_late": 1, "due_unhandled": 1, "due_handling": 7,
    "overdue": 2, "rework": 1, "verified": 0, "due_verification": 0, "checked": 6, "checked_on_time": 6,
    "due_check": 6, "dispatched": 9, "misdispatched": 1, "accurate_dispatched": 8, "dispatch_done": 8,
    "dispatched_on_time": 8, "due_dispatch": 8, "revisited": 3, "rated": 3, "satisfied": 2, "merged": 1,
    "not_satisfied": 1, "supervised_overdue": 1, "grid_registered": 8, "missed_reports": 7,
}  # fmt: skip
#: 西山街道: one case, dispatched 9 Oct, due Sat 10 Oct (an adjusted working day), still open;
#: supervised only on 2 Nov, after October (no 督办超期); its grid has no inspector (no 漏报).
WEST = dict.fromkeys(EAST, 0) | {
    "reported": 1, "registered": 1, "accurate_registered": 1, "registered_on_time": 1, "public_verified": 1, "due_open": 1,
    "due_closure": 1, "due_unhandled": 1, "due_handling": 1, "overdue": 1, "dispatched": 1,
    "accurate_dispatched": 1, "dispatch_done": 1, "dispatched_on_time": 1, "due_dispatch": 1,
}  # fmt: skip


@pytest.fixture
def history(session: Session, world: World, rules: CentreRules) -> dict[str, Case]:
    return build_history(session, world, rules)


def figures(table: statistics.StatisticsTable, row: str | None = None) -> dict[str, object]:
    """{indicator: value} of the row with ``row`` as key (the total if None)."""
    found = table.total if row is None else next(r for r in table.rows if r.group.key == row)
    return {key: cell.value for key, cell in found.values.items()}


def test_the_facts_carry_the_deadline_in_force(world: World, history: dict[str, Case]) -> None:
    for name, deadline in DEADLINES.items():
        assert history[name].handle_deadline_at == deadline, name
    assert history["parked"].suspended_at == at(10, 9, 10)
    assert history["rework"].rework_count == 2 and history["redispatched"].rejection_count == 1
    assert history["redispatched"].dispatched_at == at(10, 26, 10)
    assert history["voided"].voided_at == at(10, 9, 9, 30) and history["voided"].handle_deadline_at is None
    assert (history["extended"].supervised_at, history["open"].supervised_at) == (
        at(10, 13, 10),
        at(10, 26, 10),
    )
    assert history["late"].supervised_at is None and history["west"].supervised_at == at(11, 2, 9)
    assert (
        history["open"].inspector_id == world.users["inspector"].id and history["west"].inspector_id is None
    )


def test_each_count_on_the_hand_built_history(
    session: Session, world: World, history: dict[str, Case]
) -> None:
    table = statistics.table(session, world.users["leader"], Query(OCTOBER, GroupBy.STREET, EVERY), LATER)
    assert figures(table, "T0101") == EAST
    assert figures(table, "T0102") == WEST
    # The streets add up to the district.
    assert figures(table) == {key: EAST[key] + WEST[key] for key in EAST}
    district = statistics.table(
        session, world.users["leader"], Query(OCTOBER, GroupBy.DISTRICT, EVERY), LATER
    )
    assert figures(district, "T01") == figures(table)


def test_rates_carry_their_parts_and_a_zero_denominator_is_a_dash(
    session: Session, world: World, history: dict[str, Case]
) -> None:
    rates = [
        "closure_rate",
        "on_time_closure_rate",
        "rework_rate",
        "on_time_verification_rate",
        "satisfaction_rate",
    ]
    query = Query(OCTOBER, GroupBy.NONE, rates, region_code="T0101")
    cells = statistics.table(session, world.users["supervisor"], query, LATER).total.values
    assert (cells["closure_rate"].numerator, cells["closure_rate"].denominator) == (6, 7)
    assert cells["closure_rate"].display == "85.71%"
    assert (cells["on_time_closure_rate"].numerator, cells["on_time_closure_rate"].denominator) == (5, 7)
    assert (cells["rework_rate"].numerator, cells["rework_rate"].denominator) == (1, 6)
    assert (cells["satisfaction_rate"].numerator, cells["satisfaction_rate"].denominator) == (2, 3)
    verification = cells["on_time_verification_rate"]
    assert (verification.value, verification.denominator, verification.display) == (None, 0, "—")


def test_a_street_sees_its_own_figures_and_departments_only(
    session: Session, world: World, history: dict[str, Case]
) -> None:
    query = Query(OCTOBER, GroupBy.DEPARTMENT, ["closed", "due_closure", "reported"])
    east = statistics.table(session, world.users["supervisor"], query, LATER)
    assert [row.group.key for row in east.rows] == ["D-SZ-E", "none"]
    assert figures(east, "D-SZ-E") == {"closed": 6, "due_closure": 7, "reported": 8}
    assert figures(east, "none") == {"closed": 0, "due_closure": 0, "reported": 2}
    west = statistics.table(session, world.users["dispatcher_west"], query, LATER)
    assert [row.group.key for row in west.rows] == ["D-CG-W"]
    with pytest.raises(RoleNotAllowed, match="outside your scope"):
        statistics.table(
            session, world.users["supervisor"], Query(OCTOBER, GroupBy.NONE, ["closed"], "T0102"), LATER
        )
    with pytest.raises(RoleNotAllowed, match="staff"):
        statistics.table(session, world.users["citizen"], query, LATER)


def test_the_cases_behind_a_figure(session: Session, world: World, history: dict[str, Case]) -> None:
    leader = world.users["leader"]
    query = Query(OCTOBER, GroupBy.STREET, ["on_time_closure_rate"])

    def behind(indicator: str, part: str | None, group: str | None) -> set[str]:
        cases = session.scalars(statistics.trace(session, leader, query, indicator, part, group, LATER))
        return {next(name for name, c in history.items() if c.id == case.id) for case in cases}

    closed = {"holiday", "paused", "extended", "rework", "redispatched"}
    assert behind("on_time_closure_rate", "numerator", "T0101") == closed
    assert behind("on_time_closure_rate", "denominator", "T0101") == {*closed, "late", "open"}
    assert behind("on_time_closure_rate", "denominator", None) == {*closed, "late", "open", "west"}
    assert behind("due_open", None, "T0102") == {"west"}
    assert behind("not_satisfied", None, None) == {"extended"}
    assert behind("supervised_overdue", None, None) == {"open"}
    assert behind("overdue", None, None) == {"late", "open", "west"}
    inspector = Query(OCTOBER, GroupBy.INSPECTOR, ["missed_report_rate"])
    missed = statistics.trace(
        session, leader, inspector, "missed_report_rate", "numerator", "inspector", LATER
    )
    assert {c.id for c in session.scalars(missed)} == {
        history[name].id
        for name in ("paused", "extended", "rework", "late", "open", "redispatched", "next_month")
    }
    registered = statistics.trace(
        session, leader, inspector, "missed_report_rate", "denominator", "none", LATER
    )
    assert [c.id for c in session.scalars(registered)] == []
    dispatcher = Query(OCTOBER, GroupBy.DISPATCHER, ["misdispatched"])
    cases = statistics.trace(session, leader, dispatcher, "misdispatched", None, "dispatcher", LATER)
    assert [c.id for c in session.scalars(cases)] == [history["redispatched"].id]
    with pytest.raises(InvalidInput, match="is a rate"):
        statistics.trace(session, leader, query, "closure_rate", None, None, LATER)
    with pytest.raises(InvalidInput, match="is a count"):
        statistics.trace(session, leader, query, "closed", "numerator", None, LATER)


def test_groupings(session: Session, world: World, history: dict[str, Case]) -> None:
    leader = world.users["leader"]

    def table(group_by: GroupBy, keys: list[str]) -> dict[str | None, dict[str, object]]:
        found = statistics.table(session, leader, Query(OCTOBER, group_by, keys), LATER)
        return {row.group.key: figures(found, row.group.key) for row in found.rows}

    assert table(GroupBy.DISPATCHER, ["dispatched", "misdispatched"]) == {
        "dispatcher": {"dispatched": 9, "misdispatched": 1},
        "dispatcher_west": {"dispatched": 1, "misdispatched": 0},
    }
    assert table(GroupBy.OPERATOR, ["registered"]) == {
        "operator": {"registered": 8},
        "operator_west": {"registered": 1},
    }
    assert table(GroupBy.BIG_CATEGORY, ["reported"]) == {"C01": {"reported": 11}}
    assert table(GroupBy.CATEGORY, ["reported"]) == {"C0101": {"reported": 11}}
    assert table(GroupBy.CHANNEL, ["reported"]) == {"hotline_12345": {"reported": 11}}
    assert table(GroupBy.REQUEST_TYPE, ["reported"]) == {"none": {"reported": 11}}
    assert table(GroupBy.GRID, ["reported"]) == {
        "T010101-01": {"reported": 10},
        "T010201-01": {"reported": 1},
    }
    assert table(GroupBy.COMMUNITY, ["reported"]) == {"T010101": {"reported": 10}, "T010201": {"reported": 1}}
    with pytest.raises(InvalidInput, match="not counted per dispatcher"):
        table(GroupBy.DISPATCHER, ["closed"])
    with pytest.raises(InvalidInput, match="unknown indicator"):
        table(GroupBy.NONE, ["closure", "closed"])


def test_a_monthly_trend(session: Session, world: World, history: dict[str, Case]) -> None:
    quarter = Period.containing(PeriodKind.QUARTER, date(2026, 11, 1), SH)
    trend = statistics.table(
        session, world.users["leader"], Query(quarter, GroupBy.MONTH, ["closed", "due_closure"]), LATER
    )
    assert [row.group.key for row in trend.rows] == ["2026-10", "2026-11", "2026-12"]
    assert figures(trend, "2026-10") == {"closed": 6, "due_closure": 8}
    # next_month fell due on 2 Nov and is still open on 15 Nov; December has not begun.
    assert figures(trend, "2026-11") == {"closed": 0, "due_closure": 1}
    # next_month, supervised on 3 Nov, is November's 督办超期; west, supervised on 2 Nov, fell
    # due in October and so is overdue in no month whose end follows its supervision.
    supervised = Query(quarter, GroupBy.MONTH, ["overdue", "supervised_overdue"])
    supervised_trend = statistics.table(session, world.users["leader"], supervised, LATER)
    assert figures(supervised_trend, "2026-10") == {"overdue": 3, "supervised_overdue": 1}
    assert figures(supervised_trend, "2026-11") == {"overdue": 1, "supervised_overdue": 1}
    assert figures(trend, "2026-12") == {"closed": 0, "due_closure": 0}
    september = Query(quarter, GroupBy.MONTH, ["closed"])
    cases = statistics.trace(session, world.users["leader"], september, "closed", None, "2026-10", LATER)
    assert len(session.scalars(cases).all()) == 6
    with pytest.raises(InvalidInput, match="not in the period"):
        statistics.trace(session, world.users["leader"], september, "closed", None, "2026-09", LATER)


@pytest.mark.parametrize(
    ("group_by", "group", "expected"),
    [
        (GroupBy.GRID, "T010201-01", 1),
        (GroupBy.GRID, "none", 0),
        (GroupBy.DEPARTMENT, "D-SZ-E", 8),
        (GroupBy.DEPARTMENT, "none", 2),
        (GroupBy.CATEGORY, "C0101", 11),
        (GroupBy.BIG_CATEGORY, "C01", 11),
        (GroupBy.CHANNEL, "hotline_12345", 11),
        (GroupBy.REQUEST_TYPE, "none", 11),
        (GroupBy.REQUEST_TYPE, "complaint", 0),
        (GroupBy.OPERATOR, "operator_west", 1),
        (GroupBy.OPERATOR, "none", 0),
        (GroupBy.COMMUNITY, "T010101", 10),
        (GroupBy.NONE, None, 11),
    ],
)
def test_each_row_of_each_grouping_opens(
    session: Session,
    world: World,
    history: dict[str, Case],
    group_by: GroupBy,
    group: str | None,
    expected: int,
) -> None:
    leader = world.users["leader"]
    table = statistics.table(session, leader, Query(OCTOBER, group_by, ["reported"]), LATER)
    row = table.total if group is None else next((r for r in table.rows if r.group.key == group), None)
    assert (row.values["reported"].value if row else 0) == expected
    cases = statistics.trace(
        session, leader, Query(OCTOBER, group_by, ["reported"]), "reported", None, group, LATER
    )
    assert len(session.scalars(cases).all()) == expected


@pytest.mark.parametrize(
    ("group_by", "group", "message"),
    [
        (GroupBy.STREET, "none", "cannot be opened"),
        (GroupBy.STREET, "T010101", "is not a street"),
        (GroupBy.CHANNEL, "pigeon", "unknown Channel 'pigeon'"),
        (GroupBy.OPERATOR, "nobody", "unknown user 'nobody'"),
        (GroupBy.GRID, "G-404", "unknown grid code 'G-404'"),
    ],
)
def test_a_row_that_does_not_exist_is_refused(
    session: Session, world: World, group_by: GroupBy, group: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        statistics.trace(
            session,
            world.users["leader"],
            Query(OCTOBER, group_by, ["reported"]),
            "reported",
            None,
            group,
            LATER,
        )


def test_periods() -> None:
    day = date(2026, 10, 14)
    assert Period.containing(PeriodKind.DAY, day, SH).label == "2026-10-14"
    week = Period.containing(PeriodKind.WEEK, day, SH)
    assert (week.start, week.end, week.label) == (at(10, 12, 0), at(10, 19, 0), "2026年第42周")
    quarter = Period.containing(PeriodKind.QUARTER, day, SH)
    assert (quarter.start, quarter.end, quarter.label) == (
        at(10, 1, 0),
        datetime(2027, 1, 1, tzinfo=SH),
        "2026年第4季度",
    )
    year = Period.containing(PeriodKind.YEAR, day, SH)
    assert [month.label for month in year.months()][::11] == ["2026年1月", "2026年12月"]
    span = Period.between(date(2026, 10, 20), date(2026, 11, 3), SH)
    assert [(m.start, m.end) for m in span.months()] == [
        (at(10, 20, 0), at(11, 1, 0)),
        (at(11, 1, 0), at(11, 4, 0)),
    ]
    with pytest.raises(InvalidInput, match="ends"):
        Period.between(date(2026, 10, 20), date(2026, 10, 19), SH)


def test_a_table_costs_the_same_few_statements_however_many_cases(
    session: Session, world: World, history: dict[str, Case]
) -> None:
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        query = Query(
            OCTOBER,
            GroupBy.DEPARTMENT,
            ["registered", "closure_rate", "rework_rate", "accurate_dispatch_rate"],
        )
        statistics.table(session, world.users["leader"], query, LATER)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # One GROUP BY over the cases, one over the dispatch events, one for the departments' names.
    assert len(sent) == 3, sent
    assert all("GROUP BY" in statement for statement in sent[:2])


def without_zeros(table: StatisticsTable) -> list[StatisticsRow]:
    """The rows of ``table`` with any count or any part of a rate not zero."""
    return [
        row
        for row in table.rows
        if any(cell.value or cell.numerator or cell.denominator for cell in row.values.values())
    ]


def test_several_groupings_of_one_period_in_one_reading_equal_their_tables(
    session: Session, world: World, history: dict[str, Case]
) -> None:
    leader = world.users["leader"]
    case_counts = [key for key in EVERY if key not in ("dispatched", "misdispatched", "accurate_dispatched")]
    groupings = {
        GroupBy.NONE: case_counts,
        GroupBy.CHANNEL: ["reported", "closure_rate"],
        GroupBy.CATEGORY: ["reported"],
        GroupBy.BIG_CATEGORY: ["closed", "satisfaction_rate"],
        GroupBy.DEPARTMENT: ["due_handling", "handled_on_time", "on_time_handling_rate", "overdue"],
        GroupBy.STREET: ["registered", "rework_rate"],
        GroupBy.GRID: ["reported", "due_open"],
    }
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    engine = session.get_bind().engine
    for region_code in (None, "T0101"):
        sent.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            together = statistics.tables(session, leader, OCTOBER, groupings, LATER, region_code)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert sum("GROUP BY" in statement for statement in sent) == 1, sent
        for group_by, keys in groupings.items():
            alone = statistics.table(session, leader, Query(OCTOBER, group_by, keys, region_code), LATER)
            # The one reading may add a group none of whose counts happened (a row of zeros).
            assert together[group_by].total == alone.total, group_by
            assert without_zeros(together[group_by]) == without_zeros(alone), group_by
    assert figures(together[GroupBy.NONE])["reported"] == EAST["reported"]

    with pytest.raises(InvalidInput, match="cannot be counted together: day, inspector"):
        statistics.tables(
            session, leader, OCTOBER, {GroupBy.DAY: ["reported"], GroupBy.INSPECTOR: ["checked"]}, LATER
        )
    with pytest.raises(InvalidInput, match="counts of events cannot be grouped together: dispatched"):
        statistics.tables(session, leader, OCTOBER, {GroupBy.CHANNEL: ["dispatched"]}, LATER)


def test_verification_by_inspectors(session: Session, world: World, rules: CentreRules) -> None:
    """Three patrol reports on Tue 1 Dec 09:00 (C0101: verify within 1 h): one verified at 09:30
    and registered, one verified late at 11:00, one never verified (due at 10:00)."""
    reported = at(12, 1, 9)
    cases = [
        new_case(session, world, rules, reported, actor="inspector", channel="inspector") for _ in range(3)
    ]
    act(session, world, rules, cases[0], "inspector", "verify", at(12, 1, 9, 30))
    act(session, world, rules, cases[0], "operator", "register", at(12, 1, 9, 40))
    act(session, world, rules, cases[1], "inspector", "verify", at(12, 1, 11))
    assert (cases[0].verified_at, cases[0].verify_deadline_at) == (at(12, 1, 9, 30), at(12, 1, 10))
    assert cases[0].verified_by_id == world.users["inspector"].id
    assert (cases[0].registered_at, cases[0].register_deadline_at) == (at(12, 1, 9, 40), at(12, 1, 10))
    assert (cases[1].verified_at, cases[1].verify_deadline_at) == (at(12, 1, 11), at(12, 1, 10))
    assert (cases[2].verified_at, cases[2].verify_deadline_at) == (None, at(12, 1, 10))
    december = Period.containing(PeriodKind.MONTH, date(2026, 12, 1), SH)
    keys = [
        "inspector_reported",
        "valid_inspector_reports",
        "verified",
        "verified_on_time",
        "due_verification",
    ]
    table = statistics.table(
        session, world.users["leader"], Query(december, GroupBy.INSPECTOR, keys), at(12, 31, 12)
    )
    assert figures(table, "inspector") == {
        "inspector_reported": 3, "valid_inspector_reports": 1, "verified": 2, "verified_on_time": 1,
        "due_verification": 2,
    }  # fmt: skip
    # The unverified one is due but nobody's yet: the row of cases without an inspector.
    assert figures(table, "none")["due_verification"] == 1


def test_a_daily_trend_adds_up_to_the_month(session: Session, world: World, history: dict[str, Case]) -> None:
    leader = world.users["leader"]
    additive = ["reported", "registered", "closed", "handled", "dispatched"]
    daily = statistics.table(session, leader, Query(OCTOBER, GroupBy.DAY, additive), LATER)
    assert len(daily.rows) == 31 and daily.group_label == "日期"
    assert (daily.rows[0].group.key, daily.rows[0].group.label) == ("2026-10-01", "2026-10-01")
    assert daily.rows[-1].group.key == "2026-10-31"
    monthly = statistics.table(session, leader, Query(OCTOBER, GroupBy.NONE, additive), LATER)
    assert figures(daily) == figures(monthly)
    for key in additive:
        assert sum(figures(daily, row.group.key)[key] for row in daily.rows) == figures(monthly)[key], key  # type: ignore[misc]
    # The cases behind one day's figure are that day's.
    busiest = max(daily.rows, key=lambda row: row.values["reported"].value or 0)
    behind = statistics.trace(
        session, leader, Query(OCTOBER, GroupBy.DAY, ["reported"]), "reported", None, busiest.group.key, LATER
    )
    assert len(session.scalars(behind).all()) == busiest.values["reported"].value
    with pytest.raises(InvalidInput, match="not in the period"):
        statistics.trace(
            session, leader, Query(OCTOBER, GroupBy.DAY, ["reported"]), "reported", None, "2026-11-01", LATER
        )


def test_days_cut_a_period_and_are_bounded() -> None:
    span = Period(at(10, 20, 12), at(10, 22, 6), "x")
    assert [(d.start, d.end, d.label) for d in span.days()] == [
        (at(10, 20, 12), at(10, 21, 0), "2026-10-20"),
        (at(10, 21, 0), at(10, 22, 0), "2026-10-21"),
        (at(10, 22, 0), at(10, 22, 6), "2026-10-22"),
    ]
    assert len(Period.between(date(2026, 1, 1), date(2026, 4, 2), SH).days()) == 92
    with pytest.raises(InvalidInput, match="at most 92 days"):
        Period.between(date(2026, 1, 1), date(2026, 4, 3), SH).days()


def test_a_table_narrowed_to_a_grid_is_that_grids_row(
    session: Session, world: World, history: dict[str, Case]
) -> None:
    supervisor = world.users["supervisor"]
    by_grid = statistics.table(
        session, supervisor, Query(OCTOBER, GroupBy.GRID, ["reported", "closed"]), LATER
    )
    narrowed = statistics.table(
        session,
        supervisor,
        Query(OCTOBER, GroupBy.NONE, ["reported", "closed"], grid_code="T010101-01"),
        LATER,
    )
    assert figures(narrowed) == figures(by_grid, "T010101-01") and figures(narrowed)["reported"]
    with pytest.raises(RoleNotAllowed, match="T010201-01"):
        statistics.table(
            session, supervisor, Query(OCTOBER, GroupBy.NONE, ["reported"], grid_code="T010201-01"), LATER
        )


def test_missed_reports_per_inspector_and_their_ranking(
    session: Session, world: World, rules: CentreRules
) -> None:
    """西山's grid gets an inspector too: its one October case came by the hotline, so it is
    that inspector's 漏报 (1 of 1). The 东湖 inspector missed 7 of 8 (the voided one is no
    problem) and checked all 6 handled cases in time."""
    west = user(session, "inspector_west", Role.INSPECTOR, region=world.regions["west"])
    session.add(GridStaff(grid=world.grids["g3"], user=west, duty=GridDuty.INSPECTOR))
    session.flush()
    build_history(session, world, rules)
    leader = world.users["leader"]
    keys = ["grid_registered", "missed_reports", "missed_report_rate", "checked_on_time", "due_check"]
    table = statistics.table(session, leader, Query(OCTOBER, GroupBy.INSPECTOR, keys), LATER)
    assert figures(table, "inspector") == {
        "grid_registered": 8, "missed_reports": 7, "missed_report_rate": 0.875, "checked_on_time": 6, "due_check": 6
    }  # fmt: skip
    assert figures(table, "inspector_west") == {
        "grid_registered": 1, "missed_reports": 1, "missed_report_rate": 1.0, "checked_on_time": 0, "due_check": 0
    }  # fmt: skip

    ranked = evaluation.ranking(
        session, leader, load_scheme(default_scheme_path()), "inspector", OCTOBER, LATER
    )
    # 东湖: 有效上报率 and 按时核实率 are "—" (no patrol reports): (1 − 7/8) × 100 = 12.5 for 漏报率
    # and 100 for 按时核查率, weighted 20 : 20 → 56.25. 西山: 漏报率 100 % alone → 0. The
    # operators, whose reports put them in the table's rows, are no inspectors: not ranked.
    assert [(r.rank, r.group.key, r.value, r.grade) for r in ranked.rows] == [
        (1, "inspector", 56.25, "D"),
        (2, "inspector_west", 0.0, "E"),
    ]
    assert [item.figure for item in ranked.rows[0].items] == ["—", "87.50%", "—", "100.00%"]
    assert [item.points for item in ranked.rows[0].items] == [0.0, 6.25, 0.0, 50.0]


def test_a_quarters_volume_is_scored_against_three_months_of_the_monthly_table(
    session: Session, world: World, history: dict[str, Case]
) -> None:
    """The dispatcher made 9 dispatches in October and none after: 9 in October, and 9 in the
    fourth quarter, 3 a month."""
    data = tomllib.loads(default_scheme_path().read_text(encoding="utf-8"))
    data["dispatcher"]["items"][0]["steps"] = [
        {"from": 0, "to": 3, "score": 60},
        {"from": 4, "to": 8, "score": 75},
        {"from": 9, "score": 100},
    ]
    scheme = parse_scheme(data)
    quarter = Period.containing(PeriodKind.QUARTER, date(2026, 10, 1), SH)

    def volume(period: Period) -> tuple[str, float | None]:
        ranked = evaluation.ranking(session, world.users["leader"], scheme, "dispatcher", period, LATER)
        line = next(r for r in ranked.rows if r.group.key == "dispatcher").items[0]
        return line.figure, line.score

    assert volume(OCTOBER) == ("9", 100)
    # The quarter's bounds are 0–9, 10–24, 25 and more: 9 scores as a month's 3 does.
    assert volume(quarter) == ("9(3个月)", 60)
