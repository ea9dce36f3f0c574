"""The working calendar: holidays, adjusted workdays (调休), working periods and the
arithmetic of working time.

2026 facts used below (State Council schedule, as held by chinesecalendar 1.11):
Mid-Autumn 9-25 (Fri) to 9-27 (Sun) off; National Day 10-01 (Thu) to 10-07 (Wed) off;
Sunday 9-20 and Saturday 10-10 are adjusted workdays. Default periods are
08:30-12:00 (3.5 h) and 13:30-17:30 (4 h): 7.5 h = 27000 s a day.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from civicgrid.domain import calendar as calendar_module
from civicgrid.domain.calendar import ArrangedDay, WorkCalendar, disagreements, official_arrangement

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar()


def test_the_package_holds_the_2026_autumn_schedule_the_tests_rely_on() -> None:
    # If a new chinesecalendar release changed these, the expectations below would be wrong.
    assert chinese_calendar.get_holiday_detail(date(2026, 9, 25)) == (True, "Mid-autumn Festival")
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 1)) == (True, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 7)) == (True, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 9, 20)) == (False, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 10)) == (False, "National Day")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 9, 18), True),  # ordinary Friday
        (date(2026, 9, 19), False),  # ordinary Saturday
        (date(2026, 9, 20), True),  # Sunday, adjusted workday
        (date(2026, 9, 25), False),  # Friday, Mid-Autumn
        (date(2026, 10, 1), False),  # Thursday, National Day
        (date(2026, 10, 5), False),  # Monday, National Day
        (date(2026, 10, 8), True),  # Thursday after the holiday
        (date(2026, 10, 10), True),  # Saturday, adjusted workday
        (date(2026, 10, 11), False),  # ordinary Sunday
    ],
)
def test_is_workday_follows_holidays_and_adjusted_workdays(
    calendar: WorkCalendar, day: date, working: bool
) -> None:
    assert calendar.is_workday(day) is working


def test_is_workday_refuses_a_datetime(calendar: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        calendar.is_workday(at(2026, 9, 21, 9))


def test_workday_seconds(calendar: WorkCalendar) -> None:
    assert calendar.workday_seconds == 27000  # 3.5 h + 4 h
    assert WorkCalendar.from_text("09:00-17:00").workday_seconds == 8 * HOUR


# --- add_working_seconds: concrete deadlines -------------------------------------------


def test_deadline_across_national_day_and_an_adjusted_saturday(calendar: WorkCalendar) -> None:
    # 3 working days = 81000 s from Wed 9-30 16:30: 1 h left on 9-30 (3600); 10-01..10-07 off;
    # Thu 10-08 and Fri 10-09 full (57600); Sat 10-10 is a workday: 23400 left = morning 12600
    # + 10800 from 13:30 -> 16:30.
    deadline = calendar.add_working_seconds(at(2026, 9, 30, 16, 30), 3 * 27000)
    assert deadline == at(2026, 10, 10, 16, 30)


def test_deadline_across_mid_autumn(calendar: WorkCalendar) -> None:
    # 1 working day from Thu 9-24 10:00: 2 h + 4 h = 21600 on 9-24; Fri-Sun 9-25..9-27 off;
    # 5400 left on Mon 9-28 from 08:30 -> 10:00.
    assert calendar.add_working_seconds(at(2026, 9, 24, 10), 27000) == at(2026, 9, 28, 10)


def test_an_adjusted_sunday_is_worked(calendar: WorkCalendar) -> None:
    # Saturday 9-19 is off, Sunday 9-20 is an adjusted workday: 2 h from its 08:30 -> 10:30
    # (on a plain Mon-Fri calendar it would be Monday 9-21 10:30).
    assert calendar.add_working_seconds(at(2026, 9, 19, 9), 2 * HOUR) == at(2026, 9, 20, 10, 30)


def test_lunch_break_is_not_counted(calendar: WorkCalendar) -> None:
    # Mon 9-21 11:00: 1 h to 12:00, lunch until 13:30, 1 h more -> 14:30.
    assert calendar.add_working_seconds(at(2026, 9, 21, 11), 2 * HOUR) == at(2026, 9, 21, 14, 30)
    assert calendar.working_seconds(at(2026, 9, 21, 11), at(2026, 9, 21, 14, 30)) == 2 * HOUR


def test_the_earliest_instant_is_the_end_of_the_morning_not_the_start_of_the_afternoon(
    calendar: WorkCalendar,
) -> None:
    # The morning is exactly 12600 s: the deadline is 12:00, not 13:30.
    assert calendar.add_working_seconds(at(2026, 9, 21, 8, 30), 12600) == at(2026, 9, 21, 12)


def test_a_start_after_hours_runs_from_the_next_morning(calendar: WorkCalendar) -> None:
    # Mon 18:00 is after hours; Tue 08:30 + 1 h -> 09:30.
    assert calendar.add_working_seconds(at(2026, 9, 21, 18), HOUR) == at(2026, 9, 22, 9, 30)
    # Mon 07:00 is before hours; 08:30 + 30 min -> 09:00.
    assert calendar.add_working_seconds(at(2026, 9, 21, 7), 1800) == at(2026, 9, 21, 9)
    # During lunch: the clock starts at 13:30.
    assert calendar.add_working_seconds(at(2026, 9, 21, 12, 45), 1800) == at(2026, 9, 21, 14)


def test_a_start_on_a_holiday_runs_from_the_first_working_day_after(calendar: WorkCalendar) -> None:
    # Sat 10-03 is in the National Day week; the first workday is Thu 10-08: 08:30 + 1 h.
    assert calendar.add_working_seconds(at(2026, 10, 3, 10), HOUR) == at(2026, 10, 8, 9, 30)


def test_zero_seconds_is_the_start_itself(calendar: WorkCalendar) -> None:
    start = at(2026, 10, 3, 10)  # even on a holiday
    assert calendar.add_working_seconds(start, 0) == start


def test_fractions_of_a_second_are_exact(calendar: WorkCalendar) -> None:
    start = at(2026, 9, 21, 9).replace(microsecond=250_000)
    assert calendar.add_working_seconds(start, 0.5) == start.replace(microsecond=750_000)


def test_results_are_in_the_calendars_timezone(calendar: WorkCalendar) -> None:
    # 01:00 UTC is 09:00 in Shanghai; + 1 h -> 10:00 Shanghai.
    result = calendar.add_working_seconds(datetime(2026, 9, 21, 1, tzinfo=UTC), HOUR)
    assert result == at(2026, 9, 21, 10)
    assert result.tzinfo == SHANGHAI
    assert result.hour == 10


def test_working_time_past_the_last_day_a_date_holds_is_refused(calendar: WorkCalendar) -> None:
    assert calendar.add_working_seconds(at(9999, 12, 30, 9), 27000) == at(9999, 12, 31, 9)
    with pytest.raises(OverflowError, match="runs past 9999-12-31"):
        calendar.add_working_seconds(at(9999, 12, 1, 9), 30 * 27000)


def test_negative_or_non_finite_seconds_are_refused(calendar: WorkCalendar) -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite number"):
            calendar.add_working_seconds(at(2026, 9, 21, 9), bad)


# --- working_seconds ---------------------------------------------------------------------


def test_working_seconds_over_the_national_day_fortnight(calendar: WorkCalendar) -> None:
    # 9-30 00:00 to 10-11 00:00: workdays 9-30, 10-08, 10-09, 10-10 (Sat, adjusted) = 4 days.
    assert calendar.working_seconds(at(2026, 9, 30), at(2026, 10, 11)) == 4 * 27000


def test_working_seconds_of_a_holiday_is_zero(calendar: WorkCalendar) -> None:
    assert calendar.working_seconds(at(2026, 10, 1), at(2026, 10, 8)) == 0


def test_working_seconds_is_zero_when_end_is_not_after_start(calendar: WorkCalendar) -> None:
    assert calendar.working_seconds(at(2026, 9, 21, 10), at(2026, 9, 21, 10)) == 0
    assert calendar.working_seconds(at(2026, 9, 21, 11), at(2026, 9, 21, 10)) == 0


def test_working_seconds_accepts_other_timezones(calendar: WorkCalendar) -> None:
    # 01:00-05:00 UTC = 09:00-13:00 Shanghai: 09:00-12:00 worked = 3 h.
    start, end = datetime(2026, 9, 21, 1, tzinfo=UTC), datetime(2026, 9, 21, 5, tzinfo=UTC)
    assert calendar.working_seconds(start, end) == 3 * HOUR


def test_working_seconds_over_months_is_quick_and_right(calendar: WorkCalendar) -> None:
    # 2026 starts on a Thursday: 52 weeks + 1 Thursday = 261 weekdays. Weekday holidays:
    # New Year 2, Spring Festival 6, Qingming 1, Labour Day 3, Dragon Boat 1, Mid-Autumn 1,
    # National Day 5 = 19. Adjusted weekend workdays: 1-04, 2-14, 2-28, 5-09, 9-20, 10-10 = 6.
    # 261 - 19 + 6 = 248 working days.
    assert sum(calendar.is_workday(date(2026, 1, 1) + timedelta(days=n)) for n in range(365)) == 248
    assert calendar.working_seconds(at(2026, 1, 1), at(2027, 1, 1)) == 248 * 27000


def test_naive_datetimes_are_refused(calendar: WorkCalendar) -> None:
    naive = datetime(2026, 9, 21, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.working_seconds(naive, at(2026, 9, 21, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.working_seconds(at(2026, 9, 21, 9), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add_working_seconds(naive, 60)


# --- years the package does not know -------------------------------------------------------


def test_unknown_years_fall_back_to_monday_to_friday(calendar: WorkCalendar) -> None:
    assert calendar.knows_year(2026)
    assert not calendar.knows_year(2030)
    # 2030-10-01 is a Tuesday: really National Day, but unknown, so a workday here.
    assert calendar.is_workday(date(2030, 10, 1))
    assert not calendar.is_workday(date(2030, 10, 5))  # Saturday
    # Fri 10-04 17:00: 30 min to 17:30; weekend; Mon 10-07 08:30 + 30 min -> 09:00.
    assert calendar.add_working_seconds(at(2030, 10, 4, 17), HOUR) == at(2030, 10, 7, 9)


def test_is_workday_agrees_with_the_package_on_every_day_it_knows(calendar: WorkCalendar) -> None:
    day = date(2004, 1, 1)
    while calendar.knows_year(day.year):
        assert calendar.is_workday(day) is chinese_calendar.is_workday(day), day
        day += timedelta(days=1)
    assert day == date(2027, 1, 1)


# --- the centre's loaded days ---------------------------------------------------------------


def test_loaded_days_decide_their_year_alone() -> None:
    calendar = WorkCalendar(days=TEST_DAYS)
    assert calendar.knows_year(2027) and not calendar.knows_year(2028)
    assert not calendar.is_workday(date(2027, 1, 4))  # a Monday, loaded as a day off
    assert calendar.is_workday(date(2027, 1, 9))  # a Saturday, loaded as worked
    assert calendar.is_workday(date(2027, 1, 5)) and not calendar.is_workday(date(2027, 1, 10))
    # 2026 is loaded too: its loaded days count, the package's do not.
    assert not calendar.is_workday(date(2026, 10, 12))
    assert calendar.is_workday(date(2026, 10, 5))  # National Day in the package, not here
    assert calendar.is_workday(date(2026, 2, 16))  # Spring Festival in the package, not here
    # Other years still come from the package.
    assert not calendar.is_workday(date(2025, 10, 1))
    # 4 working days from Thu 2026-12-31 08:30: 12-31, then 01-01 Fri, 01-04 off, 01-05, 01-06.
    assert calendar.add_working_seconds(at(2026, 12, 31, 8, 30), 4 * 27000) == at(2027, 1, 6, 17, 30)
    assert WorkCalendar().add_working_seconds(at(2026, 12, 31, 8, 30), 4 * 27000) == at(2027, 1, 5, 17, 30)


def test_loaded_days_are_copied_and_compared() -> None:
    days = dict(TEST_DAYS)
    calendar = WorkCalendar(days=days)
    days[date(2027, 3, 1)] = False
    assert calendar.is_workday(date(2027, 3, 1))
    assert calendar == WorkCalendar(days=TEST_DAYS) != WorkCalendar()
    assert hash(calendar) == hash(WorkCalendar())


def test_known_through_is_the_end_of_the_unbroken_run_of_known_years() -> None:
    assert WorkCalendar().known_through(date(2026, 11, 25)) == date(2026, 12, 31)
    assert WorkCalendar().known_through(date(2010, 5, 1)) == date(2026, 12, 31)
    assert WorkCalendar().known_through(date(2027, 1, 1)) is None
    assert WorkCalendar(days=TEST_DAYS).known_through(date(2026, 11, 25)) == date(2027, 12, 31)
    # A year loaded after a gap does not extend the run.
    gap = WorkCalendar(days={date(2028, 1, 3): False})
    assert gap.known_through(date(2026, 1, 1)) == date(2026, 12, 31)
    assert gap.known_through(date(2028, 6, 1)) == date(2028, 12, 31)


def test_known_years_are_the_packages_and_the_loaded_ones() -> None:
    assert WorkCalendar().known_years() == list(range(2004, 2027))
    assert WorkCalendar(days={date(2029, 1, 1): False}).known_years() == [*range(2004, 2027), 2029]


def test_the_packages_arrangement_of_a_year() -> None:
    days = official_arrangement(2026)
    assert days is not None and days == sorted(days, key=lambda d: d.day)
    assert ArrangedDay(date(2026, 2, 15), False, "春节") in days  # a Sunday of the holiday, listed too
    assert ArrangedDay(date(2026, 9, 20), True, "国庆节调休上班") in days
    assert {d.name for d in days if not d.working} == {
        "元旦",
        "春节",
        "清明节",
        "劳动节",
        "端午节",
        "中秋节",
        "国庆节",
    }
    assert official_arrangement(2027) is None


def test_disagreements_with_the_package_name_the_days() -> None:
    days = official_arrangement(2026)
    assert days is not None and disagreements(2026, days) == []
    moved = [d for d in days if d.day != date(2026, 10, 10)] + [
        ArrangedDay(date(2026, 10, 9), False, "国庆节")
    ]
    assert disagreements(2026, moved) == [date(2026, 10, 9), date(2026, 10, 10)]
    assert disagreements(2026, []) == sorted(d.day for d in days if d.working != (d.day.weekday() < 5))
    assert disagreements(2027, [ArrangedDay(date(2027, 1, 4), False, "测试假日")]) == []


# --- periods as text -------------------------------------------------------------------------


def test_from_text_reads_the_default_periods() -> None:
    assert WorkCalendar.from_text("08:30-12:00,13:30-17:30") == WorkCalendar()
    assert WorkCalendar.from_text(" 8:30 - 12:00 ， 13:30-17:30 ") == WorkCalendar()


def test_from_text_takes_a_timezone() -> None:
    calendar = WorkCalendar.from_text("09:00-17:00", "Asia/Urumqi")
    assert calendar.timezone == ZoneInfo("Asia/Urumqi")
    assert calendar.periods == ((time(9), time(17)),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not written as HH:MM-HH:MM"),
        ("08:30", "not written as HH:MM-HH:MM"),
        ("08:30-12:00,", "period 2"),
        ("8h-12h", "not written as HH:MM-HH:MM"),
        ("08:30-24:00", "not a time of day"),
        ("08:30-12:61", "not a time of day"),
        ("12:00-08:30", "must end after it starts"),
        ("08:30-08:30", "must end after it starts"),
        ("22:00-06:00", "across midnight"),
        ("08:30-12:00,11:00-13:00", "overlaps period 1"),
        ("13:30-17:30,08:30-12:00", "in order of the day"),
    ],
)
def test_from_text_refuses_bad_periods(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        WorkCalendar.from_text(text)
    assert repr(text) in str(raised.value)


def test_from_text_refuses_an_unknown_timezone() -> None:
    with pytest.raises(ValueError, match="IANA timezone"):
        WorkCalendar.from_text("08:30-12:00", "Mars/Olympus_Mons")


def test_the_constructor_checks_periods_too() -> None:
    with pytest.raises(ValueError, match="at least one"):
        WorkCalendar(periods=())
    with pytest.raises(ValueError, match="overlaps"):
        WorkCalendar(periods=((time(8), time(12)), (time(11), time(13))))


def test_touching_periods_are_allowed() -> None:
    calendar = WorkCalendar.from_text("08:00-12:00,12:00-13:00")
    assert calendar.workday_seconds == 5 * HOUR
    # 11:00 + 2 h runs straight through 12:00.
    assert calendar.add_working_seconds(at(2026, 9, 21, 11), 2 * HOUR) == at(2026, 9, 21, 13)


# --- round trip ----------------------------------------------------------------------------


def test_round_trip_add_then_measure() -> None:
    """For random starts (holidays, weekends, nights, lunch, 2025 to the unknown 2027) and
    amounts up to ~40 working days: the result measures back exactly, and is the earliest."""
    rng = random.Random(20261001)
    calendars = [
        WorkCalendar(),
        WorkCalendar.from_text("09:00-12:00,14:00-18:00,19:00-21:00"),
        # A zone with DST, periods spanning its 02:00-03:00 shifts: arithmetic must stay in UTC.
        WorkCalendar.from_text("00:30-03:30,10:00-11:00", "Europe/Berlin"),
    ]
    origin = at(2025, 9, 1)
    for _ in range(400):
        calendar = rng.choice(calendars)
        start = origin + timedelta(
            seconds=rng.randrange(0, 2 * 365 * 86400), microseconds=rng.randrange(10**6)
        )
        seconds = rng.choice([rng.randrange(0, 40 * 27000), rng.randrange(0, 10**6) / 10**6])
        end = calendar.add_working_seconds(start, seconds)
        assert end >= start
        assert calendar.working_seconds(start, end) == seconds
        if seconds > 0:
            assert calendar.working_seconds(start, end - timedelta(microseconds=1)) < seconds


# --- the fast arithmetic against a day-by-day walk -----------------------------------------


def walked_seconds(calendar: WorkCalendar, start: datetime, end: datetime) -> float:
    """Working seconds in [start, end), walking every day and period: the plain definition."""
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    if end_utc <= start_utc:
        return 0.0
    total, day = timedelta(), start.astimezone(calendar.timezone).date()
    while day <= end.astimezone(calendar.timezone).date():
        for begin, finish in walked_periods(calendar, day):
            overlap = min(finish, end_utc) - max(begin, start_utc)
            total += max(overlap, timedelta())
        day += timedelta(days=1)
    return total.total_seconds()


def walked_deadline(calendar: WorkCalendar, start: datetime, seconds: float) -> datetime:
    """The earliest instant with ``seconds`` of working time since ``start``, walking day by day."""
    remaining, start_utc = timedelta(seconds=seconds), start.astimezone(UTC)
    if remaining == timedelta():
        return start.astimezone(calendar.timezone)
    day = start.astimezone(calendar.timezone).date()
    while True:
        for begin, finish in walked_periods(calendar, day):
            begin = max(begin, start_utc)
            if begin < finish:
                if remaining <= finish - begin:
                    return (begin + remaining).astimezone(calendar.timezone)
                remaining -= finish - begin
        day += timedelta(days=1)


def walked_periods(calendar: WorkCalendar, day: date) -> list[tuple[datetime, datetime]]:
    if not calendar.is_workday(day):
        return []
    zone = calendar.timezone
    return [
        (
            datetime.combine(day, a, tzinfo=zone).astimezone(UTC),
            datetime.combine(day, b, tzinfo=zone).astimezone(UTC),
        )
        for a, b in calendar.periods
    ]


#: Made-up arrangements, for testing only: a weekday off and a Saturday worked in 2027, and a
#: 2026 that moves National Day (loaded years replace the package's).
TEST_DAYS = {
    date(2027, 1, 4): False,
    date(2027, 1, 9): True,
    date(2027, 2, 8): False,
    date(2027, 2, 9): False,
    date(2027, 2, 20): True,
    date(2026, 10, 1): False,
    date(2026, 10, 2): False,
    date(2026, 10, 12): False,
    date(2026, 10, 10): True,
}


def offset_changes(zone: str, *years: int) -> dict[date, bool]:
    """Every day of ``years`` on which ``zone`` changes its UTC offset, as a worked day: most
    zones change on a Sunday, which would otherwise never be a working day."""
    tz, changes = ZoneInfo(zone), {}
    for year in years:
        day = date(year, 1, 1)
        while day.year == year:
            tomorrow = day + timedelta(days=1)
            if (
                datetime.combine(day, time(), tz).utcoffset()
                != datetime.combine(tomorrow, time(), tz).utcoffset()
            ):
                changes[day] = True
            day = tomorrow
    return changes


ERAS = [(1986, 1991), (2016, 2021), (2025, 2027), (2026, 2027), (2099, 2101), (2599, 2601), (9980, 9990)]
CHANGE_YEARS = [year for first, last in ERAS for year in range(first, last + 4)]

CALENDARS = [
    WorkCalendar(),
    WorkCalendar(days=TEST_DAYS),
    WorkCalendar.from_text("09:00-12:00,14:00-18:00,19:00-21:00", "Asia/Urumqi"),
    # Shanghai kept summer time 1986-1991, changing at 02:00: a period across it is uneven.
    WorkCalendar.from_text("01:30-02:30,08:30-12:00", "Asia/Shanghai"),
    # Zones with daylight saving, with periods across their changes (02:00/03:00 in Berlin,
    # midnight in Santiago and Tehran, half an hour on Lord Howe Island); their change days
    # worked, so that uneven working days occur.
    *(
        WorkCalendar(
            timezone=calendar.timezone, periods=calendar.periods, days=offset_changes(zone, *CHANGE_YEARS)
        )
        for zone, calendar in (
            ("Asia/Shanghai", WorkCalendar.from_text("01:30-02:30,08:30-12:00", "Asia/Shanghai")),
            ("Europe/Berlin", WorkCalendar.from_text("00:30-03:30,10:00-11:00", "Europe/Berlin")),
            (
                "America/Santiago",
                WorkCalendar.from_text("00:00-01:30,09:00-12:00,23:00-23:59", "America/Santiago"),
            ),
            ("Australia/Lord_Howe", WorkCalendar.from_text("01:00-03:00,09:00-17:00", "Australia/Lord_Howe")),
            ("Asia/Tehran", WorkCalendar.from_text("00:00-02:00,08:00-12:00", "Asia/Tehran")),
        )
    ),
]


def random_instant(rng: random.Random, calendar: WorkCalendar, first_year: int, last_year: int) -> datetime:
    """A day in the years given, at a random second or at (or next to) a period's edge."""
    day = date(first_year, 1, 1) + timedelta(
        days=rng.randrange((date(last_year, 12, 31) - date(first_year, 1, 1)).days)
    )
    if rng.random() < 0.5:
        moment = time(
            rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.choice([0, rng.randrange(10**6)])
        )
        return datetime.combine(day, moment, tzinfo=calendar.timezone)
    edge = datetime.combine(day, rng.choice(rng.choice(calendar.periods)), tzinfo=calendar.timezone)
    return edge + rng.choice(
        [timedelta(), timedelta(microseconds=1), -timedelta(microseconds=1), timedelta(seconds=1)]
    )


