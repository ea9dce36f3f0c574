"""The centre's loaded calendar on a real store (SQLite and PostgreSQL): a year's arrangement
is checked, stored, and moves the deadlines of open cases; who may load it.

The 2027 days below are made up for testing (测试假日): no 2027 arrangement is published yet.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicgrid.calendar_file import YearArrangement, format_calendar
from civicgrid.domain.calendar import ArrangedDay, official_arrangement
from civicgrid.domain.errors import InvalidInput, RoleNotAllowed
from civicgrid.domain.vocabulary import Stage
from civicgrid.services import calendar as calendar_service
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.models import CalendarDay, Case, CaseEvent
from tests.conftest import SHANGHAI
from tests.factories import World, act, new_case

TEST_2027 = YearArrangement(
    2027,
    (
        ArrangedDay(date(2027, 1, 1), False, "测试假日"),
        ArrangedDay(date(2027, 1, 4), False, "测试假日"),
        ArrangedDay(date(2027, 1, 9), True, "测试调休"),
    ),
)
NEW_YEARS_EVE = datetime(2026, 12, 31, 16, tzinfo=SHANGHAI)


def dispatched(session: Session, world: World, rules: CentreRules, now: datetime) -> Case:
    """A manhole-cover case (1 working day to handle) dispatched at ``now``."""
    case = new_case(session, world, rules, now)
    act(session, world, rules, case, "operator", "register", now)
    return act(session, world, rules, case, "dispatcher", "dispatch", now, department_code="D-SZ-E")


def stored(session: Session) -> list[tuple[date, bool, str, str]]:
    session.expire_all()
    rows = session.scalars(select(CalendarDay).order_by(CalendarDay.day))
    return [(row.day, row.is_workday, row.name, row.loaded_by) for row in rows]


def test_a_2027_deadline_moves_when_the_2027_arrangement_arrives(
    session: Session, world: World, rules: CentreRules, settings: Settings
) -> None:
    case = dispatched(session, world, rules, NEW_YEARS_EVE)
    # Thu 16:00: 1.5 h left that day, then 6 h of Fri 2027-01-01, unknown so far: a workday.
    assert case.stage is Stage.HANDLE
    assert case.deadline_at == datetime(2027, 1, 1, 16, tzinfo=SHANGHAI)
    closed = dispatched(session, world, rules, NEW_YEARS_EVE)
    for actor, action in (("handler_sz", "accept"), ("handler_sz", "handle"), ("inspector", "check")):
        closed = act(session, world, rules, closed, actor, action, NEW_YEARS_EVE + timedelta(minutes=5))
    session.commit()
    events = session.scalar(select(func.count()).select_from(CaseEvent))
    version = case.version

    result = calendar_service.store_year(session, TEST_2027, settings, NEW_YEARS_EVE, loaded_by="admin")

    assert (result.year, result.days, result.replaced) == (2027, 3, False)
    assert (result.recomputed, result.changed) == (1, 1)  # the checked case runs no clock
    session.expire_all()
    moved = session.get(Case, case.id)
    assert moved is not None
    # 2027-01-01 is now a holiday and 01-02, 01-03 a weekend, 01-04 a holiday: Tue 01-05 16:00.
    assert moved.deadline_at == datetime(2027, 1, 5, 16, tzinfo=SHANGHAI)
    assert moved.handle_deadline_at == moved.deadline_at  # the statistics follow the clock
    assert moved.warning_at == calendar_service.centre_rules(session, settings).calendar.add_working_seconds(
        NEW_YEARS_EVE, 0.8 * 27000
    )
    assert moved.version == version + 1
    assert session.scalar(select(func.count()).select_from(CaseEvent)) == events  # no event written
    assert result.status.known_through == date(2027, 12, 31)
    assert stored(session) == [(d.day, d.working, d.name, "admin") for d in TEST_2027.days]


def test_loading_a_year_again_replaces_it(session: Session, world: World, settings: Settings) -> None:
    calendar_service.store_year(session, TEST_2027, settings, NEW_YEARS_EVE, loaded_by="admin")
    smaller = YearArrangement(2027, (ArrangedDay(date(2027, 2, 8), False, "测试春节"),))
    result = calendar_service.store_year(session, smaller, settings, NEW_YEARS_EVE + timedelta(1), "王管理员")
    assert result.replaced and result.days == 1
    assert stored(session) == [(date(2027, 2, 8), False, "测试春节", "王管理员")]
    calendar = calendar_service.centre_calendar(session, settings)
    assert calendar.is_workday(date(2027, 1, 4)) and not calendar.is_workday(date(2027, 2, 8))


def test_a_disagreement_with_the_package_is_refused_naming_the_days(
    session: Session, world: World, rules: CentreRules, settings: Settings
) -> None:
    official = official_arrangement(2026)
    assert official is not None
    case = dispatched(session, world, rules, datetime(2026, 9, 30, 16, tzinfo=SHANGHAI))
    session.commit()
    deadline = case.deadline_at
    # National Day a day later than the State Council has it.
    shifted = [d for d in official if d.day != date(2026, 10, 1)] + [
        ArrangedDay(date(2026, 10, 8), False, "国庆节")
    ]
    with pytest.raises(InvalidInput, match="disagrees with the chinesecalendar package") as refusal:
        calendar_service.store_year(
            session, YearArrangement(2026, tuple(shifted)), settings, NEW_YEARS_EVE, "admin"
        )
    assert "2026-10-01, 2026-10-08" in refusal.value.detail
    session.rollback()
    assert stored(session) == []
    assert session.get(Case, case.id).deadline_at == deadline  # type: ignore[union-attr]
    # The package's own arrangement agrees, and changes no deadline.
    result = calendar_service.store_year(
        session, YearArrangement(2026, tuple(official)), settings, NEW_YEARS_EVE, "a"
    )
    assert (result.recomputed, result.changed) == (1, 0)


def test_open_cases_are_recomputed_in_batches(
    session: Session, world: World, rules: CentreRules, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calendar_service, "BATCH_SIZE", 2)
    cases = [dispatched(session, world, rules, NEW_YEARS_EVE - timedelta(minutes=n)) for n in range(5)]
    new_case(session, world, rules, NEW_YEARS_EVE)  # reported: its 1-hour verify clock is natural time
    result = calendar_service.store_year(session, TEST_2027, settings, NEW_YEARS_EVE, loaded_by="admin")
    assert (result.recomputed, result.changed) == (6, 5)
    session.expire_all()
    assert {session.get(Case, case.id).deadline_at.date() for case in cases} == {date(2027, 1, 5)}  # type: ignore[union-attr]


def test_only_an_admin_of_the_whole_centre_loads_a_year(
    session: Session, world: World, settings: Settings
) -> None:
    street_admin = world.users["admin_east"]
    session.flush()
    text = format_calendar(TEST_2027.days)
    for actor in (street_admin, world.users["leader"], world.users["dispatcher"], world.users["citizen"]):
        with pytest.raises(RoleNotAllowed, match="only an admin of the whole centre"):
            calendar_service.load_year(session, actor, 2027, text, settings, NEW_YEARS_EVE)
    result = calendar_service.load_year(session, world.users["admin"], 2027, text, settings, NEW_YEARS_EVE)
    assert result.days == 3 and stored(session)[0][3] == "admin"


def test_a_bad_file_or_the_wrong_year_is_refused(session: Session, world: World, settings: Settings) -> None:
    admin = world.users["admin"]
    with pytest.raises(InvalidInput, match="line 3: type 'off'"):
        calendar_service.load_year(
            session,
            admin,
            2027,
            "date,type,name\n2027-01-01,holiday,x\n2027-01-04,off,y\n",
            settings,
            NEW_YEARS_EVE,
        )
    with pytest.raises(InvalidInput, match="the file lists days of 2027, not of 2028"):
        calendar_service.load_year(
            session, admin, 2028, format_calendar(TEST_2027.days), settings, NEW_YEARS_EVE
        )
    assert stored(session) == []


def test_a_years_arrangement_is_the_loaded_one_else_the_packages(
    session: Session, world: World, settings: Settings
) -> None:
    assert calendar_service.year_arrangement(session, 2027) is None
    assert calendar_service.year_arrangement(session, 2026) == official_arrangement(2026)
    calendar_service.store_year(session, TEST_2027, settings, NEW_YEARS_EVE, loaded_by="admin")
    assert calendar_service.year_arrangement(session, 2027) == list(TEST_2027.days)


def test_the_status_lists_the_years_and_warns_before_the_calendar_ends(
    session: Session, world: World, settings: Settings
) -> None:
    quiet = calendar_service.calendar_status(session, settings, date(2026, 10, 31))  # 61 days left
    assert quiet.known_years == list(range(2004, 2027)) and quiet.loaded == []
    assert quiet.known_through == date(2026, 12, 31) and quiet.warning is None
    warned = calendar_service.calendar_status(session, settings, date(2026, 11, 1))  # 60 days left
    assert warned.warning is not None
    assert warned.warning.startswith(
        "the working calendar knows holidays and adjusted workdays (调休) only until 2026-12-31 (60 days from now)"
    )
    assert "deadlines in 2027 count Monday to Friday only" in warned.warning
    assert "civicgrid import-calendar FILE" in warned.warning and "export-calendar 2026" in warned.warning
    assert "pip" not in warned.warning
    lost = calendar_service.calendar_status(session, settings, date(2027, 1, 2))
    assert lost.known_through is None and lost.warning is not None
    assert lost.warning.startswith(
        "the working calendar knows no holidays or adjusted workdays (调休) for 2027"
    )
    calendar_service.store_year(session, TEST_2027, settings, NEW_YEARS_EVE, loaded_by="admin")
    loaded = calendar_service.calendar_status(session, settings, date(2026, 12, 1))
    assert loaded.known_years[-2:] == [2026, 2027] and loaded.known_through == date(2027, 12, 31)
    assert [(y.year, y.days, y.loaded_by) for y in loaded.loaded] == [(2027, 3, "admin")]
    assert loaded.warning is None
    assert calendar_service.calendar_status(session, settings, date(2027, 11, 30)).warning is not None
