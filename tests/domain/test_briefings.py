"""The briefings' periods: what a daily, weekly and monthly briefing covers, what it is
compared with, and when a schedule's briefing falls due."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicgrid.domain.briefings import (
    CATCH_UP,
    BriefingKind,
    default_day,
    due_periods,
    period_of,
    previous_period,
    require_past,
    same_length,
    year_earlier,
)
from civicgrid.domain.errors import InvalidInput

SH = ZoneInfo("Asia/Shanghai")
D, W, M = BriefingKind.DAILY, BriefingKind.WEEKLY, BriefingKind.MONTHLY


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def test_each_kind_covers_its_day_week_or_month_with_a_label_in_the_centres_words() -> None:
    day = period_of(D, date(2026, 11, 25), SH)
    assert (day.start, day.end, day.label) == (at(2026, 11, 25), at(2026, 11, 26), "2026年11月25日（星期三）")
    week = period_of(W, date(2026, 11, 25), SH)
    assert (week.start, week.end) == (at(2026, 11, 23), at(2026, 11, 30))
    assert week.label == "2026年第48周（11月23日—11月29日）"
    month = period_of(M, date(2026, 11, 25), SH)
    assert (month.start, month.end, month.label) == (at(2026, 11, 1), at(2026, 12, 1), "2026年11月")


@pytest.mark.parametrize(
    ("kind", "day", "before", "year_before"),
    [
        (D, date(2026, 3, 1), date(2026, 2, 28), date(2025, 3, 1)),
        # 29 February: the same day a year earlier is the 28th.
        (D, date(2028, 2, 29), date(2028, 2, 28), date(2027, 2, 28)),
        (W, date(2026, 1, 7), date(2025, 12, 29), date(2025, 1, 6)),
        # ISO week 53 of 2026 has no twin in 2025 (52 weeks): week 52 stands in.
        (W, date(2026, 12, 31), date(2026, 12, 21), date(2025, 12, 22)),
        (M, date(2026, 1, 15), date(2025, 12, 1), date(2025, 1, 1)),
        (M, date(2026, 3, 31), date(2026, 2, 1), date(2025, 3, 1)),
    ],
)
def test_the_period_before_and_the_same_period_a_year_earlier(
    kind: BriefingKind, day: date, before: date, year_before: date
) -> None:
    period = period_of(kind, day, SH)
    assert previous_period(kind, period).start.date() == before
    assert year_earlier(kind, period).start.date() == year_before


def test_a_period_under_way_is_compared_with_the_same_stretch_of_the_other() -> None:
    november = period_of(M, date(2026, 11, 10), SH)
    october = previous_period(M, november)
    cut = same_length(october, november, at(2026, 11, 26, 9, 30))
    assert (cut.start, cut.end, cut.label) == (at(2026, 10, 1), at(2026, 10, 26, 9, 30), "2026年10月")
    # Once the period is over, the whole of the other one counts.
    assert same_length(october, november, at(2026, 12, 2)) == october
    # February is shorter than the stretch of March: cut to its own end.
    march = period_of(M, date(2026, 3, 31), SH)
    assert same_length(previous_period(M, march), march, at(2026, 3, 31, 12)).end == at(2026, 3, 1)


def test_the_default_day_is_yesterday_and_a_future_day_is_refused() -> None:
    morning = at(2026, 12, 1, 8)
    assert default_day(morning, SH) == date(2026, 11, 30)
    # Just after midnight UTC it is already morning in Shanghai.
    assert default_day(datetime.fromisoformat("2026-12-01T00:30+00:00"), SH) == date(2026, 11, 30)
    assert require_past(date(2026, 12, 1), morning, SH) == date(2026, 12, 1)
    with pytest.raises(InvalidInput, match="future"):
        require_past(date(2026, 12, 2), morning, SH)
    with pytest.raises(InvalidInput, match="before 1970-01-01"):
        require_past(date(1, 1, 1), morning, SH)


def test_a_daily_briefing_falls_due_at_its_hour_on_the_next_morning() -> None:
    made = at(2026, 11, 20, 15)
    assert due_periods(D, 8, made, at(2026, 11, 21, 7, 59), SH) == []
    due = due_periods(D, 8, made, at(2026, 11, 21, 8), SH)
    assert [(d.period.start, d.due_at) for d in due] == [(at(2026, 11, 20), at(2026, 11, 21, 8))]


def test_a_weekly_briefing_falls_due_on_monday_and_a_monthly_one_on_the_first() -> None:
    made = at(2026, 11, 1, 9)
    weekly = due_periods(W, 8, made, at(2026, 11, 30, 8, 5), SH)
    assert [d.period.start.date() for d in weekly] == [
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
    ]
    assert weekly[-1].due_at == at(2026, 11, 30, 8)
    # The week that held the schedule's making (ended 1 Nov) counts too: it ended after it.
    assert due_periods(W, 8, at(2026, 10, 30), at(2026, 11, 2, 9), SH)[0].period.start.date() == date(
        2026, 10, 26
    )
    monthly = due_periods(M, 6, made, at(2026, 12, 1, 6), SH)
    assert [(d.period.label, d.due_at) for d in monthly] == [("2026年11月", at(2026, 12, 1, 6))]
    assert due_periods(M, 6, made, at(2026, 12, 1, 5, 59), SH) == []


def test_missed_periods_are_made_up_for_a_few_at_most_oldest_first() -> None:
    made = at(2026, 1, 1)
    due = due_periods(D, 8, made, at(2026, 11, 26, 9), SH)
    assert len(due) == CATCH_UP[D]
    assert [d.period.start.date() for d in due] == [
        date(2026, 11, 25) - timedelta(days=n) for n in reversed(range(CATCH_UP[D]))
    ]


def test_an_hour_outside_the_day_is_refused() -> None:
    with pytest.raises(InvalidInput, match="0–23"):
        due_periods(D, 24, at(2026, 1, 1), at(2026, 2, 1), SH)
