"""Stage time limits: how a centre writes them, and how they run on the calendar.

2026 facts used: National Day 10-01 (Thu) to 10-07 (Wed) off, Saturday 10-10 an adjusted
workday; default working periods 08:30-12:00 and 13:30-17:30 (27000 s a day).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from civicgrid.domain.calendar import WorkCalendar
from civicgrid.domain.limits import LimitUnit, TimeLimit, parse_limit

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar()


@pytest.mark.parametrize(
    ("text", "normal", "working", "seconds"),
    [
        ("30min", "30min", False, 1800),
        ("2h", "2h", False, 7200),
        ("1.5h", "1.5h", False, 5400),
        ("4wh", "4wh", True, 14400),
        ("3wd", "3wd", True, 81000),  # 3 x 27000
        ("0.5wd", "0.5wd", True, 13500),
        ("  2H ", "2h", False, 7200),
        ("1.50 h", "1.5h", False, 5400),
        ("90MIN", "90min", False, 5400),
        ("10wd", "10wd", True, 270000),
    ],
)
def test_parse_limit_good_forms(
    calendar: WorkCalendar, text: str, normal: str, working: bool, seconds: int
) -> None:
    limit = parse_limit(text)
    assert limit.text == normal
    assert str(limit) == normal
    assert limit.working is working
    assert limit.total_seconds(calendar) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "   ", "0h", "0.0wd", "-1h", "2d", "2", "h", "1,5h", "2 hours", ".5h", "1e3min", "2h30min", "三天"],
)
def test_parse_limit_bad_forms(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_limit(text)
    message = str(raised.value)
    assert repr(text) in message
    for form in ("min", "h", "wh", "wd"):
        assert form in message


def test_equal_limits_are_equal() -> None:
    assert parse_limit("1.5h") == parse_limit("1.50h") == TimeLimit(Decimal("1.5"), LimitUnit.HOUR)
    assert parse_limit("2h") != parse_limit("2wh")


def test_the_constructor_refuses_a_non_positive_amount() -> None:
    with pytest.raises(ValueError, match="positive"):
        TimeLimit(Decimal(0), LimitUnit.HOUR)


def test_chinese_label() -> None:
    assert parse_limit("3wd").label == "3工作日"
    assert parse_limit("1.5h").label == "1.5小时"


def test_a_working_day_lasts_as_long_as_the_calendars_day() -> None:
    eight_hours = WorkCalendar.from_text("09:00-17:00")
    assert parse_limit("1wd").total_seconds(eight_hours) == 28800


# --- advance and measure -------------------------------------------------------------------


def test_natural_time_runs_through_holidays_and_nights(calendar: WorkCalendar) -> None:
    limit = parse_limit("2h")
    # Thu 10-01 is National Day, but natural time runs: 23:00 + 2 h -> 10-02 01:00.
    assert limit.advance(calendar, at(2026, 10, 1, 23), 7200) == at(2026, 10, 2, 1)
    assert limit.measure(calendar, at(2026, 10, 1, 23), at(2026, 10, 2, 1)) == 7200
    assert limit.measure(calendar, at(2026, 10, 2, 1), at(2026, 10, 1, 23)) == 0


def test_natural_time_result_is_in_the_calendars_timezone(calendar: WorkCalendar) -> None:
    # 00:00 UTC + 30 min = 08:30 Shanghai.
    result = parse_limit("30min").advance(calendar, datetime(2026, 9, 21, tzinfo=UTC), 1800)
    assert result == at(2026, 9, 21, 8, 30)
    assert result.tzinfo == SHANGHAI


def test_working_hours_skip_the_national_day_week(calendar: WorkCalendar) -> None:
    limit = parse_limit("4wh")
    # Wed 9-30 16:30: 1 h to 17:30; 10-01..10-07 off; Thu 10-08 08:30 + 3 h -> 11:30.
    deadline = limit.advance(calendar, at(2026, 9, 30, 16, 30), limit.total_seconds(calendar))
    assert deadline == at(2026, 10, 8, 11, 30)
    assert limit.measure(calendar, at(2026, 9, 30, 16, 30), deadline) == 14400


def test_working_days_reach_the_adjusted_saturday(calendar: WorkCalendar) -> None:
    limit = parse_limit("3wd")
    # 81000 s from Wed 9-30 16:30: 3600 on 9-30, 10-08 and 10-09 full (57600 in all), and
    # 23400 on Sat 10-10 (adjusted workday): morning 12600 + 10800 from 13:30 -> 16:30.
    deadline = limit.advance(calendar, at(2026, 9, 30, 16, 30), limit.total_seconds(calendar))
    assert deadline == at(2026, 10, 10, 16, 30)


def test_eighty_percent_warning_of_a_working_day(calendar: WorkCalendar) -> None:
    limit = parse_limit("1wd")
    # 0.8 x 27000 = 21600 = 6 h from Mon 9-21 08:30: 3.5 h to 12:00, 2.5 h from 13:30 -> 16:00.
    warning = limit.advance(calendar, at(2026, 9, 21, 8, 30), 0.8 * limit.total_seconds(calendar))
    assert warning == at(2026, 9, 21, 16)


def test_naive_datetimes_are_refused_in_natural_time_too(calendar: WorkCalendar) -> None:
    limit = parse_limit("2h")
    naive = datetime(2026, 9, 21, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        limit.advance(calendar, naive, 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        limit.measure(calendar, naive, at(2026, 9, 21, 10))


def test_negative_amounts_are_refused_in_natural_time(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="finite number"):
        parse_limit("2h").advance(calendar, at(2026, 9, 21, 9), -1)