def test_fast_arithmetic_equals_the_day_by_day_walk() -> None:
    """Random spans (holidays, 调休, loaded days, unknown years, daylight saving, far years;
    starts and ends inside, outside and at the edges of periods; empty and reversed spans):
    the counted result equals the walked one exactly, both ways."""
    rng = random.Random(20261125)
    spans = [0, 1, 600, 9 * HOUR, 3 * 86400, 40 * 86400, 400 * 86400, 3 * 365 * 86400]
    for _ in range(1500):
        calendar = rng.choice(CALENDARS)
        start = random_instant(rng, calendar, *rng.choice(ERAS))
        span = rng.choice(spans)
        if rng.random() < 0.2:  # an end at or next to a period's edge, or reversed
            end = random_instant(rng, calendar, start.year, start.year)
        else:
            end = start + timedelta(seconds=rng.uniform(-span / 10, span))
        assert calendar.working_seconds(start, end) == walked_seconds(calendar, start, end), (start, end)
        seconds = rng.choice([0, 0.5, 27000, rng.uniform(0, span / 10), rng.randrange(span // 10 + 1)])
        assert calendar.add_working_seconds(start, seconds) == walked_deadline(calendar, start, seconds), (
            start,
            seconds,
        )


def test_fast_arithmetic_over_decades_equals_the_walk() -> None:
    calendar = WorkCalendar(days=TEST_DAYS)
    start, end = at(2003, 6, 1, 10, 15), at(2061, 3, 1, 9)
    seconds = walked_seconds(calendar, start, end)
    assert calendar.working_seconds(start, end) == seconds
    assert calendar.add_working_seconds(start, seconds) == walked_deadline(calendar, start, seconds)


def test_a_span_to_the_year_9999_looks_at_a_handful_of_days(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost of a span does not grow with it: a few days are looked up (the first, the last,
    the one a deadline falls on), whether the span is a day or eight thousand years."""
    looked_up: list[date] = []
    is_workday, utc_periods = WorkCalendar.is_workday, calendar_module._utc_periods

    def counted_is_workday(calendar: WorkCalendar, day: date) -> bool:
        looked_up.append(day)
        return is_workday(calendar, day)

    def counted_utc_periods(zone: ZoneInfo, periods: Any, day: date) -> Any:
        looked_up.append(day)
        return utc_periods(zone, periods, day)

    monkeypatch.setattr(WorkCalendar, "is_workday", counted_is_workday)
    monkeypatch.setattr(calendar_module, "_utc_periods", counted_utc_periods)
    calendar = WorkCalendar(days=TEST_DAYS)
    start, far = at(2026, 11, 25, 10), datetime(9999, 12, 31, tzinfo=UTC)
    seconds = calendar.working_seconds(start, far)
    assert len(looked_up) < 10
    looked_up.clear()
    assert calendar.add_working_seconds(start, seconds) == at(9999, 12, 30, 17, 30)
    assert len(looked_up) < 10
    # Wed 2026-11-25 10:00 to 2027: 6 hours and 26 working days (2026 is loaded, so only
    # Monday to Friday); 2027 as loaded: 261 weekdays, 3 off, 2 worked; 2028-01-01 to
    # 9999-12-31 08:00 (before the day's first period) Monday to Friday, counted by weeks.
    weeks, rest = divmod((date(9999, 12, 31) - date(2028, 1, 1)).days, 7)
    first_of_rest = date(2028, 1, 1) + timedelta(weeks=weeks)
    weekdays = 5 * weeks + sum((first_of_rest + timedelta(n)).weekday() < 5 for n in range(rest))
    assert seconds == 6 * HOUR + (26 + 260 + weekdays) * 27000
